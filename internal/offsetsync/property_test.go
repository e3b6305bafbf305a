package offsetsync

import (
	"math/rand/v2"
	"testing"
)

// offsetKind is what a source partition holds at one offset.
type offsetKind uint8

const (
	data      offsetKind = iota // committed record still present: the mirror copies it
	marker                      // transaction commit or abort marker
	aborted                     // record of an aborted transaction
	compacted                   // record removed by compaction
)

// mirrorRun is a simulated source partition, the target partition a mirror
// built from it, and the offset syncs the mirror wrote.
type mirrorRun struct {
	source      []offsetKind
	start, stop int64   // the mirror copied source offsets [start, stop)
	targetBase  int64   // target offset of targetLog[0]
	targetLog   []int64 // source offset of each target record, -1 for a marker
	syncs       []Sync
}

func simulate(rng *rand.Rand) mirrorRun { return simulateUpTo(rng, 120, false) }

// simulateUpTo simulates a partition of up to size source offsets; a
// trickle is mostly data copied a record per transaction.
func simulateUpTo(rng *rand.Rand, size int, trickle bool) mirrorRun {
	// Per-scenario weights make some partitions all data, some marker or hole heavy.
	weights := [4]int{1 + rng.IntN(6), rng.IntN(3), rng.IntN(3), rng.IntN(3)}
	if trickle {
		weights = [4]int{60, 1, 0, 0}
	}
	total := weights[0] + weights[1] + weights[2] + weights[3]
	var m mirrorRun
	for n := rng.IntN(size); len(m.source) < n; {
		pick, kind := rng.IntN(total), data
		for pick >= weights[kind] {
			pick -= weights[kind]
			kind++
		}
		for range 1 + rng.IntN(3) { // kinds come in blocks, like aborted transactions
			m.source = append(m.source, kind)
		}
	}
	n := int64(len(m.source))
	if rng.IntN(4) == 0 { // the mirror started late
		m.start = rng.Int64N(n + 1)
	}
	m.stop = n
	if rng.IntN(2) == 0 { // the mirror has not caught up
		m.stop = m.start + rng.Int64N(n-m.start+1)
	}
	m.targetBase = rng.Int64N(20)
	for pos := m.start; pos < m.stop; {
		end := min(pos+1+rng.Int64N(8), m.stop)
		if trickle && rng.IntN(40) > 0 {
			end = pos + 1
		}
		var pairs []Pair
		for o := pos; o < end; o++ {
			if m.source[o] == data {
				pairs = append(pairs, Pair{Source: o, Target: m.targetBase + int64(len(m.targetLog))})
				m.targetLog = append(m.targetLog, o)
			}
		}
		if len(pairs) > 0 { // only a transaction that wrote to the target leaves a marker there
			m.targetLog = append(m.targetLog, -1)
		}
		runs, err := RunsOf(pairs)
		if err != nil {
			panic(err)
		}
		m.syncs = append(m.syncs, Sync{Topic: "t", Runs: runs, SourceNext: end})
		pos = end
	}
	return m
}

// mirroredPairs lists every record on the target, in offset order.
func (m mirrorRun) mirroredPairs() []Pair {
	var ps []Pair
	for i, src := range m.targetLog {
		if src >= 0 {
			ps = append(ps, Pair{Source: src, Target: m.targetBase + int64(i)})
		}
	}
	return ps
}

// oracleCommitted is the checkpoint rule computed by brute force from the
// target log: one past the last record copied from below c, else the first record.
func (m mirrorRun) oracleCommitted(c int64) (int64, bool) {
	ps := m.mirroredPairs()
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Source < c {
			return ps[i].Target + 1, true
		}
	}
	if len(ps) > 0 {
		return ps[0].Target, true
	}
	return 0, false
}

// notMirrored counts source records below c the mirror should have copied but has not yet.
func (m mirrorRun) notMirrored(c int64) int64 {
	var n int64
	for o := m.stop; o < min(c, int64(len(m.source))); o++ {
		if m.source[o] == data {
			n++
		}
	}
	return n
}

// Seeds above 200 simulate partitions long enough for runs to be frozen
// into blocks (blockRuns), read out of order and re-delivered into them;
// above 220, trickles, whose blocks repeat runs and merge.
func TestTranslationMatchesOracleOnRandomPartitions(t *testing.T) {
	for seed := uint64(1); seed <= 240; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x0ff5e7))
		m := simulate(rng)
		if seed > 200 {
			m = simulateUpTo(rng, 40*blockRuns, seed > 220)
		}
		var l Log
		order := append([]Sync(nil), m.syncs...)
		if rng.IntN(4) == 0 { // syncs may be read out of order, e.g. from several partitions
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for i, s := range order {
			deliveries := []Sync{s}
			if rng.IntN(5) == 0 {
				deliveries = append(deliveries, s)
			}
			if rng.IntN(10) == 0 {
				deliveries = append(deliveries, order[rng.IntN(i+1)])
			}
			for _, d := range deliveries {
				if err := l.Add(d); err != nil {
					t.Fatalf("seed %d: Add(%+v): %v", seed, d, err)
				}
			}
		}

		pairs := m.mirroredPairs()
		target := make(map[int64]int64, len(pairs))
		for _, p := range pairs {
			target[p.Source] = p.Target
		}
		minimal, _ := RunsOf(pairs)
		if l.Len() != len(minimal) {
			t.Fatalf("seed %d: Len = %d, want %d merged runs", seed, l.Len(), len(minimal))
		}

		end := int64(len(m.source))
		for o := int64(-1); o < end+3; o++ {
			got, ok := l.Translate(o)
			want, mirrored := target[o]
			if ok != mirrored || got != want {
				t.Fatalf("seed %d: Translate(%d) = %d, %v; want %d, %v", seed, o, got, ok, want, mirrored)
			}
		}

		for c := int64(0); c <= end+3; c++ {
			got := l.TranslateCommitted(c)
			want, ok := m.oracleCommitted(c)
			if got.OK != ok || got.Target != want {
				t.Fatalf("seed %d: TranslateCommitted(%d) = %+v; oracle %d, %v", seed, c, got, want, ok)
			}
			if !ok {
				if got != (Checkpoint{}) {
					t.Fatalf("seed %d: TranslateCommitted(%d) = %+v with nothing mirrored", seed, c, got)
				}
				continue
			}
			// Zero re-read, zero skipped: from got.Target on, the target holds
			// exactly the mirrored records at or above c.
			for i, src := range m.targetLog {
				if src < 0 {
					continue
				}
				if read := m.targetBase+int64(i) >= got.Target; read != (src >= c) {
					t.Fatalf("seed %d: resuming at %d for committed %d: record from source %d read=%v",
						seed, got.Target, c, src, read)
				}
			}
			missing := m.notMirrored(c)
			if got.Exact != (c <= m.stop) {
				t.Fatalf("seed %d: TranslateCommitted(%d).Exact = %v with source next %d", seed, c, got.Exact, m.stop)
			}
			if got.Exact && (got.NotMirrored != 0 || missing != 0) {
				t.Fatalf("seed %d: exact TranslateCommitted(%d) = %+v, %d records missing", seed, c, got, missing)
			}
			if !got.Exact && (got.NotMirrored != c-m.stop || missing > got.NotMirrored) {
				t.Fatalf("seed %d: TranslateCommitted(%d) = %+v, %d records missing", seed, c, got, missing)
			}
		}

		// Source retention: above the new log start nothing changes.
		p := rng.Int64N(end + 1)
		l.PruneBelow(p)
		kept := 0
		for _, r := range minimal {
			if r.sourceEnd() > p {
				kept++
			}
		}
		if kept == 0 && len(minimal) > 0 {
			kept = 1 // the last run stays
		}
		if l.Len() != kept || len(l.runs.all()) != kept {
			t.Fatalf("seed %d: Len after PruneBelow(%d) = %d, want %d", seed, p, l.Len(), kept)
		}
		for o := p; o < end+3; o++ {
			got, ok := l.Translate(o)
			want, mirrored := target[o]
			if ok != mirrored || got != want {
				t.Fatalf("seed %d: after PruneBelow(%d), Translate(%d) = %d, %v; want %d, %v", seed, p, o, got, ok, want, mirrored)
			}
		}
	}
}

// FuzzRunsOf builds pairs from gap bytes (low nibble: source gap, high nibble:
// target gap, 0xff: repeat the previous pair) and checks that RunsOf is
// lossless and minimal and that a Log translates every pair back.
func FuzzRunsOf(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{1, 0x10, 0x11, 5, 0})
	f.Add([]byte{0, 0xff})
	f.Fuzz(func(t *testing.T, gaps []byte) {
		var ps []Pair
		repeated := false
		next := Pair{}
		for _, g := range gaps {
			if g == 0xff && len(ps) > 0 {
				ps = append(ps, ps[len(ps)-1])
				repeated = true
				continue
			}
			next.Source += int64(g & 0x0f)
			next.Target += int64(g >> 4)
			ps = append(ps, next)
			next.Source++
			next.Target++
		}
		runs, err := RunsOf(ps)
		if repeated {
			if err == nil {
				t.Fatalf("RunsOf accepted repeated pairs %v", ps)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var back []Pair
		for i, r := range runs {
			if i > 0 && adjacent(runs[i-1], r) {
				t.Fatalf("runs %v and %v could be one", runs[i-1], r)
			}
			for k := range r.Count {
				back = append(back, Pair{Source: r.Source + k, Target: r.Target + k})
			}
		}
		if len(back) != len(ps) {
			t.Fatalf("runs %v expand to %d pairs, want %d", runs, len(back), len(ps))
		}
		for i := range ps {
			if back[i] != ps[i] {
				t.Fatalf("runs %v expand to %v at %d, want %v", runs, back[i], i, ps[i])
			}
		}
		var l Log
		if err := l.Add(Sync{Runs: runs, SourceNext: next.Source}); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if got, ok := l.Translate(p.Source); !ok || got != p.Target {
				t.Fatalf("Translate(%d) = %d, %v; want %d", p.Source, got, ok, p.Target)
			}
			if cp := l.TranslateCommitted(p.Source + 1); cp.Target != p.Target+1 || !cp.Exact {
				t.Fatalf("TranslateCommitted(%d) = %+v; want %d", p.Source+1, cp, p.Target+1)
			}
		}
	})
}

func BenchmarkTranslateCommitted(b *testing.B) {
	const n = 100_000
	runs := make([]Run, n)
	for i := range runs {
		// A marker after every 10 records on both sides keeps runs from merging.
		runs[i] = Run{Source: 11 * int64(i), Target: 11 * int64(i), Count: 10}
	}
	var l Log
	if err := l.Add(Sync{Runs: runs, SourceNext: 11 * n}); err != nil {
		b.Fatal(err)
	}
	if l.Len() != n {
		b.Fatalf("Len = %d, want %d", l.Len(), n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cs := make([]int64, 1024)
	for i := range cs {
		cs[i] = rng.Int64N(11*n + 100)
	}
	i := 0
	for b.Loop() {
		l.TranslateCommitted(cs[i%len(cs)])
		i++
	}
}
