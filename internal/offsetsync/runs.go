package offsetsync

import (
	"encoding/binary"
	"iter"
	"slices"
	"sort"
)

// blockRuns is the runs frozen at a time. A busy mirror writes a run per
// partition and transaction (each transaction's marker breaks the target
// side), so a Log holds millions: held as []Run they cost 24 bytes each
// plus the slice's spare capacity, and were the agent's largest and only
// growing use of memory. Frozen as varint deltas they cost about 3 bytes,
// and a trickle (the same gaps and count, run after run) far less.
const blockRuns = 64

// hotRuns is the most runs the tail holds: when it is full the oldest
// blockRuns are frozen. Its array is kept at this size, since a mirror has a
// tail per partition (twice: its tasks' and its translator's).
const hotRuns = blockRuns + 16

// A block whose coding is at most mergeBytes takes the next frozen runs
// too, up to maxBlockRuns: a trickle's runs then cost a fraction of a byte
// each rather than a block's fixed cost per 64.
const (
	mergeBytes   = 64
	maxBlockRuns = 4096
)

// runList holds a Log's runs, sorted by source offset and merged: older
// runs frozen into compact blocks, the latest in a hot tail that takes the
// appends. Every run of a block ends before every run of the tail; a change
// below the tail's start thaws the blocks it needs first (rare: runs arrive
// in order, and re-delivered ones are found without thawing).
type runList struct {
	frozen []runBlock
	nFroze int
	hot    []Run
}

// runBlock is up to maxBlockRuns runs coded as groups of uvarints: the gap
// since the previous run's end on each side (absolute offsets for the
// first), then count<<1, or count<<1|1 and a repeat: so many runs in a row
// with the same gaps and count.
type runBlock struct {
	last Run
	n    int
	enc  []byte
}

func freezeBlock(runs []Run) runBlock {
	buf := make([]byte, 0, 4*binary.MaxVarintLen64+4*len(runs))
	var prev Run
	for i := 0; i < len(runs); {
		r := runs[i]
		sourceGap, targetGap := r.Source-prev.sourceEnd(), r.Target-prev.targetEnd()
		last, rep := r, 1
		for ; i+rep < len(runs); rep++ {
			q := runs[i+rep]
			if q.Source-last.sourceEnd() != sourceGap || q.Target-last.targetEnd() != targetGap || q.Count != r.Count {
				break
			}
			last = q
		}
		buf = binary.AppendUvarint(buf, uint64(sourceGap))
		buf = binary.AppendUvarint(buf, uint64(targetGap))
		if rep == 1 {
			buf = binary.AppendUvarint(buf, uint64(r.Count)<<1)
		} else {
			buf = binary.AppendUvarint(buf, uint64(r.Count)<<1|1)
			buf = binary.AppendUvarint(buf, uint64(rep))
		}
		prev, i = last, i+rep
	}
	return runBlock{last: runs[len(runs)-1], n: len(runs), enc: slices.Clone(buf)}
}

// runs yields the block's runs in order.
func (b *runBlock) runs() iter.Seq[Run] {
	return func(yield func(Run) bool) {
		enc := b.enc
		next := func() uint64 {
			v, n := binary.Uvarint(enc)
			enc = enc[n:]
			return v
		}
		var prev Run
		for len(enc) > 0 {
			sourceGap, targetGap, count := int64(next()), int64(next()), next()
			rep := uint64(1)
			if count&1 == 1 {
				rep = next()
			}
			for range rep {
				r := Run{Source: prev.sourceEnd() + sourceGap, Target: prev.targetEnd() + targetGap, Count: int64(count >> 1)}
				if !yield(r) {
					return
				}
				prev = r
			}
		}
	}
}

// thaw appends the block's runs to into.
func (b *runBlock) thaw(into []Run) []Run {
	for r := range b.runs() {
		into = append(into, r)
	}
	return into
}

func (l *runList) len() int { return l.nFroze + len(l.hot) }

// all answers every run, thawed: for snapshots and tests.
func (l *runList) all() []Run {
	out := make([]Run, 0, l.len())
	for i := range l.frozen {
		out = l.frozen[i].thaw(out)
	}
	return append(out, l.hot...)
}

func (l *runList) first() (Run, bool) {
	if len(l.frozen) > 0 {
		for r := range l.frozen[0].runs() {
			return r, true
		}
	}
	if len(l.hot) > 0 {
		return l.hot[0], true
	}
	return Run{}, false
}

func (l *runList) last() (Run, bool) {
	if len(l.hot) > 0 {
		return l.hot[len(l.hot)-1], true
	}
	if len(l.frozen) > 0 {
		return l.frozen[len(l.frozen)-1].last, true
	}
	return Run{}, false
}

// beforeHot answers the last frozen run, which precedes the tail.
func (l *runList) beforeHot() (Run, bool) {
	if len(l.frozen) == 0 {
		return Run{}, false
	}
	return l.frozen[len(l.frozen)-1].last, true
}

// search answers the first run for which f holds, f being false and then
// true along the runs (as sort.Search), and whether there is one.
func (l *runList) search(f func(Run) bool) (Run, bool) {
	if n := len(l.frozen); n > 0 && f(l.frozen[n-1].last) {
		b := sort.Search(n, func(k int) bool { return f(l.frozen[k].last) })
		for r := range l.frozen[b].runs() {
			if f(r) {
				return r, true
			}
		}
	}
	i := sort.Search(len(l.hot), func(k int) bool { return f(l.hot[k]) })
	if i == len(l.hot) {
		return Run{}, false
	}
	return l.hot[i], true
}

// floor answers the last run that starts below c.
func (l *runList) floor(c int64) (Run, bool) {
	if len(l.hot) > 0 && l.hot[0].Source < c {
		i := sort.Search(len(l.hot), func(k int) bool { return l.hot[k].Source >= c })
		return l.hot[i-1], true
	}
	// The first block whose last run starts at or above c holds the
	// first run that does; the run before that one is the answer.
	b := sort.Search(len(l.frozen), func(k int) bool { return l.frozen[k].last.Source >= c })
	if b < len(l.frozen) {
		var prev Run
		found := false
		for r := range l.frozen[b].runs() {
			if r.Source >= c {
				break
			}
			prev, found = r, true
		}
		if found {
			return prev, true
		}
	}
	if b > 0 {
		return l.frozen[b-1].last, true
	}
	return Run{}, false
}

// thawFrom moves back into the tail every block whose runs reach src, so
// that a run starting at src is placed in the tail.
func (l *runList) thawFrom(src int64) {
	k := len(l.frozen)
	for k > 0 && l.frozen[k-1].last.sourceEnd() >= src {
		k--
	}
	if k == len(l.frozen) {
		return
	}
	var back []Run
	for i := k; i < len(l.frozen); i++ {
		back = l.frozen[i].thaw(back)
		l.nFroze -= l.frozen[i].n
	}
	l.frozen = slices.Delete(l.frozen, k, len(l.frozen))
	l.hot = append(back, l.hot...)
}

// freeze compacts the tail down to fewer than hotRuns runs.
func (l *runList) freeze() {
	for len(l.hot) >= hotRuns {
		runs := l.hot[:blockRuns]
		if n := len(l.frozen); n > 0 && len(l.frozen[n-1].enc) <= mergeBytes && l.frozen[n-1].n+blockRuns <= maxBlockRuns {
			runs = append(l.frozen[n-1].thaw(make([]Run, 0, l.frozen[n-1].n+blockRuns)), runs...)
			l.frozen = l.frozen[:n-1]
		}
		l.frozen = append(l.frozen, freezeBlock(runs))
		l.nFroze += blockRuns
		l.hot = l.hot[:copy(l.hot, l.hot[blockRuns:])]
	}
	if cap(l.hot) > hotRuns { // grown by an insert, a thaw or a snapshot's many runs
		l.hot = append(make([]Run, 0, hotRuns), l.hot...)
	}
}

// dropBelow removes the first k runs.
func (l *runList) dropBelow(k int) {
	for len(l.frozen) > 0 && k >= l.frozen[0].n {
		k -= l.frozen[0].n
		l.nFroze -= l.frozen[0].n
		l.frozen = slices.Delete(l.frozen, 0, 1)
	}
	switch {
	case k == 0:
	case len(l.frozen) > 0:
		l.nFroze -= k
		l.frozen[0] = freezeBlock(l.frozen[0].thaw(nil)[k:])
	default:
		l.hot = slices.Delete(l.hot, 0, k)
	}
}

// countBelow answers how many runs f is false for (as sort.Search).
func (l *runList) countBelow(f func(Run) bool) int {
	b := sort.Search(len(l.frozen), func(k int) bool { return f(l.frozen[k].last) })
	n := 0
	for i := range b {
		n += l.frozen[i].n
	}
	if b < len(l.frozen) {
		for r := range l.frozen[b].runs() {
			if f(r) {
				break
			}
			n++
		}
		return n
	}
	return n + sort.Search(len(l.hot), func(k int) bool { return f(l.hot[k]) })
}
