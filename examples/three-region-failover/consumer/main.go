// Command consumer is the demo's sample consumer in south-america: it reads
// LH.ORDERS, LH.CANCELLATIONS and LH.STOCK in group consumer-southamerica,
// logs each record it handles and commits after each batch.
//
// It follows the agent's discovery answer: every 500 ms it asks which cluster
// is active, and when the cluster or the epoch changes it closes its client
// and joins the group on the new cluster, where it resumes from the group's
// committed offsets (translated by the agent).
//
// It stops after -duration, after -n records, or on SIGINT/SIGTERM, and
// prints a summary line: records read per cluster, duplicates (an order
// number read twice), and the time of the first record on each cluster.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/examples/three-region-failover/discovery"
)

var topics = []string{"LH.ORDERS", "LH.CANCELLATIONS", "LH.STOCK"}

func main() {
	group := flag.String("group", "consumer-southamerica", "consumer group")
	n := flag.Int("n", 0, "stop after this many records (0: no limit)")
	duration := flag.Duration("duration", 2*time.Minute, "stop after this long")
	quiet := flag.Bool("quiet", false, "do not log each record")
	watcher := discovery.Flags()
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("consumer: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	w, err := watcher()
	if err != nil {
		log.Fatal(err)
	}
	cur, err := w.First(ctx)
	if err != nil {
		log.Fatal(err)
	}
	changes := w.Watch(ctx, cur)
	log.Printf("reading from %s %v (epoch %d) in group %s", cur.Cluster, cur.BootstrapServers, cur.Epoch, *group)
	cl := connect(cur, *group)

	s := stats{records: map[string]int{}, first: map[string]time.Time{}, seen: map[string]int{}}
	for ctx.Err() == nil && (*n == 0 || s.total < *n) {
		select {
		case next := <-changes:
			log.Printf("discovery: %s is active (epoch %d); joining the group on %v", next.Cluster, next.Epoch, next.BootstrapServers)
			closeClient(cl)
			cur, cl = next, connect(next, *group)
			continue
		default:
		}
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		pcancel()
		fetches.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil && pctx.Err() == nil {
				log.Printf("fetch %s/%d: %v", t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			order := s.handle(cur.Cluster, r)
			if !*quiet {
				log.Printf("%s %s/%d@%d %s", cur.Cluster, r.Topic, r.Partition, r.Offset, order)
			}
		})
		if fetches.NumRecords() > 0 {
			cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				log.Printf("commit on %s: %v", cur.Cluster, err)
			}
			ccancel()
		}
	}
	closeClient(cl)
	fmt.Println(s.summary())
}

type stats struct {
	total, duplicates int
	clusters          []string // in the order they were read
	records           map[string]int
	first             map[string]time.Time
	seen              map[string]int // order number -> times read
}

func (s *stats) handle(cluster string, r *kgo.Record) string {
	var v struct {
		Order string `json:"order"`
	}
	_ = json.Unmarshal(r.Value, &v)
	if v.Order == "" {
		v.Order = string(r.Key)
	}
	if _, ok := s.first[cluster]; !ok {
		s.first[cluster] = time.Now()
		s.clusters = append(s.clusters, cluster)
	}
	s.total++
	s.records[cluster]++
	if s.seen[v.Order]++; s.seen[v.Order] > 1 {
		s.duplicates++
	}
	return v.Order
}

// summary is one line, key=value, for people and for scripts.
func (s *stats) summary() string {
	parts := []string{fmt.Sprintf("records=%d", s.total), fmt.Sprintf("duplicates=%d", s.duplicates)}
	for _, c := range s.clusters {
		parts = append(parts, fmt.Sprintf("records[%s]=%d", c, s.records[c]),
			fmt.Sprintf("first[%s]=%s", c, s.first[c].UTC().Format("15:04:05.000")),
			fmt.Sprintf("first_ms[%s]=%d", c, s.first[c].UnixMilli()))
	}
	return "consumer summary: " + strings.Join(parts, " ")
}

func connect(a discovery.Active, group string) *kgo.Client {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(a.BootstrapServers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.MetadataMinAge(time.Second), kgo.MetadataMaxAge(2*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	return cl
}

// closeClient closes a client without waiting long for a lost cluster.
func closeClient(cl *kgo.Client) {
	done := make(chan struct{})
	go func() { cl.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}
