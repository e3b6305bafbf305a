package offsetsync

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// decodeChunks adds every chunk of a snapshot to a new Index.
func decodeChunks(t *testing.T, chunks []Chunk) (*Index, []string) {
	t.Helper()
	x := &Index{}
	var writers []string
	for _, c := range chunks {
		if !IsSnapshot(c.Key) || IsBarrier(c.Key) {
			t.Fatalf("chunk key %q is not a snapshot's", c.Key)
		}
		rec, err := DecodeRecord(c.Key, c.Value)
		if err != nil {
			t.Fatalf("decode chunk %q: %v", c.Key, err)
		}
		writers = append(writers, rec.Writers...)
		for _, s := range rec.Syncs {
			if err := x.Add(s); err != nil {
				t.Fatalf("add %+v: %v", s, err)
			}
		}
	}
	return x, writers
}

func TestSnapshotRoundTripsRunsGapsTargetTopicsAndWriters(t *testing.T) {
	defer func(n int) { snapshotChunkBytes = n }(snapshotChunkBytes)
	snapshotChunkBytes = 100 // many chunks, runs of one partition split over them
	var x Index
	var want []Sync
	for p := range int32(3) {
		var src, dst int64 = 5, 100 * int64(p)
		for range 50 {
			s := Sync{Topic: "orders", Partition: p, TargetTopic: "eu.orders", Runs: []Run{{src, dst, 7}}, SourceNext: src + 8}
			want = append(want, s)
			src, dst = src+8, dst+8 // a marker after each transaction on both sides
		}
		want = append(want, GapSync("orders", p, "eu.orders", src, src+40))
	}
	want = append(want, Sync{Topic: "idle", Partition: 0, TargetTopic: "eu.idle", SourceNext: 12})
	for _, s := range want {
		if err := x.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	chunks := x.Snapshot([]string{"task-0-of-1", "task-0-of-3"}, "task-0-of-1/1")
	if len(chunks) < 6 {
		t.Fatalf("%d chunks for a 100-byte bound", len(chunks))
	}
	for _, c := range chunks {
		if len(c.Value) > snapshotChunkBytes {
			t.Fatalf("chunk %q is %d bytes, over the bound %d", c.Key, len(c.Value), snapshotChunkBytes)
		}
	}
	got, writers := decodeChunks(t, chunks)
	if !slices.Equal(writers, []string{"task-0-of-1", "task-0-of-3"}) {
		t.Fatalf("writers %q", writers)
	}
	for _, tp := range []struct {
		topic string
		p     int32
	}{{"orders", 0}, {"orders", 1}, {"orders", 2}, {"idle", 0}} {
		a, b := x.Log(tp.topic, tp.p), got.Log(tp.topic, tp.p)
		if !slices.Equal(a.runs.all(), b.runs.all()) || a.SourceNext() != b.SourceNext() || a.Skipped() != b.Skipped() || a.targetTopic != b.targetTopic {
			t.Fatalf("%s[%d] after the round trip: runs %v next %d skipped %d target %q; want %v %d %d %q", tp.topic, tp.p,
				b.runs.all(), b.SourceNext(), b.Skipped(), b.targetTopic, a.runs.all(), a.SourceNext(), a.Skipped(), a.targetTopic)
		}
	}
	// Re-reading the history and the snapshot both changes nothing.
	for _, s := range want {
		if err := got.Add(s); err != nil {
			t.Fatalf("the old sync %+v conflicts with the snapshot: %v", s, err)
		}
	}
	if got.Runs() != x.Runs() {
		t.Fatalf("%d runs after re-reading the syncs, want %d", got.Runs(), x.Runs())
	}
}

func TestSnapshotOfARunPerTransactionIsAFewBytesARun(t *testing.T) {
	var x Index
	const n = 100_000
	runs := make([]Run, n)
	for i := range runs {
		// 1000 records a transaction, a marker after each on the target.
		runs[i] = Run{Source: 1000 * int64(i), Target: 1001 * int64(i), Count: 1000}
	}
	if err := x.Add(Sync{Topic: "t", TargetTopic: "t", Runs: runs, SourceNext: 1000 * n}); err != nil {
		t.Fatal(err)
	}
	size := 0
	chunks := x.Snapshot(nil, "s")
	for _, c := range chunks {
		size += len(c.Value)
	}
	if perRun := float64(size) / n; perRun > 4.5 {
		t.Fatalf("%d runs take %d bytes (%.1f a run) in %d chunks", n, size, perRun, len(chunks))
	}
	t.Logf("%d runs: %d bytes in %d chunks", n, size, len(chunks))
}

// TestSnapshotTranslatesLikeTheFullHistoryAboveLogStart: for random
// partitions, a snapshot taken after pruning at a random source log start,
// read alone or after the history it replaces, translates every source
// offset at or above the log start as the full history does.
func TestSnapshotTranslatesLikeTheFullHistoryAboveLogStart(t *testing.T) {
	defer func(n int) { snapshotChunkBytes = n }(snapshotChunkBytes)
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x5a95))
		snapshotChunkBytes = 64 + rng.IntN(400)
		m := simulate(rng)
		syncs := slices.Clone(m.syncs)
		if rng.IntN(3) == 0 { // a gap above what was copied
			syncs = append(syncs, GapSync("t", 0, "t", m.stop, m.stop+1+rng.Int64N(5)))
		}
		full, pruned := &Index{}, &Index{}
		for _, s := range syncs {
			if err := full.Add(s); err != nil {
				t.Fatal(err)
			}
			if err := pruned.Add(s); err != nil {
				t.Fatal(err)
			}
		}
		logStart := rng.Int64N(int64(len(m.source)) + 2)
		pruned.PruneBelow(func(string, int32) (int64, bool) { return logStart, true })
		chunks := pruned.Snapshot([]string{"w"}, "s")
		alone, _ := decodeChunks(t, chunks)
		both := &Index{}
		for _, s := range syncs {
			if err := both.Add(s); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range chunks {
			rec, err := DecodeRecord(c.Key, c.Value)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range rec.Syncs {
				if err := both.Add(s); err != nil {
					t.Fatalf("seed %d: the snapshot conflicts with the history it restates: %v", seed, err)
				}
			}
		}
		want := full.Log("t", 0)
		for name, x := range map[string]*Index{"snapshot alone": alone, "history and snapshot": both} {
			l := x.Log("t", 0)
			if l.SourceNext() != want.SourceNext() || l.Skipped() != want.Skipped() {
				t.Fatalf("seed %d, %s: source next %d skipped %d; want %d %d", seed, name, l.SourceNext(), l.Skipped(), want.SourceNext(), want.Skipped())
			}
			for o := logStart; o < int64(len(m.source))+3; o++ {
				gt, gok := l.Translate(o)
				wt, wok := want.Translate(o)
				if gt != wt || gok != wok {
					t.Fatalf("seed %d, %s, log start %d: Translate(%d) = %d, %v; full history %d, %v", seed, name, logStart, o, gt, gok, wt, wok)
				}
				g, w := l.TranslateCommitted(o), want.TranslateCommitted(o)
				// Below the first run kept, the answer is that run's
				// first target offset rather than one past the last
				// record dropped: only markers lie between, so the
				// consumer reads the same records.
				g.Target, w.Target = m.nextRecord(g.Target), m.nextRecord(w.Target)
				if g != w {
					t.Fatalf("seed %d, %s, log start %d: TranslateCommitted(%d) = %+v; full history %+v", seed, name, logStart, o, g, w)
				}
			}
		}
	}
}

// nextRecord answers the target offset of the first record copied at or
// after target offset o: where a consumer starting at o reads first.
func (m mirrorRun) nextRecord(o int64) int64 {
	for i := max(o-m.targetBase, 0); i < int64(len(m.targetLog)); i++ {
		if m.targetLog[i] >= 0 {
			return m.targetBase + i
		}
	}
	return m.targetBase + int64(len(m.targetLog))
}

func TestDecodeRecordReadsBarriersSyncsAndSnapshots(t *testing.T) {
	rec, err := DecodeRecord(BarrierKey("task-1-of-2"), []byte("2026-01-01T00:00:00Z"))
	if err != nil || !slices.Equal(rec.Writers, []string{"task-1-of-2"}) || len(rec.Syncs) != 0 {
		t.Fatalf("barrier: %+v, %v", rec, err)
	}
	s := Sync{Topic: "t", Partition: 2, Runs: []Run{{1, 2, 3}}, SourceNext: 5}
	v, _ := s.Encode()
	rec, err = DecodeRecord(s.Key(), v)
	if err != nil || len(rec.Syncs) != 1 || rec.Syncs[0].SourceNext != 5 || len(rec.Writers) != 0 {
		t.Fatalf("sync: %+v, %v", rec, err)
	}
	for _, bad := range [][]byte{nil, {2}, {1, 5}, {1, 0, 1, 't'}, append([]byte{1, 0, 1, 't', 0, 0, 5, 0, 1, 0xff}, bytes.Repeat([]byte{0xff}, 10)...)} {
		if _, err := DecodeRecord([]byte("snapshot/x/0"), bad); err == nil {
			t.Errorf("snapshot %v decoded", bad)
		}
	}
}

// FuzzSnapshotChunk decodes whatever the fuzzer makes of a chunk: no panic,
// and what an Index takes of it survives a snapshot of its own unchanged.
func FuzzSnapshotChunk(f *testing.F) {
	var x Index
	_ = x.Add(Sync{Topic: "t", Runs: []Run{{0, 0, 3}, {4, 4, 2}}, SourceNext: 8})
	_ = x.Add(GapSync("t", 0, "t", 8, 12))
	for _, c := range x.Snapshot([]string{"w"}, "s") {
		f.Add(c.Value)
	}
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := DecodeRecord([]byte("snapshot/f/0"), raw)
		if err != nil {
			return
		}
		var l Index
		for _, s := range rec.Syncs {
			_ = l.Add(s)
		}
		again, _ := decodeChunks(t, l.Snapshot(rec.Writers, "again"))
		for _, topic := range l.Topics() {
			for p := range int32(3) {
				a, b := l.Log(topic, p), again.Log(topic, p)
				if !slices.Equal(a.runs.all(), b.runs.all()) || a.SourceNext() != b.SourceNext() || a.Skipped() != b.Skipped() {
					t.Fatalf("%s[%d] changed in a snapshot of its own: %v %d %d, then %v %d %d", topic, p, a.runs.all(), a.SourceNext(), a.Skipped(), b.runs.all(), b.SourceNext(), b.Skipped())
				}
			}
		}
	})
}
