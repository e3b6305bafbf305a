package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// The offset-sync protocol of a mirror: who writes which partition of its
// offset-sync topic, under which transactional id, and how progress is read
// back. Tasks and failovers both go through the functions of this file.
//
// Progress is kept per source partition, not per task: a task reads the
// syncs of its source partitions whichever task wrote them, so that changing
// tasks_max, or deleting a mirror and creating it again with another
// tasks_max, resumes every partition where it stands instead of copying it
// again.
//
// Each tasks_max has its own transactional ids, one per task ("task-i-of-n"),
// written to partition i. A task fences the earlier owners of its own id by
// initializing it; a partition that moved from a task of another tasks_max
// is guarded by fencing every id of another tasks_max before progress is
// read. Those ids are known: each writer commits a barrier naming itself, in
// the partition it writes, before its first sync. Fencing only ids of other
// tasks_max never fences a live task of the current one (which would fence
// back, a livelock), and a task keeps one producer: a transactional id per
// source partition would cost a producer and a transaction per partition.
// A task of an old tasks_max that starts late announces itself, then reads
// the state topic up to now and copies nothing, as it finds the new
// tasks_max; one that read it before the change had announced itself before
// the new tasks started, so they fence it.
//
// The history is bounded (snapshot.go): task i snapshots partition i (every
// source partition whose syncs are there, with the runs still needed, and
// the writers announced there) in a transaction, then deletes the records
// before the snapshot. Every reader decodes records with
// offsetsync.DecodeRecord or offsetsync.Writers, so a reader that starts at
// the log start knows what the deleted records said, a writer announced
// only by a deleted barrier is still fenced, and a reader that read the
// deleted records and the snapshot both has the same index above the
// source's log start.

// TransactionalID is the id of task task of a mirror run with tasksMax tasks.
func TransactionalID(mirror string, tasksMax, task int) string {
	return writerID(mirror, writerOf(tasksMax, task))
}

func writerOf(tasksMax, task int) string {
	return "task-" + strconv.Itoa(task) + "-of-" + strconv.Itoa(tasksMax)
}

func writerID(mirror, writer string) string { return "__kfo_mirror." + mirror + "." + writer }

// announcedID answers the transactional id of an announced writer. Agents
// that kept one id per task whatever tasks_max wrote "barrier/<task>" for
// the id "task-<task>".
func announcedID(mirror, w string) string {
	if _, err := strconv.Atoi(w); err == nil {
		w = "task-" + w
	}
	return writerID(mirror, w)
}

// tasksMaxOf answers the number of tasks a stored mirror runs.
func tasksMaxOf(m agentapi.Mirror) int {
	if m.TasksMax <= 0 {
		return agentapi.DefaultTasksMax
	}
	return m.TasksMax
}

// taskIDs answers the transactional ids of the mirror's current tasks.
func taskIDs(m agentapi.Mirror) map[string]bool {
	ids := map[string]bool{}
	for task := range tasksMaxOf(m) {
		ids[TransactionalID(m.Name, tasksMaxOf(m), task)] = true
	}
	return ids
}

// announcedWriters answers every writer that announced itself in the
// mirror's offset-sync topic (by a barrier, or kept by a snapshot after its
// barrier was deleted), with the partition it writes. It reads uncommitted
// records: only writers matter, and an open transaction of a zombie must not
// hold the read up.
func announcedWriters(ctx context.Context, dstOpts []kgo.Opt, mirror string) (map[string]int32, error) {
	writers := map[string]int32{}
	err := readSyncTopic(ctx, dstOpts, mirror, kgo.ReadUncommitted(), nil, func(r *kgo.Record) error {
		ws, err := offsetsync.Writers(r.Key, r.Value) // readCommittedSyncs reports what does not decode
		if err = refusedVersion(r, err); err != nil {
			return err // a writer it may announce would go unfenced
		}
		for _, w := range ws {
			writers[w] = r.Partition
		}
		return nil
	})
	return writers, err
}

// withOpts answers base followed by own, in a new slice. A mirror's tasks
// build their clients from one base at the same time: an append into its
// spare room would hand one task's options (the partition it reads, its
// transactional id) to another's client (issue 16).
func withOpts(base []kgo.Opt, own ...kgo.Opt) []kgo.Opt { return slices.Concat(base, own) }

// fenceIDs initializes each transactional id: its open transaction is
// aborted, and its earlier owner can commit nothing more.
func fenceIDs(ctx context.Context, dstOpts []kgo.Opt, ids []string) error {
	for _, id := range ids {
		cl, err := kgo.NewClient(withOpts(dstOpts, kgo.TransactionalID(id))...)
		if err != nil {
			return err
		}
		_, _, err = cl.ProducerID(ctx)
		cl.Close()
		if err != nil {
			return fmt.Errorf("fence %s: %w", id, err)
		}
	}
	return nil
}

// readSyncTopic reads the given partitions of the mirror's offset-sync topic
// (nil: all) from the start to their ends as they stand now, and passes each
// record that is not a transaction marker to each.
func readSyncTopic(ctx context.Context, dstOpts []kgo.Opt, mirror string, isolation kgo.IsolationLevel, parts map[int32]bool, each func(*kgo.Record) error) error {
	topic := offsetsync.Topic(mirror)
	admin, err := kgo.NewClient(dstOpts...)
	if err != nil {
		return err
	}
	listed, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	var logStarts kadm.ListedOffsets
	if err == nil {
		// Listed after the ends: a partition whose log starts at its end
		// now had every record below it deleted, and holds nothing to read.
		logStarts, err = kadm.NewClient(admin).ListStartOffsets(ctx, topic)
	}
	admin.Close()
	if err != nil {
		return fmt.Errorf("offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	var listErr error
	listed.Each(func(o kadm.ListedOffset) {
		logStart, ok := logStarts.Lookup(topic, o.Partition)
		emptied := ok && logStart.Err == nil && logStart.Offset >= o.Offset
		switch {
		case o.Err != nil && !errors.Is(o.Err, kerr.UnknownTopicOrPartition):
			listErr = fmt.Errorf("end offset of %s[%d]: %w", topic, o.Partition, o.Err)
		case o.Err == nil && o.Offset > 0 && !emptied && (parts == nil || parts[o.Partition]):
			ends[o.Partition] = o.Offset
		}
	})
	if listErr != nil || len(ends) == 0 {
		return listErr
	}
	starts := map[int32]kgo.Offset{}
	for p := range ends {
		starts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(withOpts(dstOpts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(isolation),
		kgo.KeepControlRecords(), // a partition that ends in a marker is read to its end
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	last := map[int32]int64{}
	for p := range ends {
		last[p] = -1
	}
	progressed := time.Now()
	for len(ends) > 0 {
		pctx, cancel := context.WithTimeout(ctx, syncReadStall/4)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fetchErr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if fetchErr == nil && !errors.Is(err, context.DeadlineExceeded) {
				fetchErr = err
			}
		})
		if fetchErr != nil {
			return fmt.Errorf("read %s: %w", topic, fetchErr)
		}
		var eachErr error
		var ended []int32
		fetches.EachRecord(func(r *kgo.Record) {
			if eachErr != nil {
				return
			}
			prev, asked := last[r.Partition]
			switch {
			case !asked:
				eachErr = fmt.Errorf("read %s: a record of partition %d, which this read did not ask for", topic, r.Partition)
				return
			case r.Offset <= prev:
				// A read that goes back (the client reset its position)
				// would pass records twice and may never reach its end.
				eachErr = fmt.Errorf("read %s: partition %d went back from offset %d to %d", topic, r.Partition, prev, r.Offset)
				return
			}
			last[r.Partition] = r.Offset
			if end, ok := ends[r.Partition]; ok {
				// Only a partition short of its end makes progress: a
				// busy one past its end must not hide one that is stuck.
				progressed = time.Now()
				if r.Offset+1 >= end {
					delete(ends, r.Partition)
					ended = append(ended, r.Partition)
				}
			}
			if !r.Attrs.IsControl() {
				eachErr = each(r)
			}
		})
		if eachErr != nil {
			return eachErr
		}
		if len(ended) > 0 {
			cl.RemoveConsumePartitions(map[string][]int32{topic: ended}) // read to their end: fetch them no more
		}
		if len(ends) > 0 && time.Since(progressed) >= syncReadStall {
			return fmt.Errorf("read %s: no record for %s short of the end of %s", topic, syncReadStall, stalled(ctx, kadm.NewClient(cl), topic, ends, last))
		}
	}
	return nil
}

// syncReadStall is how long a read of the sync topic may go without a record
// of a partition short of the end it set out to reach: a read that waits
// longer fails, saying where each such partition stands, and its caller
// starts over, instead of waiting without end for a record that does not
// come.
var syncReadStall = 20 * time.Second // a variable for tests

// stalled says, for each partition short of its end, where the read stands:
// the last offset it read, and the partition's high watermark, last stable
// offset (below which a committed read sees records) and log start now.
func stalled(ctx context.Context, adm *kadm.Client, topic string, ends, last map[int32]int64) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	offsets := func(list func(context.Context, ...string) (kadm.ListedOffsets, error)) func(int32) string {
		listed, err := list(ctx, topic)
		return func(p int32) string {
			o, ok := listed.Lookup(topic, p)
			switch {
			case err != nil:
				return "unknown: " + err.Error()
			case !ok || o.Err != nil:
				return fmt.Sprint("unknown: ", o.Err)
			}
			return strconv.FormatInt(o.Offset, 10)
		}
	}
	hwm, lso, start := offsets(adm.ListEndOffsets), offsets(adm.ListCommittedOffsets), offsets(adm.ListStartOffsets)
	var each []string
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		each = append(each, fmt.Sprintf("partition %d (end %d, last read %d, high watermark %s, last stable offset %s, log start %s)", p, ends[p], last[p], hwm(p), lso(p), start(p)))
	}
	return strings.Join(each, ", ")
}

// refusedVersion answers, reported, the error of a record of the sync topic
// whose format version this agent does not read, by its header or by the
// decoding error err of its value; nil for any other record.
func refusedVersion(r *kgo.Record, err error) error {
	_, verr := recordformat.Check(r)
	if verr == nil && errors.Is(err, recordformat.ErrUnknownVersion) {
		verr = err
	}
	if verr == nil {
		return nil
	}
	undecodable.Report(r, verr)
	return fmt.Errorf("%s partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, verr)
}

// readCommittedSyncs passes every committed sync of the given partitions
// (nil: all), with the partition it is in, to each; a snapshot passes the
// syncs it restates.
func readCommittedSyncs(ctx context.Context, dstOpts []kgo.Opt, mirror string, parts map[int32]bool, each func(int32, offsetsync.Sync) error) error {
	return readSyncTopic(ctx, dstOpts, mirror, kgo.ReadCommitted(), parts, func(r *kgo.Record) error {
		rec, err := offsetsync.DecodeRecord(r.Key, r.Value)
		if err := refusedVersion(r, err); err != nil {
			return err // progress read past it would be wrong
		}
		if err != nil {
			undecodable.Report(r, err) // what no writer of syncs wrote
			return nil
		}
		for _, s := range rec.Syncs {
			if err := each(r.Partition, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// fenceOtherWriters fences every writer of the mirror's offset syncs but the
// current tasks, and answers the partitions that hold syncs of those it
// fenced, and every writer announced with its partition.
func fenceOtherWriters(ctx context.Context, dstOpts []kgo.Opt, m agentapi.Mirror) (map[int32]bool, map[string]int32, error) {
	writers, err := announcedWriters(ctx, dstOpts, m.Name)
	if err != nil {
		return nil, nil, err
	}
	current := taskIDs(m)
	parts := map[int32]bool{}
	var others []string
	for w, p := range writers {
		if id := announcedID(m.Name, w); !current[id] {
			others = append(others, id)
			parts[p] = true
		}
	}
	slices.Sort(others)
	others = slices.Compact(others) // an old and a new barrier may name one id
	return parts, writers, fenceIDs(ctx, dstOpts, others)
}

// FinalSyncs fences every writer of a stopped mirror's offset syncs (its
// tasks, and any task of an earlier tasks_max) and answers all its committed
// syncs: no transaction is open and none can be, so they are final.
func FinalSyncs(ctx context.Context, dstOpts []kgo.Opt, m agentapi.Mirror) (*offsetsync.Index, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// The current tasks first: a zombie's open transaction ends now.
	if err := fenceIDs(ctx, dstOpts, slices.Sorted(maps.Keys(taskIDs(m)))); err != nil {
		return nil, fmt.Errorf("fence the tasks of mirror %s: %w", m.Name, err)
	}
	if _, _, err := fenceOtherWriters(ctx, dstOpts, m); err != nil {
		return nil, fmt.Errorf("fence earlier writers of mirror %s: %w", m.Name, err)
	}
	idx := &offsetsync.Index{}
	add := func(_ int32, s offsetsync.Sync) error { return idx.Add(s) }
	if err := readCommittedSyncs(ctx, dstOpts, m.Name, nil, add); err != nil {
		return nil, fmt.Errorf("offset syncs of %s: %w", m.Name, err)
	}
	return idx, nil
}

// SeedSyncs writes syncs of a stopped mirror as the tasks that own their
// source partitions would, each task's in one transaction with its barrier:
// this also fences any zombie of the task.
// format is the record format version to write (store.Store.Format).
func SeedSyncs(ctx context.Context, dstOpts []kgo.Opt, m agentapi.Mirror, syncs []offsetsync.Sync, format int) error {
	tasksMax := tasksMaxOf(m)
	topic := offsetsync.Topic(m.Name)
	byTask := map[int][]offsetsync.Sync{}
	for _, s := range syncs {
		task := TaskOf(s.Topic, s.Partition, tasksMax)
		byTask[task] = append(byTask[task], s)
	}
	adm, err := kgo.NewClient(dstOpts...)
	if err != nil {
		return err
	}
	err = ensureSyncTopic(ctx, kadm.NewClient(adm), m.Name, int32(tasksMax), Hooks{}, slog.Default())
	adm.Close()
	if err != nil {
		return fmt.Errorf("offset sync topic of %s: %w", m.Name, err)
	}
	for task, syncs := range byTask {
		cl, err := kgo.NewClient(withOpts(dstOpts, kgo.TransactionalID(TransactionalID(m.Name, tasksMax, task)), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
		if err != nil {
			return err
		}
		err = func() error {
			defer cl.Close()
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
			records := []*kgo.Record{barrier(topic, tasksMax, task, format)}
			for _, s := range syncs {
				rec, err := syncRecord(topic, task, s, format)
				if err != nil {
					return err
				}
				records = append(records, rec)
			}
			if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
				_ = cl.EndTransaction(ctx, kgo.TryAbort)
				return err
			}
			return cl.EndTransaction(ctx, kgo.TryCommit)
		}()
		if err != nil {
			return fmt.Errorf("task %d: %w", task, err)
		}
	}
	return nil
}

// barrier is the record by which a task announces its transactional id.
func barrier(topic string, tasksMax, task, format int) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: int32(task), Key: offsetsync.BarrierKey(writerOf(tasksMax, task)),
		Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))}
	recordformat.Stamp(r, format)
	return r
}

// syncRecord is the record of sync s in partition task of topic.
func syncRecord(topic string, task int, s offsetsync.Sync, format int) (*kgo.Record, error) {
	v, err := s.Encode()
	if err != nil {
		return nil, err
	}
	r := &kgo.Record{Topic: topic, Partition: int32(task), Key: s.Key(), Value: v}
	recordformat.Stamp(r, format)
	return r, nil
}
