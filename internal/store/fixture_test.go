package store

import (
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// Every record of __kfo_state written before records carried a format
// version reads as version 1, to what the agent that wrote it read.
func TestStateRecordsOfFormatVersion1StayReadable(t *testing.T) {
	f := fixture.Read(t, stateFixture)
	s := newStore(testSealer(t))
	for _, r := range f.Records {
		s.apply(r.Kgo())
	}
	if err := s.FormatErr(); err != nil {
		t.Fatal(err)
	}
	fixture.SameJSON(t, "state replayed from "+stateFixture, stateView(t, s), f.Expect)
	if s.applied != f.Records[len(f.Records)-1].Offset {
		t.Fatalf("applied up to %d, want every record", s.applied)
	}
}
