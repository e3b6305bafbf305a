package offsetsync

import (
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// Every record of an offset-sync topic written before records carried a
// format version reads as version 1, to what the agent that wrote it read.
func TestSyncRecordsOfFormatVersion1StayReadable(t *testing.T) {
	f := fixture.Read(t, syncsFixture)
	var got []Record
	for _, fr := range f.Records {
		r := fr.Kgo()
		if v, err := recordformat.Check(r); err != nil || v != 1 {
			t.Fatalf("offset %d: version %d, %v; want 1", r.Offset, v, err)
		}
		rec, err := DecodeRecord(r.Key, r.Value)
		if err != nil {
			t.Fatalf("offset %d: %v", r.Offset, err)
		}
		got = append(got, rec)
	}
	fixture.SameJSON(t, "records of "+syncsFixture, got, f.Expect)
}
