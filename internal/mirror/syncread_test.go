package mirror

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// shortSyncReadStall makes syncReadStall 2 s for the test.
func shortSyncReadStall(t *testing.T) {
	was := syncReadStall
	syncReadStall = 2 * time.Second
	t.Cleanup(func() { syncReadStall = was })
}

// stuckSyncTopic creates the mirror's offset-sync topic with n partitions on
// a dev cluster and leaves a transaction open on partition 0, which holds
// its last stable offset below its end.
func stuckSyncTopic(t *testing.T, mirror string, n int32) []string {
	t.Helper()
	dst := kafkatest.Cluster(t, "europe").Bootstrap()
	topic := offsetsync.Topic(mirror)
	kafkatest.CreateTopic(t, dst, topic, n, nil)
	open := kafkatest.Client(t, dst, kgo.TransactionalID("an-open-transaction"), kgo.TransactionTimeout(time.Minute),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: 0, Value: []byte("never committed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// readStuck reads the committed syncs of every partition and answers the
// time the read took and its error.
func readStuck(ctx context.Context, dst []string, mirror string) (time.Duration, error) {
	start := time.Now()
	err := readCommittedSyncs(ctx, []kgo.Opt{kgo.SeedBrokers(dst...)}, mirror, nil, func(int32, offsetsync.Sync) error { return nil })
	return time.Since(start), err
}

// A read of the committed offset syncs that can reach no further (here a
// transaction left open on the partition holds its last stable offset below
// the end the read set out to reach) fails once it has gone syncReadStall
// without a record, saying where the partition stands, instead of waiting
// for as long as the transaction stays open. A task's start read this way
// and hung without a word for a minute (issue 16's liveness stall).
func TestAReadOfOffsetSyncsThatCannotReachItsEndSaysWhereItStands(t *testing.T) {
	shortSyncReadStall(t)
	const mirror = "na-to-eu"
	dst := stuckSyncTopic(t, mirror, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	took, err := readStuck(ctx, dst, mirror)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("read answered %v after %s; want an error that says where partition 0 stands, within %s", err, took.Round(time.Millisecond), 3*syncReadStall)
	}
	want := "no record for 2s short of the end of partition 0 (end 1, last read -1, high watermark 1, last stable offset 0, log start 0)"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("read answered %q; want it to contain %q", err, want)
	}
}

// The same when another partition the read takes in keeps getting records
// (a task copying, while FinalSyncs or a fence reads the whole topic): only
// records of partitions short of their end count as progress, so the read
// still fails, naming the partition it cannot finish, instead of waiting for
// as long as the other partition is written.
func TestRecordsOfAnotherPartitionDoNotHideAReadThatCannotReachItsEnd(t *testing.T) {
	shortSyncReadStall(t)
	const mirror = "na-to-eu"
	dst := stuckSyncTopic(t, mirror, 2)
	// Partition 1 gets a committed record every 100 ms until the read ends.
	busy := kafkatest.Client(t, dst, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	record := &kgo.Record{Topic: offsetsync.Topic(mirror), Partition: 1, Value: []byte("a record")}
	if err := busy.ProduceSync(context.Background(), record).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for ctx.Err() == nil {
			busy.ProduceSync(ctx, &kgo.Record{Topic: record.Topic, Partition: 1, Value: record.Value})
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	took, err := readStuck(ctx, dst, mirror)
	cancel()
	<-writing
	if err == nil || took > 3*syncReadStall {
		t.Fatalf("read answered %v after %s; want an error that says where partition 0 stands, within %s", err, took.Round(time.Millisecond), 3*syncReadStall)
	}
	if want := "short of the end of partition 0 (end 1, last read -1"; !strings.Contains(err.Error(), want) {
		t.Fatalf("read answered %q; want it to contain %q", err, want)
	}
}
