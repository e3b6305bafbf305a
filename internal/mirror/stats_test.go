package mirror

import (
	"fmt"
	"testing"
	"time"
)

func TestLagInTimeIsHowLongTheOldestWaitingRecordHasBeenSeenNotItsTimestamp(t *testing.T) {
	s := newTaskStats(0, "agent")
	k := tp{"LH.ORDERS", 0}
	s.track(SourcePartition{Topic: k.topic, Partition: k.partition, TargetTopic: k.topic}, -1)
	s.sawHighWatermark(k, 10)
	time.Sleep(200 * time.Millisecond)
	s.sawHighWatermark(k, 20)

	// Records 0-9 have waited ~200ms, whatever timestamps they carry.
	st := s.snapshot(time.Now())[0]
	if st.LagRecords != 20 || st.LagMillis < 200 || st.LagMillis > 2000 {
		t.Fatalf("before copying: lag %d records / %d ms, want 20 / about 200", st.LagRecords, st.LagMillis)
	}
	// Copying 0-9 leaves records that have waited less.
	s.mirrored(k, 9, 10, time.Now())
	st = s.snapshot(time.Now())[0]
	if st.LagRecords != 10 || st.LagMillis >= 200 {
		t.Fatalf("after copying 10: lag %d records / %d ms, want 10 / under 200", st.LagRecords, st.LagMillis)
	}
	// Caught up: no lag in time.
	s.mirrored(k, 19, 10, time.Now())
	if st = s.snapshot(time.Now())[0]; st.LagRecords != 0 || st.LagMillis != 0 {
		t.Fatalf("caught up: lag %d records / %d ms, want 0 / 0", st.LagRecords, st.LagMillis)
	}
}

func TestARefreshThatFailedInPartKeepsThePartitionsItKnew(t *testing.T) {
	known := []SourcePartition{{Topic: "LH.A", Partition: 0}, {Topic: "LH.B", Partition: 0}, {Topic: "LH.B", Partition: 1}}
	fresh := []SourcePartition{{Topic: "LH.A", Partition: 0}, {Topic: "LH.C", Partition: 0}} // LH.B missing this time
	got := mergeParts(known, fresh)
	want := "[{LH.A 0 } {LH.B 0 } {LH.B 1 } {LH.C 0 }]"
	if fmt.Sprint(got) != want {
		t.Fatalf("merged %v, want %s", got, want)
	}
}
