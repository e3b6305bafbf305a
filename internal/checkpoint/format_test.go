package checkpoint

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// A checkpoint record of a format version this agent does not read is
// refused and counted, and reading the stored checkpoints of a stopped
// mirror (what a failover commits) fails, naming topic, offset and version,
// instead of answering them without it.
func TestACheckpointRecordOfAnUnknownVersionIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.Cluster(t, "europe")
	topic := Topic("m")
	kafkatest.CreateTopic(t, c.Bootstrap(), topic, 1, nil)
	before, _ := undecodable.Refused()
	ok := &kgo.Record{Topic: topic, Key: recordKey("g", "LH.ORDERS", 0), Value: []byte(`{"group":"g","topic":"LH.ORDERS","partition":0,"source_offset":5,"target_offset":5}`)}
	newer := &kgo.Record{Topic: topic, Key: recordKey("g", "LH.ORDERS", 1), Value: []byte(`{"group":"g","topic":"LH.ORDERS","partition":1,"source_offset":9,"target_offset":9}`),
		Headers: []kgo.RecordHeader{{Key: recordformat.Header, Value: []byte("2")}}}
	if err := kafkatest.Client(t, c.Bootstrap()).ProduceSync(ctx, ok, newer).FirstErr(); err != nil {
		t.Fatal(err)
	}
	_, err := ReadStored(ctx, []kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, "m")
	if !errors.Is(err, recordformat.ErrUnknownVersion) || !strings.Contains(err.Error(), topic+" partition 0 offset 1") || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("stored checkpoints: %v; want the record refused, by topic, offset and version", err)
	}
	if now, _ := undecodable.Refused(); now[topic] != before[topic]+1 {
		t.Fatalf("refused %v, want one more for %s", now, topic)
	}
}
