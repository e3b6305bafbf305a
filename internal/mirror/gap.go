package mirror

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// Nothing is skipped silently: when the source deletes records (retention,
// DeleteRecords) before a task copied them, the task's next offset falls
// below the log start. The consumer does not reset on its own
// (NoResetOffset); the task commits a gap sync naming the offsets it steps
// over, then resumes at the log start. The gap sync stays in the offset-sync
// topic, so status, checkpoints and failover reports count it after any
// restart.

// resumeAfterGap handles a source partition whose next offset is out of
// range on the source.
func (t *task) resumeAfterGap(ctx context.Context, producer, consumer *kgo.Client, sp SourcePartition, progress map[tp]int64, gaps map[tp]map[int64]int64) error {
	k := tp{sp.Topic, sp.Partition}
	starts, err := kadm.NewClient(consumer).ListStartOffsets(ctx, k.topic)
	if err != nil {
		return fmt.Errorf("start offset of source %s[%d]: %w", k.topic, k.partition, err)
	}
	start, ok := starts.Lookup(k.topic, k.partition)
	if !ok || start.Err != nil {
		return fmt.Errorf("start offset of source %s[%d]: %v", k.topic, k.partition, errOr(start.Err, "not answered"))
	}
	next, copied := progress[k]
	switch {
	case !copied:
		// Nothing of it is copied yet: it starts where its log starts now.
		t.log.Info("source partition moved its log start before its first copy", "topic", k.topic, "partition", k.partition, "log_start", start.Offset)
	case start.Offset > next:
		gap := offsetsync.GapSync(k.topic, k.partition, sp.TargetTopic, next, start.Offset)
		if err := t.commitSync(ctx, producer, gap); err != nil {
			return err
		}
		progress[k] = start.Offset
		addGap(gaps, gap)
		t.stats.mirrored(k, start.Offset-1, 0, time.Now())
		t.stats.setSkipped(k, skippedOf(gaps, k))
		t.metrics.skipped.WithLabelValues(t.m.Name, k.topic, strconv.Itoa(int(k.partition))).Add(float64(gap.Skipped))
		t.log.Warn("source records were deleted before they were mirrored; the partition resumes at the source's log start",
			"topic", k.topic, "partition", k.partition, "from_offset", next, "to_offset", start.Offset, "offsets_skipped", gap.Skipped)
	default:
		return fmt.Errorf("source %s[%d]: offset %d is out of range although the log starts at %d: the source lost records it had (unclean leader election, or the topic was deleted and created again); the mirror does not step over them", k.topic, k.partition, next, start.Offset)
	}
	consumer.RemoveConsumePartitions(map[string][]int32{k.topic: {k.partition}})
	consumer.AddConsumePartitions(map[string]map[int32]kgo.Offset{k.topic: {k.partition: t.startOffset(progress, k)}})
	return nil
}

// commitSync commits one offset sync of the task on its own.
func (t *task) commitSync(ctx context.Context, producer *kgo.Client, s offsetsync.Sync) error {
	rec, err := syncRecord(offsetsync.Topic(t.m.Name), t.id, s, t.writeFormat())
	if err != nil {
		return err
	}
	if err := producer.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return t.abort(ctx, producer, fmt.Errorf("write offset sync of %s[%d]: %w", s.Topic, s.Partition, err))
	}
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit offset sync of %s[%d] on target %s: %w", s.Topic, s.Partition, t.m.Target, err)
	}
	return t.hist.add(s)
}

// addGap records a gap sync's offsets; a gap read twice counts once.
func addGap(gaps map[tp]map[int64]int64, s offsetsync.Sync) {
	if s.Skipped <= 0 {
		return
	}
	k := tp{s.Topic, s.Partition}
	if gaps[k] == nil {
		gaps[k] = map[int64]int64{}
	}
	gaps[k][s.SourceNext-s.Skipped] = s.SourceNext
}

// skippedOf sums the offsets of a partition's gaps.
func skippedOf(gaps map[tp]map[int64]int64, k tp) int64 {
	var n int64
	for from, to := range gaps[k] {
		n += to - from
	}
	return n
}

func errOr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}
