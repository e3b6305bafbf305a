package checkpoint

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// checkpointsFixture holds records of __kfo_checkpoints.<mirror> of format
// version 1, as the commit it names wrote them (before records carried a
// version).
const checkpointsFixture = "testdata/records-v1.json"

// checkpointsView is what a cache answers from the checkpoint topic.
func checkpointsView(c *Cache) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	groups := map[string][]agentapi.PartitionCheckpoint{}
	for g, cps := range c.groups {
		for _, cp := range cps {
			groups[g] = append(groups[g], cp)
		}
	}
	return map[string]any{"groups": groups, "heartbeats": c.beats}
}

// TestWriteCheckpointsFixture writes checkpointsFixture with
// KFO_WRITE_FIXTURES=1, at the commit the fixture names: the records a
// checkpoint round writes (checkpointer.go), keys and values encoded alike.
func TestWriteCheckpointsFixture(t *testing.T) {
	fixture.SkipUnlessWriting(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	topic := Topic("na-to-eu")
	cp := agentapi.PartitionCheckpoint{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 3, SourceOffset: 120, TargetOffset: 118, NotMirrored: 2, CheckpointedAt: at}
	rv, _ := json.Marshal(Record{Group: "consumer-billing", PartitionCheckpoint: cp})
	hv, _ := json.Marshal(Heartbeat{Group: "consumer-billing", At: at.Add(time.Second)})
	ev, _ := json.Marshal(Heartbeat{Group: "consumer-audit", At: at, Error: "offsets of consumer-audit on na: timeout"})
	recs := []*kgo.Record{
		{Topic: topic, Offset: 0, Key: recordKey("consumer-billing", cp.Topic, cp.Partition), Value: rv},
		{Topic: topic, Offset: 1, Key: heartbeatKey("consumer-billing"), Value: hv},
		{Topic: topic, Offset: 2, Key: heartbeatKey("consumer-audit"), Value: ev},
	}
	c := newCache("na-to-eu")
	for _, r := range recs {
		c.apply(r)
	}
	fixture.Write(t, checkpointsFixture, "f7abae5", fixture.Of(recs), checkpointsView(c))
}
