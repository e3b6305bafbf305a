package mirror

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
)

// runnerOpts are the target options a mirror's runner shares among its
// tasks: kafkaconn's, with SCRAM and the observer, as the agent has them.
func runnerOpts(t *testing.T, k kafkatest.Kafka) []kgo.Opt {
	t.Helper()
	d := k.Declared()
	opts, err := kafkaconn.Opts(kafkaconn.Conn{
		Name: d.Name, BootstrapServers: d.BootstrapServers,
		SASLMechanism: d.SASL.Mechanism, SASLUsername: d.SASL.Username, SASLPassword: d.SASL.Password,
		TLS: true, CAPEM: d.TLS.CAPEM, CertPEM: d.TLS.CertPEM, KeyPEM: d.TLS.KeyPEM,
		Observer: kafkaconn.NewObserver(slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// The tasks of a mirror start together, and each reads the committed syncs
// of its own partition of the offset-sync topic with the target options
// their runner shares: kafkaconn's, and options a caller built with room to
// grow. Each read sees its own partition only and reaches its end. Issue
// 16's liveness stall: a read built its client while another task built its
// own from the same options, took the other's partition, and waited for its
// own end while that partition's records kept coming.
func TestTasksStartingTogetherEachReadTheirOwnOffsetSyncsToTheEnd(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		dst := kafkatest.NewClusterOfKind(t, kind, "europe", kafkatest.ClusterOptions{Secure: true})
		roomy := make([]kgo.Opt, 0, 16)
		roomy = append(roomy, dst.ClientOpts()...)
		t.Run("kafkaconn's", func(t *testing.T) { readTogether(t, runnerOpts(t, dst), "na-to-eu") })
		t.Run("a caller's with room to grow", func(t *testing.T) {
			readTogether(t, append(roomy, kgo.SeedBrokers(dst.Bootstrap()...)), "sa-to-eu")
		})
	})
}

// readTogether seeds the syncs of mirror, of 4 tasks, with opts, then has
// the 4 tasks read their partitions at once, round after round.
func readTogether(t *testing.T, opts []kgo.Opt, mirror string) {
	const tasksMax = 4
	m := agentapi.Mirror{Name: mirror, Source: "north-america", Target: "europe", TasksMax: tasksMax}
	var syncs []offsetsync.Sync
	want := map[int32]int{}
	for p := range int32(4 * tasksMax) {
		syncs = append(syncs, offsetsync.Sync{Topic: "LH.ORDERS", Partition: p, TargetTopic: "LH.ORDERS",
			Runs: []offsetsync.Run{{Source: 0, Target: 0, Count: 10}}, SourceNext: 10})
		want[int32(TaskOf("LH.ORDERS", p, tasksMax))]++
	}
	ctx := context.Background()
	if err := SeedSyncs(ctx, opts, m, syncs, recordformat.First); err != nil {
		t.Fatal(err)
	}

	const rounds = 20
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, tasksMax)
		start := make(chan struct{})
		for task := range int32(tasksMax) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				read := 0
				// A read that took another task's partition fails at once, or
				// after syncReadStall (20 s) when it waits at its own end.
				rctx, cancel := context.WithTimeout(ctx, 2*syncReadStall)
				defer cancel()
				err := readCommittedSyncs(rctx, opts, m.Name, map[int32]bool{task: true}, func(p int32, s offsetsync.Sync) error {
					if p != task {
						return fmt.Errorf("a sync of partition %d (%s[%d])", p, s.Topic, s.Partition)
					}
					read++
					return nil
				})
				if err == nil && read != want[task] {
					err = fmt.Errorf("%d syncs, want %d", read, want[task])
				}
				if err != nil {
					errs[task] = fmt.Errorf("the read of partition %d: %w", task, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d of %d, %d tasks reading at once: %v", round+1, rounds, tasksMax, err)
			}
		}
	}
}

// syncTopicOn starts a cluster of kind with the offset-sync topic of mirror
// in n partitions, and answers it with options to reach it and the topic.
func syncTopicOn(t *testing.T, kind, mirror string, n int32) (kafkatest.Kafka, []kgo.Opt, string) {
	t.Helper()
	dst := kafkatest.NewClusterOfKind(t, kind, "europe", kafkatest.ClusterOptions{})
	topic := offsetsync.Topic(mirror)
	kafkatest.CreateTopic(t, dst.Bootstrap(), topic, n, nil, dst.ClientOpts()...)
	return dst, append(dst.ClientOpts(), kgo.SeedBrokers(dst.Bootstrap()...)), topic
}

// A partition of the offset-sync topic whose last entries are transaction
// markers (a commit marker; an aborted transaction and its abort marker; a
// transaction open when the read listed the end, aborted by a fence later)
// is read to its end on both kinds of cluster: franz-go hands the markers
// over (KeepControlRecords), so the read's position passes the offsets
// that markers and aborted records hold.
func TestAReadOfOffsetSyncsReachesAnEndThatTransactionMarkersHold(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		const mirror = "na-to-eu"
		dst, opts, topic := syncTopicOn(t, kind, mirror, 3)
		ctx := context.Background()
		writer := func(id string) *kgo.Client {
			return kafkatest.ClientOf(t, dst, kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		}
		// txn writes a record to p in a transaction that it commits,
		// aborts, or (open) leaves open.
		txn := func(cl *kgo.Client, p int32, end string) {
			t.Helper()
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("a record")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if end != "open" {
				if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(end == "commit")); err != nil {
					t.Fatal(err)
				}
			}
		}
		txn(writer("committed"), 0, "commit") // partition 0 ends in a commit marker
		aborts := writer("aborted")
		txn(aborts, 1, "commit")
		txn(aborts, 1, "abort")          // partition 1 ends in an aborted transaction
		txn(writer("fenced"), 2, "open") // partition 2: open when the read lists its end

		fenced := make(chan error, 1)
		go func() {
			time.Sleep(time.Second) // the read is waiting at the open transaction
			fenced <- fenceIDs(ctx, opts, []string{"fenced"})
		}()
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		read := map[int32]int{}
		err := readSyncTopic(rctx, opts, mirror, kgo.ReadCommitted(), nil, func(r *kgo.Record) error {
			read[r.Partition]++
			return nil
		})
		if ferr := <-fenced; ferr != nil {
			t.Fatal(ferr)
		}
		if err != nil {
			t.Fatalf("read to the end: %v", err)
		}
		if want := map[int32]int{0: 1, 1: 1}; fmt.Sprint(read) != fmt.Sprint(want) { // fmt sorts map keys
			t.Fatalf("records read per partition: %v, want %v (committed ones only)", read, want)
		}
	})
}

// A partition of the offset-sync topic whose records were all deleted
// (DeleteRecords up to its end: its log start is its end) holds nothing to
// read: the read does not wait for a record there.
func TestAReadOfOffsetSyncsPassesAPartitionWhoseRecordsWereAllDeleted(t *testing.T) {
	shortSyncReadStall(t)
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		const mirror = "na-to-eu"
		dst, opts, topic := syncTopicOn(t, kind, mirror, 2)
		cl := kafkatest.ClientOf(t, dst, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		ctx := context.Background()
		for p := range int32(2) {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("a record")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		deleted, err := kadm.NewClient(cl).DeleteRecords(ctx, kadm.Offsets{topic: {0: {At: 1}}})
		if err == nil {
			err = deleted.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		read := map[int32]int{}
		if err := readSyncTopic(rctx, opts, mirror, kgo.ReadCommitted(), nil, func(r *kgo.Record) error {
			read[r.Partition]++
			return nil
		}); err != nil {
			t.Fatalf("read to the end: %v", err)
		}
		if want := map[int32]int{1: 1}; fmt.Sprint(read) != fmt.Sprint(want) {
			t.Fatalf("records read per partition: %v, want %v", read, want)
		}
	})
}
