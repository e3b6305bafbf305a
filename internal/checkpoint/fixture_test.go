package checkpoint

import (
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// Every record of a checkpoint topic written before records carried a
// format version reads as version 1, to what the agent that wrote it read.
func TestCheckpointRecordsOfFormatVersion1StayReadable(t *testing.T) {
	f := fixture.Read(t, checkpointsFixture)
	c := newCache("na-to-eu")
	for _, r := range f.Records {
		c.apply(r.Kgo())
	}
	if c.refused != nil {
		t.Fatal(c.refused)
	}
	fixture.SameJSON(t, "checkpoints replayed from "+checkpointsFixture, checkpointsView(c), f.Expect)
}
