package mirror

import (
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// Every record of __kfo_status written before records carried a format
// version reads as version 1, to what the agent that wrote it read.
func TestStatusRecordsOfFormatVersion1StayReadable(t *testing.T) {
	f := fixture.Read(t, statusFixture)
	b := newBoard()
	for _, r := range f.Records {
		b.apply(r.Kgo())
	}
	fixture.SameJSON(t, "status replayed from "+statusFixture, statusView(b, "na-to-eu"), f.Expect)
}
