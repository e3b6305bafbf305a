// Command producer is the demo's sample application in south-america: it
// writes Loosehanger-style order events (JSON with an order number) to
// LH.ORDERS, LH.CANCELLATIONS and LH.STOCK on the active cluster, creating the
// topics when they are missing.
//
// It follows the agent's discovery answer: every 500 ms it asks which cluster
// is active, and when the cluster or the epoch changes it closes its client
// and carries on against the new bootstrap servers. An order counts as
// produced once a cluster acknowledged it; an order whose acknowledgement
// never came is written again to the new cluster.
//
//	producer -n 1500 -every 20ms -agent http://127.0.0.1:18080 -token-file token
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/examples/three-region-failover/discovery"
)

var topics = []string{"LH.ORDERS", "LH.CANCELLATIONS", "LH.STOCK"}

func main() {
	n := flag.Int("n", 300, "orders to produce")
	rate := flag.Duration("every", 10*time.Millisecond, "pause between orders")
	bootstrap := flag.String("bootstrap", "", "write to these bootstrap servers and do not ask the agent")
	watcher := discovery.Flags()
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("producer: ")
	ctx := context.Background()

	cur := discovery.Active{Cluster: *bootstrap, BootstrapServers: strings.Split(*bootstrap, ",")}
	var changes <-chan discovery.Active
	if *bootstrap == "" {
		w, err := watcher()
		if err != nil {
			log.Fatal(err)
		}
		if cur, err = w.First(ctx); err != nil {
			log.Fatal(err)
		}
		changes = w.Watch(ctx, cur)
	}
	log.Printf("writing to %s %v (epoch %d)", cur.Cluster, cur.BootstrapServers, cur.Epoch)
	cl := connect(ctx, cur)

	acked := map[string]int{}
	var order []string // clusters in the order they were used
	for i := 1; i <= *n; {
		id := fmt.Sprintf("LH-%06d", i)
		value := fmt.Sprintf(`{"order":%q,"item":"loosehanger-%d","quantity":%d,"at":%q}`, id, i%7, 1+i%3, time.Now().UTC().Format(time.RFC3339Nano))
		rec := &kgo.Record{Topic: topics[i%len(topics)], Key: []byte(id), Value: []byte(value),
			Headers: []kgo.RecordHeader{{Key: "app", Value: []byte("south-america-producer")}}}
		done := make(chan error, 1)
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })

		var err error
		select {
		case err = <-done:
		case next := <-changes:
			log.Printf("discovery: %s is active (epoch %d); reconnecting to %v", next.Cluster, next.Epoch, next.BootstrapServers)
			closeClient(cl) // fails the pending order unless it was acknowledged
			select {
			case err = <-done:
			case <-time.After(time.Second):
				err = errors.New("no answer")
			}
			if err != nil {
				err = fmt.Errorf("%s is not acknowledged by %s; writing it to %s", id, cur.Cluster, next.Cluster)
			} else {
				count(acked, &order, cur.Cluster)
				i++
				err = errSwitched
			}
			cur, cl = next, connect(ctx, next)
		}
		if err != nil {
			if err != errSwitched {
				log.Print(err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		count(acked, &order, cur.Cluster)
		if i%100 == 0 {
			log.Printf("%d orders written (last to %s)", i, cur.Cluster)
		}
		i++
		time.Sleep(*rate)
	}
	closeClient(cl)
	var parts []string
	for _, c := range order {
		parts = append(parts, fmt.Sprintf("acked[%s]=%d", c, acked[c]))
	}
	fmt.Printf("producer summary: orders=%d %s\n", *n, strings.Join(parts, " "))
}

var errSwitched = errors.New("switched")

func count(acked map[string]int, order *[]string, cluster string) {
	if _, ok := acked[cluster]; !ok {
		*order = append(*order, cluster)
	}
	acked[cluster]++
}

// connect makes a client for the active cluster and creates the topics.
func connect(ctx context.Context, a discovery.Active) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.BootstrapServers...))
	if err != nil {
		log.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopics(cctx, 3, -1, nil, topics...)
	if err != nil {
		log.Printf("create topics on %s: %v", a.Cluster, err)
		return cl
	}
	for _, r := range resp {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			log.Printf("create %s on %s: %v", r.Topic, a.Cluster, r.Err)
		}
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
