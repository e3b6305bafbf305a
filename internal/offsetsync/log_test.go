package offsetsync

import (
	"errors"
	"runtime"
	"sync"
	"testing"
)

type committed struct {
	c    int64
	want Checkpoint
}

// scenario is a partition's syncs and what translation must answer for them.
type scenario struct {
	name      string
	syncs     []Sync
	translate map[int64]int64 // mirrored source offset -> target offset
	gaps      []int64         // source offsets Translate must reject
	committed []committed
}

func at(target int64) Checkpoint { return Checkpoint{Target: target, Exact: true, OK: true} }

func ahead(target, notMirrored int64) Checkpoint {
	return Checkpoint{Target: target, NotMirrored: notMirrored, OK: true}
}

func scenarios() []scenario {
	return []scenario{{
		name:      "contiguous data",
		syncs:     []Sync{{Runs: []Run{{0, 0, 10}}, SourceNext: 10}},
		translate: map[int64]int64{0: 0, 5: 5, 9: 9},
		gaps:      []int64{-1, 10, 11},
		committed: []committed{{0, at(0)}, {5, at(5)}, {10, at(10)}, {12, ahead(10, 2)}},
	}, {
		// Source transactions of 3 records each take 4 offsets: 0-2 data, 3 marker, 4-6 data, 7 marker.
		name:      "source transaction markers",
		syncs:     []Sync{{Runs: []Run{{0, 0, 3}, {4, 3, 3}}, SourceNext: 8}},
		translate: map[int64]int64{2: 2, 4: 3, 6: 5},
		gaps:      []int64{3, 7, 8},
		committed: []committed{{3, at(3)}, {4, at(3)}, {5, at(4)}, {7, at(6)}, {8, at(6)}, {9, ahead(6, 1)}},
	}, {
		// 0-2 committed, 3 marker, 4-8 aborted, 9 abort marker, 10-11 committed, 12 marker.
		name:      "aborted source transaction",
		syncs:     []Sync{{Runs: []Run{{0, 0, 3}}, SourceNext: 4}, {Runs: []Run{{10, 4, 2}}, SourceNext: 13}},
		translate: map[int64]int64{0: 0, 2: 2, 10: 4, 11: 5},
		gaps:      []int64{3, 4, 8, 9, 12},
		committed: []committed{{4, at(3)}, {6, at(3)}, {10, at(3)}, {11, at(5)}, {12, at(6)}, {13, at(6)}},
	}, {
		// Data survives compaction at 0,1,4,5,6,9 only.
		name:      "compacted source",
		syncs:     []Sync{{Runs: []Run{{0, 0, 2}, {4, 2, 3}, {9, 5, 1}}, SourceNext: 10}},
		translate: map[int64]int64{1: 1, 4: 2, 6: 4, 9: 5},
		gaps:      []int64{2, 3, 7, 8},
		committed: []committed{{2, at(2)}, {3, at(2)}, {4, at(2)}, {7, at(5)}, {9, at(5)}, {10, at(6)}},
	}, {
		// Transactions of 2 records; each leaves a marker on the target at 2, 5, 8.
		name: "target transaction markers",
		syncs: []Sync{
			{Runs: []Run{{0, 0, 2}}, SourceNext: 2},
			{Runs: []Run{{2, 3, 2}}, SourceNext: 4},
			{Runs: []Run{{4, 6, 2}}, SourceNext: 6},
		},
		translate: map[int64]int64{1: 1, 2: 3, 3: 4, 4: 6, 5: 7},
		gaps:      []int64{6},
		committed: []committed{{1, at(1)}, {2, at(2)}, {3, at(4)}, {4, at(5)}, {6, at(8)}, {7, ahead(8, 1)}},
	}, {
		// The mirror started at source offset 100.
		name:      "committed offset before anything mirrored",
		syncs:     []Sync{{Runs: []Run{{100, 20, 5}}, SourceNext: 105}},
		translate: map[int64]int64{100: 20, 104: 24},
		gaps:      []int64{0, 50, 99, 105},
		committed: []committed{{-1, at(20)}, {0, at(20)}, {100, at(20)}, {101, at(21)}},
	}, {
		// 0-2 data, 3 marker, 4-5 aborted: SourceNext 6 is past the last run.
		name:      "committed offset at and beyond source next",
		syncs:     []Sync{{Runs: []Run{{0, 0, 3}}, SourceNext: 6}},
		translate: map[int64]int64{2: 2},
		gaps:      []int64{3, 5, 6},
		committed: []committed{{3, at(3)}, {5, at(3)}, {6, at(3)}, {7, ahead(3, 1)}, {10, ahead(3, 4)}},
	}, {
		name:      "nothing mirrored has no checkpoint",
		syncs:     []Sync{{SourceNext: 4}},
		gaps:      []int64{0, 3, 4},
		committed: []committed{{0, Checkpoint{}}, {4, Checkpoint{}}, {9, Checkpoint{}}},
	}}
}

func logOf(t testing.TB, syncs ...Sync) *Log {
	t.Helper()
	var l Log
	for _, s := range syncs {
		if err := l.Add(s); err != nil {
			t.Fatalf("Add(%+v): %v", s, err)
		}
	}
	return &l
}

func TestTranslateIsExactForMirroredAndRejectsGaps(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			l := logOf(t, sc.syncs...)
			for src, want := range sc.translate {
				if got, ok := l.Translate(src); !ok || got != want {
					t.Errorf("Translate(%d) = %d, %v; want %d, true", src, got, ok, want)
				}
			}
			for _, src := range sc.gaps {
				if got, ok := l.Translate(src); ok {
					t.Errorf("Translate(%d) = %d, true; want not mirrored", src, got)
				}
			}
		})
	}
}

func TestTranslateCommittedFollowsCheckpointRule(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			l := logOf(t, sc.syncs...)
			for _, tc := range sc.committed {
				if got := l.TranslateCommitted(tc.c); got != tc.want {
					t.Errorf("TranslateCommitted(%d) = %+v, want %+v", tc.c, got, tc.want)
				}
			}
		})
	}
}

func TestAddRejectsConflictsAndLeavesLogUnchanged(t *testing.T) {
	base := []Sync{{Runs: []Run{{0, 0, 5}}, SourceNext: 5}, {Runs: []Run{{10, 8, 5}}, SourceNext: 15}}
	tests := []struct {
		name string
		bad  Sync
		want error
	}{
		{"overlap mapping to other targets", Sync{Runs: []Run{{3, 4, 1}}, SourceNext: 5}, ErrConflict},
		{"extension running into a later run's targets", Sync{Runs: []Run{{4, 4, 5}}, SourceNext: 9}, ErrConflict},
		{"new source reusing a target offset", Sync{Runs: []Run{{6, 4, 1}}, SourceNext: 7}, ErrConflict},
		{"new source targeting past a later run", Sync{Runs: []Run{{6, 9, 1}}, SourceNext: 7}, ErrConflict},
		{"second run conflicts after a valid first", Sync{Runs: []Run{{5, 5, 1}, {12, 12, 1}}, SourceNext: 13}, ErrConflict},
		{"zero-count run", Sync{Runs: []Run{{20, 20, 0}}, SourceNext: 20}, ErrInvalid},
		{"negative offset", Sync{Runs: []Run{{-2, 20, 1}}, SourceNext: 20}, ErrInvalid},
		{"runs not increasing", Sync{Runs: []Run{{22, 22, 2}, {20, 24, 1}}, SourceNext: 25}, ErrInvalid},
		{"source next behind its runs", Sync{Runs: []Run{{20, 20, 2}}, SourceNext: 21}, ErrInvalid},
		{"overflowing run", Sync{Runs: []Run{{1 << 62, 20, 1 << 62}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := logOf(t, base...)
			if err := l.Add(tt.bad); !errors.Is(err, tt.want) {
				t.Fatalf("Add(%+v) error = %v, want %v", tt.bad, err, tt.want)
			}
			if l.Len() != 2 || l.SourceNext() != 15 {
				t.Fatalf("after rejected Add: Len %d, SourceNext %d; want 2, 15", l.Len(), l.SourceNext())
			}
			if _, ok := l.Translate(5); ok {
				t.Fatal("rejected sync partly applied: 5 became mirrored")
			}
		})
	}
}

func TestAddIgnoresRedeliveredRuns(t *testing.T) {
	l := logOf(t,
		Sync{Runs: []Run{{0, 0, 3}}, SourceNext: 3},
		Sync{Runs: []Run{{3, 3, 3}}, SourceNext: 6}, // merges with the first
		Sync{Runs: []Run{{8, 7, 2}}, SourceNext: 10},
	)
	redeliveries := []Sync{
		{Runs: []Run{{0, 0, 3}}, SourceNext: 3},  // an old sync: SourceNext must not rewind
		{Runs: []Run{{3, 3, 3}}, SourceNext: 6},  // part of a merged run
		{Runs: []Run{{8, 7, 2}}, SourceNext: 10}, // the latest sync
		{Runs: []Run{{1, 1, 4}, {9, 8, 1}}, SourceNext: 10},
	}
	for _, s := range redeliveries {
		if err := l.Add(s); err != nil {
			t.Fatalf("re-delivered %+v: %v", s, err)
		}
	}
	if l.Len() != 2 || l.SourceNext() != 10 {
		t.Fatalf("Len %d, SourceNext %d; want 2, 10", l.Len(), l.SourceNext())
	}
}

func TestAddMergesRunsAdjacentOnBothSides(t *testing.T) {
	tests := []struct {
		name    string
		runs    []Run // each added as its own sync, in this order
		wantLen int
	}{
		{"in order", []Run{{0, 0, 3}, {3, 3, 2}}, 1},
		{"target gap keeps runs apart", []Run{{0, 0, 3}, {3, 4, 2}}, 2},
		{"source gap keeps runs apart", []Run{{0, 0, 3}, {4, 3, 2}}, 2},
		{"out of order fill joins both neighbours", []Run{{0, 0, 2}, {4, 4, 2}, {2, 2, 2}}, 1},
		{"partial overlap extends a run", []Run{{0, 0, 3}, {2, 2, 3}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Log
			for _, r := range tt.runs {
				if err := l.Add(Sync{Runs: []Run{r}, SourceNext: r.sourceEnd()}); err != nil {
					t.Fatal(err)
				}
			}
			if l.Len() != tt.wantLen {
				t.Fatalf("Len = %d, want %d", l.Len(), tt.wantLen)
			}
			for _, r := range tt.runs {
				for o := r.Source; o < r.sourceEnd(); o++ {
					if got, ok := l.Translate(o); !ok || got != r.Target+o-r.Source {
						t.Fatalf("Translate(%d) = %d, %v after merging", o, got, ok)
					}
				}
			}
		})
	}
}

func TestLastSourceAndSourceNext(t *testing.T) {
	var empty Log
	if _, ok := empty.LastSource(); ok {
		t.Fatal("empty Log has a last source offset")
	}
	l := logOf(t, Sync{Runs: []Run{{4, 0, 3}}, SourceNext: 9})
	if last, ok := l.LastSource(); !ok || last != 6 {
		t.Fatalf("LastSource = %d, %v; want 6, true", last, ok)
	}
	if l.SourceNext() != 9 {
		t.Fatalf("SourceNext = %d, want 9", l.SourceNext())
	}
}

func TestPruneBelowDropsWholeRunsButKeepsTheLast(t *testing.T) {
	tests := []struct {
		name      string
		below     int64
		wantLen   int
		wantFirst int64 // lowest source offset still translated
	}{
		{"nothing below", 0, 3, 0},
		{"straddled run kept whole", 2, 3, 0},
		{"run ending at the bound dropped", 4, 2, 10},
		{"everything below keeps the last run", 100, 1, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := logOf(t, Sync{Runs: []Run{{0, 0, 4}, {10, 5, 4}, {20, 10, 4}}, SourceNext: 24})
			l.PruneBelow(tt.below)
			if l.Len() != tt.wantLen {
				t.Fatalf("Len = %d, want %d", l.Len(), tt.wantLen)
			}
			if _, ok := l.Translate(tt.wantFirst); !ok {
				t.Fatalf("Translate(%d) lost", tt.wantFirst)
			}
			if _, ok := l.Translate(tt.wantFirst - 1); ok {
				t.Fatalf("Translate(%d) kept", tt.wantFirst-1)
			}
			if got := l.TranslateCommitted(30); got != ahead(14, 6) {
				t.Fatalf("TranslateCommitted(30) = %+v after pruning", got)
			}
		})
	}
	var empty Log
	empty.PruneBelow(10) // must not panic
}

func TestIndexRoutesSyncsByTopicPartition(t *testing.T) {
	var x Index
	syncs := []Sync{
		{Topic: "a", Partition: 0, Runs: []Run{{0, 0, 2}}, SourceNext: 2},
		{Topic: "a", Partition: 1, Runs: []Run{{0, 100, 2}}, SourceNext: 2},
		{Topic: "b", Partition: 0, Runs: []Run{{0, 200, 2}}, SourceNext: 2},
	}
	for _, s := range syncs {
		if err := x.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range syncs {
		if got, ok := x.Log(s.Topic, s.Partition).Translate(1); !ok || got != s.Runs[0].Target+1 {
			t.Errorf("%s/%d: Translate(1) = %d, %v", s.Topic, s.Partition, got, ok)
		}
	}
	if x.Log("a", 0) != x.Log("a", 0) {
		t.Error("Log returned different Logs for one partition")
	}
	if x.Log("c", 7).Len() != 0 {
		t.Error("unknown partition is not an empty Log")
	}
}

func TestLogIsSafeForConcurrentUse(t *testing.T) {
	var l Log
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := int64(0); i < 500; i++ {
			if err := l.Add(Sync{Runs: []Run{{2 * i, 3 * i, 1}}, SourceNext: 2*i + 1}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for i := int64(0); i < 500; i++ {
				l.Translate(i)
				l.TranslateCommitted(i)
				l.LastSource()
			}
		})
	}
	wg.Wait()
	if got, ok := l.Translate(998); !ok || got != 1497 {
		t.Fatalf("Translate(998) = %d, %v", got, ok)
	}
}

// A trickle of records makes a run per record, since each transaction's
// marker takes a target offset: a mirror's index then holds millions of
// runs. Each must cost a few bytes, not a []Run element's 24 and the
// slice's spare capacity; a trickle's runs, alike but for their offsets,
// less than one.
func TestALogOfARunPerTransactionHoldsAFewBytesARun(t *testing.T) {
	const partitions, runsEach = 100, 5000
	for _, c := range []struct {
		name  string
		count func(i int64) int64
		most  float64
	}{
		{"a record per transaction", func(int64) int64 { return 1 }, 1},
		{"1 to 3 records per transaction", func(i int64) int64 { return 1 + i%3 }, 8},
	} {
		perRun := heldPerPartition(t, partitions, runsEach, c.count) / runsEach
		t.Logf("%s, %d runs in %d partitions: %.1f bytes a run", c.name, partitions*runsEach, partitions, perRun)
		if perRun > c.most {
			t.Errorf("%s: %.1f bytes a run held, want at most %.0f", c.name, perRun, c.most)
		}
	}
}

// An agent holds a Log per partition twice (its tasks' and its
// translator's), so a Log's fixed cost counts too: at most 2.5 KiB with its
// tail of recent runs full.
func TestALogsRecentRunsCostAFixedFewKiB(t *testing.T) {
	const partitions = 2000
	perLog := heldPerPartition(t, partitions, hotRuns-1, func(int64) int64 { return 1 })
	t.Logf("%d partitions of %d runs: %.0f bytes a partition", partitions, hotRuns-1, perLog)
	if perLog > 2560 {
		t.Fatalf("%.0f bytes a partition held, want at most 2560", perLog)
	}
}

// heldPerPartition answers the heap an Index of partitions Logs holds per
// partition, each of runs runs of count(i) records, one per transaction
// (its marker after it on the target).
func heldPerPartition(t *testing.T, partitions int32, runs int64, count func(i int64) int64) float64 {
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	x := new(Index)
	for p := range partitions {
		for i := range runs {
			s := Sync{Topic: "LH.ORDERS", Partition: p, Runs: []Run{{Source: 7 * i, Target: 5 * i, Count: count(i)}}, SourceNext: 7*i + count(i)}
			if err := x.Add(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	held := float64(heap() - before)
	if n := x.Runs(); n != int(partitions)*int(runs) {
		t.Fatalf("%d runs held, want %d", n, int(partitions)*int(runs))
	}
	runtime.KeepAlive(x)
	return held / float64(partitions)
}
