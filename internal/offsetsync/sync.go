// Package offsetsync records and translates the exact mapping between source
// offsets and target offsets of a mirrored partition.
//
// A mirror task writes each transaction's records and, in the same
// transaction, an offset sync listing the runs of source offsets it copied and
// the target offsets they got. Both sides have gaps (transaction markers,
// aborted records, compaction holes), so translation uses the runs exactly and
// never interpolates.
package offsetsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

var (
	// ErrInvalid reports malformed input: offsets that are negative, not
	// strictly increasing, or a sync whose SourceNext is behind its own runs.
	ErrInvalid = errors.New("offsetsync: invalid offsets")
	// ErrConflict reports a run that maps a known source or target offset
	// differently from what was already committed: it would mean duplicates.
	ErrConflict = errors.New("offsetsync: conflicting offset sync")
)

// Pair is the source and target offset of one copied record.
type Pair struct {
	Source int64 `json:"source"`
	Target int64 `json:"target"`
}

// Run maps source offsets [Source, Source+Count) one-to-one onto target
// offsets [Target, Target+Count).
type Run struct {
	Source int64 `json:"source"`
	Target int64 `json:"target"`
	Count  int64 `json:"count"`
}

func (r Run) sourceEnd() int64 { return r.Source + r.Count }
func (r Run) targetEnd() int64 { return r.Target + r.Count }

// delta is constant inside a run; two overlapping runs agree iff their deltas do.
func (r Run) delta() int64 { return r.Target - r.Source }

func (r Run) validate() error {
	if r.Source < 0 || r.Target < 0 || r.Count <= 0 {
		return fmt.Errorf("%w: run %+v", ErrInvalid, r)
	}
	// Ends are computed as offset+count everywhere, so they must not overflow.
	if r.Count > math.MaxInt64-r.Source || r.Count > math.MaxInt64-r.Target {
		return fmt.Errorf("%w: run %+v overflows", ErrInvalid, r)
	}
	return nil
}

// adjacent reports whether b continues a on both sides, so the two can be one run.
func adjacent(a, b Run) bool {
	return a.sourceEnd() == b.Source && a.targetEnd() == b.Target
}

// RunsOf compresses the pairs of one transaction, in produce order, into the
// fewest runs. Both sides must be non-negative and strictly increasing.
func RunsOf(pairs []Pair) ([]Run, error) {
	var runs []Run
	for i, p := range pairs {
		if p.Source < 0 || p.Target < 0 {
			return nil, fmt.Errorf("%w: pair %d %+v is negative", ErrInvalid, i, p)
		}
		if i > 0 {
			prev := pairs[i-1]
			if p.Source <= prev.Source || p.Target <= prev.Target {
				return nil, fmt.Errorf("%w: pair %d %+v does not follow %+v", ErrInvalid, i, p, prev)
			}
		}
		// Strictly increasing means prev+1 cannot overflow here.
		if n := len(runs); n > 0 && adjacent(runs[n-1], Run{Source: p.Source, Target: p.Target, Count: 1}) {
			runs[n-1].Count++
			continue
		}
		runs = append(runs, Run{Source: p.Source, Target: p.Target, Count: 1})
	}
	return runs, nil
}

// Sync is one offset-sync record, written in the same transaction as the
// records it describes.
type Sync struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Runs      []Run  `json:"runs"`
	// SourceNext is the next source offset the task reads after this
	// transaction; it may exceed the last run's end because markers, aborted
	// records and compaction holes are skipped, not copied.
	SourceNext  int64  `json:"source_next"`
	TargetTopic string `json:"target_topic"`
	// Skipped marks a gap: source offsets [SourceNext-Skipped, SourceNext)
	// were deleted at the source (retention, DeleteRecords) before the
	// mirror copied them, and it resumed at SourceNext. A gap sync has no
	// runs. Offsets, not records: markers among them count too.
	Skipped int64 `json:"skipped,omitempty"`
}

// GapSync is the sync that records a gap: source offsets [from, to) of a
// partition were deleted before they were mirrored.
func GapSync(topic string, partition int32, targetTopic string, from, to int64) Sync {
	return Sync{Topic: topic, Partition: partition, TargetTopic: targetTopic, SourceNext: to, Skipped: to - from}
}

// Key is the record key of a sync: topic/partition/first source offset, or
// SourceNext when the sync has no runs. Sync topics were compacted before
// snapshots bounded them (see TopicConfigs); the keys kept that safe.
// Kafka topic names cannot contain '/', so the key is unambiguous.
// A run-less sync can share its key with the next sync; compaction then drops
// it, which loses nothing because the next sync's SourceNext supersedes it.
//
// A gap sync has a key of its own, or compaction would drop it for the next
// sync, whose first run starts where the gap ends: the gap must stay known.
func (s Sync) Key() []byte {
	if s.Skipped > 0 {
		return fmt.Appendf(nil, "%s/%d/skipped/%d", s.Topic, s.Partition, s.SourceNext-s.Skipped)
	}
	first := s.SourceNext
	if len(s.Runs) > 0 {
		first = s.Runs[0].Source
	}
	return fmt.Appendf(nil, "%s/%d/%d", s.Topic, s.Partition, first)
}

// Encode serialises the sync as JSON.
func (s Sync) Encode() ([]byte, error) { return json.Marshal(s) }

// Decode parses a sync written by Encode. Unknown fields are ignored so older
// readers accept newer writers; offsets are validated when the sync is added.
func Decode(b []byte) (Sync, error) {
	var s Sync
	if err := json.Unmarshal(b, &s); err != nil {
		return Sync{}, fmt.Errorf("offsetsync: decode: %w", err)
	}
	return s, nil
}

// validate checks the sync on its own: valid runs, strictly increasing on both
// sides, and SourceNext not behind the last run.
func (s Sync) validate() error {
	if s.SourceNext < 0 {
		return fmt.Errorf("%w: negative source_next %d", ErrInvalid, s.SourceNext)
	}
	if s.Skipped < 0 || s.Skipped > s.SourceNext || (s.Skipped > 0 && len(s.Runs) > 0) {
		return fmt.Errorf("%w: skipped %d with source_next %d and %d runs", ErrInvalid, s.Skipped, s.SourceNext, len(s.Runs))
	}
	for i, r := range s.Runs {
		if err := r.validate(); err != nil {
			return err
		}
		if i > 0 {
			prev := s.Runs[i-1]
			if r.Source < prev.sourceEnd() || r.Target < prev.targetEnd() {
				return fmt.Errorf("%w: run %+v does not follow %+v", ErrInvalid, r, prev)
			}
		}
	}
	if n := len(s.Runs); n > 0 && s.SourceNext < s.Runs[n-1].sourceEnd() {
		return fmt.Errorf("%w: source_next %d is behind run %+v", ErrInvalid, s.SourceNext, s.Runs[n-1])
	}
	return nil
}
