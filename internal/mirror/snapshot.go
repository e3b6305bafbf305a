package mirror

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// A task keeps the history of its own offset-sync partition bounded: from
// time to time it commits a snapshot of what the partition says (see
// offsetsync.Index.Snapshot), with the runs still needed to translate any
// offset in the source's log, and then deletes the records before it.
//
// It snapshots once the syncs written since the last snapshot outnumber the
// runs that snapshot held (and snapshotFloor): the bytes snapshots rewrite
// stay within a small factor of the syncs written, and a start reads at most
// about twice the live history plus snapshotFloor syncs.
const snapshotFloor = 10_000

// history is what a task's sync partition holds, kept to snapshot it.
type history struct {
	idx *offsetsync.Index
	// writers were announced in the partition, by a barrier or by an
	// earlier snapshot: the snapshot keeps them known once their
	// barriers are deleted.
	writers map[string]bool
	// since counts the syncs written (or read at start) since the last
	// snapshot; lastRuns is the number of runs that snapshot held.
	since, lastRuns int
	floor           int
}

// newHistory keeps the history of a partition; floor replaces
// snapshotFloor when positive, and a negative one never snapshots, as agents
// before snapshots did (for tests).
func newHistory(floor int) *history {
	if floor == 0 {
		floor = snapshotFloor
	}
	return &history{idx: &offsetsync.Index{}, writers: map[string]bool{}, floor: floor}
}

// add takes in one sync of the partition, read at start or written since.
// Runs that conflict with those known are dropped, as the translator drops
// them, but the sync's SourceNext and gap are kept: a snapshot must never
// move a partition's progress back, or its records would be copied twice.
func (h *history) add(s offsetsync.Sync) error {
	h.since++
	err := h.idx.Add(s)
	if err != nil {
		s.Runs = nil
		if h.idx.Add(s) == nil {
			return nil
		}
	}
	return err
}

func (h *history) due() bool { return h.floor >= 0 && h.since >= max(h.floor, h.lastRuns) }

// produceSnapshot writes the snapshot of the task's sync partition in the
// producer's open transaction and answers the offset of its first chunk.
// Runs that end below their source partition's log start are dropped
// first: no consumer can be at those offsets on the source any more. A nil
// source (a stopping task asks it nothing) drops none.
func (t *task) produceSnapshot(ctx context.Context, producer *kgo.Client, source *kadm.Client, h *history) (int64, error) {
	if topics := h.idx.Topics(); len(topics) > 0 && source != nil {
		starts, err := source.ListStartOffsets(ctx, topics...)
		if err != nil {
			return 0, fmt.Errorf("source log starts for the offset-sync snapshot: %w", err)
		}
		// A partition whose start is not answered (a deleted topic) keeps
		// every run.
		h.idx.PruneBelow(func(topic string, partition int32) (int64, bool) {
			o, ok := starts.Lookup(topic, partition)
			return o.Offset, ok && o.Err == nil && o.Offset >= 0
		})
	}
	writer := writerOf(t.m.TasksMax, t.id)
	chunks := h.idx.Snapshot(slices.Sorted(maps.Keys(h.writers)), writer+"/"+strconv.FormatInt(time.Now().UnixNano(), 10))
	topic := offsetsync.Topic(t.m.Name)
	records := make([]*kgo.Record, len(chunks))
	for i, c := range chunks {
		records[i] = &kgo.Record{Topic: topic, Partition: int32(t.id), Key: c.Key, Value: c.Value}
	}
	results := producer.ProduceSync(ctx, records...)
	if err := results.FirstErr(); err != nil {
		return 0, fmt.Errorf("write the offset-sync snapshot: %w", err)
	}
	return results[0].Record.Offset, nil
}

// snapshotted deletes what a committed snapshot restates: the records of
// the task's sync partition before its first chunk. A failure is no harm:
// the next snapshot deletes more.
func (t *task) snapshotted(ctx context.Context, target *kgo.Client, h *history, first int64) {
	h.since, h.lastRuns = 0, h.idx.Runs()
	t.hooks.step(t.m.Name, StepSnapshotCommitted)
	topic := offsetsync.Topic(t.m.Name)
	deleted, err := kadm.NewClient(target).DeleteRecords(ctx, kadm.Offsets{topic: {int32(t.id): {At: first}}})
	if err == nil {
		err = deleted.Error()
	}
	if err != nil {
		t.log.Warn("offset syncs a snapshot restates were not deleted; the next snapshot deletes them", "topic", topic, "partition", t.id, "before_offset", first, "error", err)
		return
	}
	t.log.Debug("offset-sync snapshot committed; the history before it deleted", "topic", topic, "partition", t.id, "log_start", first, "runs", h.lastRuns)
}

// snapshotAlone commits a snapshot in a transaction of its own: after gap
// syncs, and when the task stops cleanly.
func (t *task) snapshotAlone(ctx context.Context, producer *kgo.Client, source *kadm.Client, h *history) error {
	if err := producer.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	first, err := t.produceSnapshot(ctx, producer, source, h)
	if err != nil {
		return t.abort(ctx, producer, err)
	}
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit the offset-sync snapshot on target %s: %w", t.m.Target, err)
	}
	t.snapshotted(ctx, producer, h, first)
	return nil
}
