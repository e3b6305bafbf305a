package offsetsync

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// syncsFixture holds records of __kfo_offset_syncs.<mirror> of format
// version 1 (a barrier, syncs, a gap sync and a snapshot's chunks), encoded
// as the commit it names encoded them, before records carried a version.
const syncsFixture = "testdata/records-v1.json"

// TestWriteSyncsFixture writes syncsFixture with KFO_WRITE_FIXTURES=1, at
// the commit the fixture names: each record is what a task writes (see
// package mirror: syncs.go, task.go, gap.go, snapshot.go), with this
// package's encoding, and the expectation is what DecodeRecord answers.
func TestWriteSyncsFixture(t *testing.T) {
	fixture.SkipUnlessWriting(t)
	const topic = "__kfo_offset_syncs.na-to-eu"
	syncs := []Sync{
		{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS", Runs: []Run{{Source: 0, Target: 0, Count: 10}, {Source: 11, Target: 10, Count: 5}}, SourceNext: 17},
		{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS", Runs: []Run{{Source: 17, Target: 16, Count: 3}}, SourceNext: 20},
		GapSync("LH.ORDERS", 1, "LH.ORDERS", 0, 40),
		{Topic: "LH.ORDERS", Partition: 1, TargetTopic: "LH.ORDERS", SourceNext: 40},
	}
	recs := []*kgo.Record{{Topic: topic, Key: BarrierKey("task-0-of-2"), Value: []byte("2026-01-02T03:04:05.000000006Z")}}
	x := &Index{}
	for _, s := range syncs {
		v, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: s.Key(), Value: v})
		if err := x.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range x.Snapshot([]string{"task-0-of-2", "task-1-of-4"}, "task-0-of-2/1767323045000000006") {
		recs = append(recs, &kgo.Record{Topic: topic, Key: c.Key, Value: c.Value})
	}
	var expect []Record
	for i, r := range recs {
		r.Offset = int64(i)
		rec, err := DecodeRecord(r.Key, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		expect = append(expect, rec)
	}
	fixture.Write(t, syncsFixture, "f7abae5", fixture.Of(recs), expect)
}
