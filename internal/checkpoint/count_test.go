package checkpoint

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func TestCountRecordsCountsRecordsNotOffsetsAndSkipsAbortedTransactions(t *testing.T) {
	c := kafkatest.Cluster(t, "source")
	kafkatest.CreateTopic(t, c.Bootstrap(), "T", 1, nil)
	ctx := context.Background()
	produce := func(cl *kgo.Client, n int) {
		for i := range n {
			if err := cl.ProduceSync(ctx, kafkatest.GenRecord("T", 0, i)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts := []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}
	plain := kafkatest.Client(t, c.Bootstrap(), opts...)
	open := kafkatest.Client(t, c.Bootstrap(), append(opts, kgo.TransactionalID("open"))...)
	other := kafkatest.Client(t, c.Bootstrap(), append(opts, kgo.TransactionalID("other"))...)

	produce(plain, 2) // offsets 0-1: before the range
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(open, 5) // 2-6: a transaction still open when the group commits
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(other, 7) // 7-13, committed: marker at 14
	if err := other.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(other, 4) // 15-18, aborted: marker at 19
	if err := other.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	produce(plain, 3) // 20-22
	produce(plain, 1) // 23: after the range

	src := kafkatest.Client(t, c.Bootstrap())
	for _, tc := range []struct {
		from, to, want int64
	}{
		{2, 23, 5 + 7 + 3}, // open + committed + plain; markers and aborted records are not records
		{7, 15, 7},         // a committed transaction and its marker
		{15, 20, 0},        // an aborted transaction and its marker
		{2, 7, 5},          // the open transaction alone
		{20, 22, 2},
	} {
		got, ok := CountRecords(ctx, src, "T", 0, tc.from, tc.to)
		if !ok || got != tc.want {
			t.Errorf("records in offsets [%d, %d): got %d (ok %v), want %d", tc.from, tc.to, got, ok, tc.want)
		}
	}
}

func TestACommitLeavesOutTopicsTheTargetDoesNotHaveAndSendsTheRest(t *testing.T) {
	known := kadm.TopicID{1}
	commits := map[string]kadm.Offsets{
		"consumer-a": {"LH.ORDERS": {0: {Topic: "LH.ORDERS", At: 5}}, "LH.NEW": {0: {Topic: "LH.NEW", At: 1}}},
		"consumer-b": {"LH.NEW": {0: {Topic: "LH.NEW", At: 2}}},
	}
	waiting := withoutUnknownTopics(commits, map[string]kadm.TopicID{"LH.ORDERS": known})
	if _, ok := commits["consumer-a"]["LH.ORDERS"]; !ok || len(commits["consumer-a"]) != 1 {
		t.Fatalf("consumer-a commits %v, want LH.ORDERS only", commits["consumer-a"])
	}
	if _, ok := commits["consumer-b"]; ok {
		t.Fatal("consumer-b, with nothing the target has, is still sent")
	}
	if waiting["consumer-a"] != "not on the target yet: LH.NEW" || waiting["consumer-b"] == "" {
		t.Fatalf("waiting %v", waiting)
	}
}
