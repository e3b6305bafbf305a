package offsetsync

import "testing"

// A gap (offsets deleted at the source before they were mirrored) is kept
// apart from the runs: a group positioned before or inside it resumes after
// it and is told how many offsets it skips; one past it skips nothing.
func TestTranslateCommittedCountsTheGapAheadOfTheGroup(t *testing.T) {
	var l Log
	for _, s := range []Sync{
		{Topic: "t", Runs: []Run{{Source: 0, Target: 0, Count: 100}}, SourceNext: 100},
		GapSync("t", 0, "t", 100, 250),
		{Topic: "t", Runs: []Run{{Source: 250, Target: 100, Count: 60}}, SourceNext: 310},
	} {
		if err := l.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Add(GapSync("t", 0, "t", 100, 250)); err != nil { // replayed
		t.Fatal(err)
	}
	if l.Skipped() != 150 {
		t.Fatalf("skipped %d, want 150", l.Skipped())
	}
	for _, c := range []struct{ committed, target, skipped int64 }{
		{50, 50, 150}, {100, 100, 150}, {120, 100, 130}, {250, 100, 0}, {300, 150, 0},
	} {
		cp := l.TranslateCommitted(c.committed)
		if !cp.OK || cp.Target != c.target || cp.Skipped != c.skipped {
			t.Errorf("committed %d: %+v, want target %d, skipped %d", c.committed, cp, c.target, c.skipped)
		}
	}
}

// A gap sync keeps its own key: compaction must not drop it for the sync
// that starts where the gap ends.
func TestGapSyncKeyDiffersFromTheNextSync(t *testing.T) {
	gap := GapSync("t", 0, "t", 100, 250)
	next := Sync{Topic: "t", Runs: []Run{{Source: 250, Target: 100, Count: 1}}, SourceNext: 251}
	if string(gap.Key()) == string(next.Key()) {
		t.Fatalf("gap and next sync share key %s", gap.Key())
	}
	if err := (Sync{Topic: "t", SourceNext: 5, Skipped: 6}).validate(); err == nil {
		t.Fatal("a gap past offset 0 was accepted")
	}
}
