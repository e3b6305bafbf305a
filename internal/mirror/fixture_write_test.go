package mirror

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// statusFixture holds __kfo_status's records of format version 1, as the
// commit it names wrote them (before records carried a version).
const statusFixture = "testdata/status-records-v1.json"

// statusView is what a replica's board answers from the status topic.
func statusView(b *Board, mirror string) map[string]any {
	seen := b.LastSeen(mirror, nil)
	sort.Slice(seen, func(i, j int) bool {
		if seen[i].Topic != seen[j].Topic {
			return seen[i].Topic < seen[j].Topic
		}
		return seen[i].Partition < seen[j].Partition
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	return map[string]any{"last_seen": seen, "errors": b.errors}
}

// TestWriteStatusFixture writes statusFixture through the board's API, with
// KFO_WRITE_FIXTURES=1, at the commit the fixture names.
func TestWriteStatusFixture(t *testing.T) {
	fixture.SkipUnlessWriting(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.Cluster(t, "state")
	b, err := OpenBoard(ctx, kafkaconn.Conn{Name: "state", BootstrapServers: c.Bootstrap()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b.Publish(ctx, "na-to-eu", []agentapi.PartitionStatus{
		{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 0, Task: 0, Agent: "eu-1", SourceHighWatermark: 120, SourceHighWatermarkAt: at, LastMirroredOffset: 99, LagRecords: 20, UpdatedAt: at},
		{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 1, Task: 1, Agent: "eu-2", SourceHighWatermark: 7, LastMirroredOffset: -1, LagRecords: 7, Error: "fetch: broker gone", UpdatedAt: at},
	}, "list topics of na: timeout")
	b.PublishEnds(ctx, "na-to-eu", []End{{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 2, HighWatermark: 55, ObservedAt: at}})
	if err := b.cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 30*time.Second, "the board reads its records back", func() (bool, string) {
		return len(b.LastSeen("na-to-eu", nil)) == 3, "not yet"
	})
	var recs []*kgo.Record
	for _, r := range kafkatest.ReadAll(t, c.Bootstrap(), StatusTopic)[0] {
		recs = append(recs, &kgo.Record{Topic: StatusTopic, Offset: r.Offset, Key: r.Key, Value: r.Value, Headers: r.Headers})
	}
	fixture.Write(t, statusFixture, "f7abae5", fixture.Of(recs), statusView(b, "na-to-eu"))
}
