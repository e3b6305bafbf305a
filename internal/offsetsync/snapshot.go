package offsetsync

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/kafka-failover/kafka-failover/internal/recordformat"
)

// A snapshot restates, in a few records, what one partition of a sync topic
// says: for each source partition whose syncs are in it, the target topic,
// SourceNext, every gap and the runs still needed (see Log.PruneBelow), and
// the writers its barriers announced. Its writer then deletes the records
// before it, so the topic holds a bounded history however long the mirror
// runs. A snapshot's chunks are committed in one transaction: a read
// committed reader sees all of them or none. Each chunk stands on its own
// (runs of one partition may be split over several chunks, which Log.Add
// merges), so no reader reassembles anything.
//
// Chunk format, version 1 (integers are varints, strings a uvarint length
// then bytes):
//
//	version=1 | writers: n, each a string |
//	entries until the end: topic, partition, target topic, source next,
//	  gaps: n, each (start - previous gap's end, length),
//	  runs: n, each (source - previous run's source end,
//	                 target - previous run's target end, count)
//
// The version byte is the chunk's record format version (package
// recordformat): one above recordformat.Reads is refused as unknown; a
// change of this encoding raises recordformat.Current and this byte with it.
//
// Run deltas start at 0 in each entry. A run after a transaction is
// typically (0, 1, count): three or four bytes for a transaction's run.

// snapshotPrefix starts the key of every chunk of a snapshot.
const snapshotPrefix = "snapshot/"

const snapshotVersion = 1

// snapshotChunkBytes bounds a chunk's value: well under Kafka's default
// max.message.bytes (1 MiB) with the record's own overhead.
var snapshotChunkBytes = 256 << 10

// IsSnapshot reports whether a record key is a snapshot chunk.
func IsSnapshot(key []byte) bool { return bytes.HasPrefix(key, []byte(snapshotPrefix)) }

// Chunk is one record of a snapshot.
type Chunk struct {
	Key, Value []byte
}

// Snapshot encodes every Log of x, and the writers, as the chunks of one
// snapshot. stamp makes the keys unique to this snapshot (the writer and a
// time), so that a compacted topic would keep every chunk as well.
// Prune first (Log.PruneBelow): a snapshot holds what the Logs hold.
func (x *Index) Snapshot(writers []string, stamp string) []Chunk {
	e := snapshotEncoder{}
	e.begin(writers)
	x.mu.Lock()
	keys := make([]partitionKey, 0, len(x.logs))
	for k := range x.logs {
		keys = append(keys, k)
	}
	x.mu.Unlock()
	slices.SortFunc(keys, func(a, b partitionKey) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	for _, k := range keys {
		e.log(k, x.Log(k.topic, k.partition))
	}
	return e.finish(stamp)
}

type snapshotEncoder struct {
	chunks [][]byte
	cur    []byte
	empty  bool // cur holds no entry yet
}

func (e *snapshotEncoder) begin(writers []string) {
	e.cur = append(e.cur[:0:0], snapshotVersion)
	e.cur = binary.AppendUvarint(e.cur, uint64(len(writers)))
	for _, w := range writers {
		e.cur = appendString(e.cur, w)
	}
	e.empty = true
}

// next closes the current chunk and starts another, without writers.
func (e *snapshotEncoder) next() {
	e.chunks = append(e.chunks, e.cur)
	e.cur = nil
	e.begin(nil)
}

// log appends one partition's entry, split over chunks when its runs do
// not fit in one.
func (e *snapshotEncoder) log(k partitionKey, l *Log) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.runs.len() == 0 && len(l.gaps) == 0 && l.sourceNext == 0 {
		return // asked for, never written
	}
	head := appendString(nil, k.topic)
	head = binary.AppendVarint(head, int64(k.partition))
	head = appendString(head, l.targetTopic)
	head = binary.AppendUvarint(head, uint64(l.sourceNext))
	var gaps []byte
	starts := make([]int64, 0, len(l.gaps))
	for from := range l.gaps {
		starts = append(starts, from)
	}
	slices.Sort(starts)
	gaps = binary.AppendUvarint(gaps, uint64(len(starts)))
	var prevEnd int64
	for _, from := range starts {
		to := l.gaps[from]
		// Gaps of one partition do not overlap, but a delta must not
		// go negative even if they did.
		gaps = binary.AppendVarint(gaps, from-prevEnd)
		gaps = binary.AppendUvarint(gaps, uint64(to-from))
		prevEnd = to
	}
	runs := l.runs.all()
	const maxRun = 3 * binary.MaxVarintLen64
	var piece []byte
	for first := true; first || len(runs) > 0; first = false {
		if !e.empty && len(e.cur)+len(head)+len(gaps)+binary.MaxVarintLen64+maxRun > snapshotChunkBytes {
			e.next()
		}
		// The gaps go with the first piece; they are not split, so a
		// partition with thousands of gaps may exceed the bound.
		e.cur = append(e.cur, head...)
		if first {
			e.cur = append(e.cur, gaps...)
		} else {
			e.cur = binary.AppendUvarint(e.cur, 0)
		}
		e.empty = false
		piece = piece[:0]
		var prev Run
		n := 0
		for _, r := range runs {
			if n > 0 && len(e.cur)+binary.MaxVarintLen64+len(piece)+maxRun > snapshotChunkBytes {
				break
			}
			piece = binary.AppendUvarint(piece, uint64(r.Source-prev.sourceEnd()))
			piece = binary.AppendUvarint(piece, uint64(r.Target-prev.targetEnd()))
			piece = binary.AppendUvarint(piece, uint64(r.Count))
			prev = r
			n++
		}
		e.cur = binary.AppendUvarint(e.cur, uint64(n))
		e.cur = append(e.cur, piece...)
		runs = runs[n:]
	}
}

func (e *snapshotEncoder) finish(stamp string) []Chunk {
	e.chunks = append(e.chunks, e.cur)
	out := make([]Chunk, len(e.chunks))
	for i, v := range e.chunks {
		out[i] = Chunk{Key: []byte(snapshotPrefix + stamp + "/" + strconv.Itoa(i)), Value: v}
	}
	return out
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Record is what one record of a sync topic says.
type Record struct {
	Syncs []Sync
	// Writers are the writers it announces: a barrier's, or those a
	// snapshot keeps after their barriers were deleted.
	Writers []string
}

// DecodeRecord reads any record of a sync topic: a barrier, a sync or a
// snapshot chunk. Every reader of the topic goes through it, so that none
// misses what a snapshot restates.
func DecodeRecord(key, value []byte) (Record, error) {
	switch {
	case IsBarrier(key):
		return Record{Writers: []string{BarrierWriter(key)}}, nil
	case IsSnapshot(key):
		return decodeSnapshot(value)
	}
	s, err := Decode(value)
	if err != nil {
		return Record{}, err
	}
	return Record{Syncs: []Sync{s}}, nil
}

// Writers answers the writers a record announces, without decoding the
// syncs of a snapshot or a sync: for readers that look for writers only.
func Writers(key, value []byte) ([]string, error) {
	switch {
	case IsBarrier(key):
		return []string{BarrierWriter(key)}, nil
	case IsSnapshot(key):
		d, err := newSnapshotDecoder(value)
		if err != nil {
			return nil, err
		}
		return d.writers(), d.err
	}
	return nil, nil
}

type snapshotDecoder struct {
	b   []byte
	err error
}

func (d *snapshotDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: snapshot: %s", ErrInvalid, what)
	}
}

func (d *snapshotDecoder) uvarint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > math.MaxInt64 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return int64(v)
}

func (d *snapshotDecoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *snapshotDecoder) string(what string) string {
	n := d.uvarint(what)
	if d.err != nil || n > int64(len(d.b)) {
		d.fail(what)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a number of items, each at least min bytes long.
func (d *snapshotDecoder) count(what string, each int64) int64 {
	n := d.uvarint(what)
	if d.err == nil && n > int64(len(d.b))/each {
		d.fail(what)
		return 0
	}
	return n
}

// add returns a+b, failing on overflow.
func (d *snapshotDecoder) add(a, b int64, what string) int64 {
	if b < 0 && a < math.MinInt64-b || b > 0 && a > math.MaxInt64-b {
		d.fail(what)
		return 0
	}
	return a + b
}

func newSnapshotDecoder(value []byte) (*snapshotDecoder, error) {
	if len(value) > 0 && int(value[0]) > recordformat.Reads {
		return nil, fmt.Errorf("snapshot chunk: %w", &recordformat.VersionError{Version: strconv.Itoa(int(value[0])), Reads: recordformat.Reads})
	}
	if len(value) == 0 || value[0] != snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot version %v is not %d", ErrInvalid, value[:min(len(value), 1)], snapshotVersion)
	}
	return &snapshotDecoder{b: value[1:]}, nil
}

func (d *snapshotDecoder) writers() []string {
	var ws []string
	for range d.count("writers", 1) {
		ws = append(ws, d.string("writer"))
	}
	return ws
}

func decodeSnapshot(value []byte) (Record, error) {
	d, err := newSnapshotDecoder(value)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Writers: d.writers()}
	for d.err == nil && len(d.b) > 0 {
		topic := d.string("topic")
		partition := d.varint("partition")
		if partition < 0 || partition > math.MaxInt32 {
			d.fail("partition")
		}
		target := d.string("target topic")
		next := d.uvarint("source next")
		var prevEnd int64
		for range d.count("gaps", 2) {
			from := d.add(prevEnd, d.varint("gap start"), "gap start")
			to := d.add(from, d.uvarint("gap length"), "gap length")
			if d.err == nil {
				// Validated by Log.Add like any gap sync.
				rec.Syncs = append(rec.Syncs, GapSync(topic, int32(partition), target, from, to))
			}
			prevEnd = to
		}
		s := Sync{Topic: topic, Partition: int32(partition), TargetTopic: target, SourceNext: next}
		var prev Run
		for range d.count("runs", 3) {
			r := Run{Source: d.add(prev.sourceEnd(), d.uvarint("run source"), "run source")}
			r.Target = d.add(prev.targetEnd(), d.uvarint("run target"), "run target")
			r.Count = d.uvarint("run count")
			if d.err != nil || r.validate() != nil {
				d.fail("run")
				break
			}
			s.Runs = append(s.Runs, r)
			prev = r
		}
		rec.Syncs = append(rec.Syncs, s)
	}
	if d.err != nil {
		return Record{}, d.err
	}
	return rec, nil
}
