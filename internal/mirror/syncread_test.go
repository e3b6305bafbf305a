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

// A read of the committed offset syncs that can reach no further (here a
// transaction left open on the partition holds its last stable offset below
// the end the read set out to reach) fails once it has gone syncReadStall
// without a record, saying where the partition stands, instead of waiting
// for as long as the transaction stays open. A task's start read this way
// and hung without a word for a minute (issue 16's liveness stall).
func TestAReadOfOffsetSyncsThatCannotReachItsEndSaysWhereItStands(t *testing.T) {
	was := syncReadStall
	syncReadStall = 2 * time.Second
	t.Cleanup(func() { syncReadStall = was })

	dst := kafkatest.Cluster(t, "europe").Bootstrap()
	const mirror = "na-to-eu"
	topic := offsetsync.Topic(mirror)
	kafkatest.CreateTopic(t, dst, topic, 1, nil)
	open := kafkatest.Client(t, dst, kgo.TransactionalID("an-open-transaction"), kgo.TransactionTimeout(time.Minute),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: 0, Value: []byte("never committed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := readCommittedSyncs(ctx, []kgo.Opt{kgo.SeedBrokers(dst...)}, mirror, nil, func(int32, offsetsync.Sync) error { return nil })
	if err == nil || ctx.Err() != nil {
		t.Fatalf("read answered %v after %s; want an error that says where partition 0 stands, within %s", err, time.Since(start).Round(time.Millisecond), 3*syncReadStall)
	}
	want := "no record for 2s short of the end of partition 0 (end 1, last read -1, high watermark 1, last stable offset 0, log start 0)"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("read answered %q; want it to contain %q", err, want)
	}
}
