package offsetsync

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
)

// Log is the translation index of one partition: every committed run, sorted
// by source offset and merged when adjacent on both sides. The zero value is
// an empty Log. It is safe for concurrent use.
type Log struct {
	mu         sync.RWMutex
	runs       runList
	sourceNext int64
	// targetTopic is the latest sync's, kept for snapshots.
	targetTopic string
	// gaps maps the first offset of each gap (source offsets deleted
	// before they were mirrored) to one past its last.
	gaps map[int64]int64
}

// Checkpoint is the target position for a committed source offset.
type Checkpoint struct {
	// Target is the offset a consumer of the target partition starts at to
	// read exactly the mirrored records at or above the committed source offset.
	Target int64
	// NotMirrored is an upper bound on source records below the committed
	// offset that are not on the target yet; 0 when Exact.
	NotMirrored int64
	// Exact is true when every source offset below the committed offset is
	// known to the Log (committed offset <= SourceNext), so NotMirrored is 0.
	// It speaks of NotMirrored only: Skipped says what the group misses ahead.
	Exact bool
	// OK is false when nothing is mirrored, so no target position is known.
	OK bool
	// Skipped counts source offsets at or above the committed offset that
	// the source deleted before they were mirrored: the group resumes after
	// them on the target and never reads them. Offsets, not records, so an
	// upper bound; the resumption is exact only when it is 0.
	Skipped int64
}

// Add records the runs of s and advances SourceNext.
// Runs may arrive out of order: each one is inserted at its source position.
// Re-delivery of known runs is a no-op, so replaying the sync topic is safe.
// An overlap that maps differently, on either side, is ErrConflict and leaves the Log unchanged.
// SourceNext only moves forward, so replaying an old sync does not rewind it.
func (l *Log) Add(s Sync) error {
	if err := s.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Check every run before changing anything so a bad sync is all-or-nothing.
	// Runs of one sync are increasing, so checking each against the old runs suffices.
	for _, r := range s.Runs {
		if l.known(r) {
			continue
		}
		l.runs.thawFrom(r.Source)
		if _, _, _, err := l.place(r); err != nil {
			return err
		}
	}
	for _, r := range s.Runs {
		if l.known(r) {
			continue
		}
		l.runs.thawFrom(r.Source)
		i, j, merged, err := l.place(r)
		if err != nil {
			return err
		}
		l.replace(i, j, merged)
	}
	l.runs.freeze()
	l.sourceNext = max(l.sourceNext, s.SourceNext)
	if s.TargetTopic != "" {
		l.targetTopic = s.TargetTopic
	}
	if s.Skipped > 0 {
		if l.gaps == nil {
			l.gaps = map[int64]int64{}
		}
		l.gaps[s.SourceNext-s.Skipped] = s.SourceNext
	}
	return nil
}

// Skipped answers the source offsets of the partition that were deleted
// before they were mirrored, over its whole history.
func (l *Log) Skipped() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.skippedFrom(0)
}

// skippedFrom counts the skipped offsets at or above c.
func (l *Log) skippedFrom(c int64) int64 {
	var n int64
	for from, to := range l.gaps {
		n += max(0, to-max(from, c))
	}
	return n
}

// known says whether a run already held maps all of r the same way: a
// re-delivered run, which changes nothing.
func (l *Log) known(r Run) bool {
	e, ok := l.runs.search(func(e Run) bool { return e.sourceEnd() > r.Source })
	return ok && e.Source <= r.Source && e.sourceEnd() >= r.sourceEnd() && e.delta() == r.delta()
}

// place finds where r goes in the hot tail without changing the Log:
// hot[i:j] overlap r and are replaced by merged, their union. Call
// runs.thawFrom(r.Source) first.
func (l *Log) place(r Run) (i, j int, merged Run, err error) {
	hot := l.runs.hot
	i = sort.Search(len(hot), func(k int) bool { return hot[k].sourceEnd() > r.Source })
	merged = r
	for j = i; j < len(hot) && hot[j].Source < r.sourceEnd(); j++ {
		e := hot[j]
		if e.delta() != r.delta() {
			return 0, 0, Run{}, fmt.Errorf("%w: run %+v overlaps %+v", ErrConflict, r, e)
		}
		// Same delta and overlapping with r, so the union is one contiguous run.
		lo, hi := min(merged.Source, e.Source), max(merged.sourceEnd(), e.sourceEnd())
		merged = Run{Source: lo, Target: lo + r.delta(), Count: hi - lo}
	}
	// Target offsets must increase with source offsets, or two source records
	// would claim the same target record.
	prev, ok := l.runs.beforeHot()
	if i > 0 {
		prev, ok = hot[i-1], true
	}
	if ok && prev.targetEnd() > merged.Target {
		return 0, 0, Run{}, fmt.Errorf("%w: run %+v targets below %+v", ErrConflict, r, prev)
	}
	if j < len(hot) && merged.targetEnd() > hot[j].Target {
		return 0, 0, Run{}, fmt.Errorf("%w: run %+v targets above %+v", ErrConflict, r, hot[j])
	}
	return i, j, merged, nil
}

// replace puts merged in place of hot[i:j] and merges it with neighbours
// adjacent on both sides. A frozen run is never adjacent: thawFrom thawed
// every block reaching merged's start, and the runs are kept merged.
func (l *Log) replace(i, j int, merged Run) {
	runs := l.runs.hot
	if i == j {
		runs = slices.Insert(runs, i, merged)
	} else {
		runs = slices.Replace(runs, i, j, merged)
	}
	if i+1 < len(runs) && adjacent(runs[i], runs[i+1]) {
		runs[i].Count += runs[i+1].Count
		runs = slices.Delete(runs, i+1, i+2)
	}
	if i > 0 && adjacent(runs[i-1], runs[i]) {
		runs[i-1].Count += runs[i].Count
		runs = slices.Delete(runs, i, i+1)
	}
	l.runs.hot = runs
}

// Translate returns the target offset of a mirrored source offset.
// ok is false for gaps (markers, aborted, compacted, pruned) and beyond the end,
// because no target record corresponds to them.
func (l *Log) Translate(src int64) (target int64, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	r, ok := l.runs.search(func(r Run) bool { return r.sourceEnd() > src })
	if !ok || r.Source > src {
		return 0, false
	}
	return r.Target + (src - r.Source), true
}

// TranslateCommitted maps a committed source offset c (the next record the
// group would read) to the target offset to resume from.
// It is one past the last mirrored record below c: that record was read, and
// target gaps after it hold only markers, which consumers skip.
// With nothing mirrored below c it is the first mirrored record: the group has
// read nothing that is on the target.
// With nothing mirrored at all, OK is false: the target position is unknown.
// Beyond SourceNext the group read records the mirror has not copied yet; the
// Log cannot tell records from gaps there, so NotMirrored is c-SourceNext, an
// upper bound, and Exact is false.
func (l *Log) TranslateCommitted(c int64) Checkpoint {
	l.mu.RLock()
	defer l.mu.RUnlock()
	r, ok := l.runs.floor(c)
	if !ok {
		first, ok := l.runs.first()
		if !ok {
			return Checkpoint{}
		}
		return Checkpoint{Target: first.Target, Exact: true, OK: true, Skipped: l.skippedFrom(c)}
	}
	last := min(c-1, r.sourceEnd()-1) // last mirrored source offset below c
	cp := Checkpoint{Target: r.Target + (last - r.Source) + 1, Exact: c <= l.sourceNext, OK: true, Skipped: l.skippedFrom(c)}
	if !cp.Exact {
		cp.NotMirrored = c - l.sourceNext
	}
	return cp
}

// LastSource returns the last mirrored source offset; ok is false if none.
func (l *Log) LastSource() (int64, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	r, ok := l.runs.last()
	if !ok {
		return 0, false
	}
	return r.sourceEnd() - 1, true
}

// SourceNext returns the highest SourceNext of any added sync.
func (l *Log) SourceNext() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.sourceNext
}

// Len returns the number of runs held, a measure of memory use.
func (l *Log) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.runs.len()
}

// PruneBelow drops runs that end at or below src, for source retention.
// Runs straddling src are kept whole, so translation above src stays exact.
// The last run is always kept, so caught-up groups still get a checkpoint.
// Committed offsets below the first kept run then map to its target, which
// is right as long as nothing below src is still read.
func (l *Log) PruneBelow(src int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.runs.countBelow(func(r Run) bool { return r.sourceEnd() > src })
	k = min(k, l.runs.len()-1)
	if k > 0 {
		l.runs.dropBelow(k)
	}
}

// Index holds the Log of every mirrored partition. The zero value is empty
// and ready to use; it is safe for concurrent use.
type Index struct {
	mu   sync.Mutex
	logs map[partitionKey]*Log
}

type partitionKey struct {
	topic     string
	partition int32
}

// Log returns the Log of a source partition, creating an empty one on demand.
func (x *Index) Log(topic string, partition int32) *Log {
	x.mu.Lock()
	defer x.mu.Unlock()
	key := partitionKey{topic, partition}
	l, ok := x.logs[key]
	if !ok {
		if x.logs == nil {
			x.logs = make(map[partitionKey]*Log)
		}
		l = new(Log)
		x.logs[key] = l
	}
	return l
}

// Topics answers the source topics of the Logs held.
func (x *Index) Topics() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for k := range x.logs {
		if !seen[k.topic] {
			seen[k.topic] = true
			out = append(out, k.topic)
		}
	}
	slices.Sort(out)
	return out
}

// PruneBelow prunes the Log of each source partition that starts answers
// for (its log start on the source); see Log.PruneBelow.
func (x *Index) PruneBelow(starts func(topic string, partition int32) (int64, bool)) {
	x.mu.Lock()
	logs := maps.Clone(x.logs)
	x.mu.Unlock()
	for k, l := range logs {
		if start, ok := starts(k.topic, k.partition); ok {
			l.PruneBelow(start)
		}
	}
}

// Runs answers the number of runs held in every Log.
func (x *Index) Runs() int {
	x.mu.Lock()
	logs := maps.Clone(x.logs)
	x.mu.Unlock()
	n := 0
	for _, l := range logs {
		n += l.Len()
	}
	return n
}

// Add records s in the Log of its source partition.
func (x *Index) Add(s Sync) error {
	return x.Log(s.Topic, s.Partition).Add(s)
}
