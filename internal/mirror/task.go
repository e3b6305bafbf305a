package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
)

// maxBatchRecords bounds one transaction.
const maxBatchRecords = 20000

// A batch gathers records for up to commitWindow after its first ones, until
// it holds batchBytes, so that a trickle of records shares transactions: a
// task commits at most one transaction per window, with one offset sync per
// partition, rather than one per record. The offset syncs are the history
// exact translation reads back. The task gathers, not the source: its
// fetches are answered at once, so records leave the source as they come (a
// source broker lost with records it held back loses them; the task's, a
// forced failover commits). A busy topic fills batchBytes within a few
// milliseconds and is not held back: with 256 KiB, records waited 20 ms
// (the lag benchmark's p50) to fill batches the commit did not need.
const (
	commitWindow = 50 * time.Millisecond
	batchBytes   = 32 << 10
)

// A task holds at most about two fetches per source broker (one being
// copied, the next buffered) and their copies in its transaction, so
// fetchMaxBytes bounds its memory: at 32 MiB, four tasks catching up could
// hold 256 MiB, twice an agent's memory goal. A task that fell behind
// still catches up in transactions of up to 4 MiB per partition: at
// franz-go's 1 MiB, each transaction's fixed cost (its commit, the next
// poll) was paid every 4000 or so records, and a backlog drained barely
// faster than the load that built it.
const (
	fetchMaxBytes          = 8 << 20
	fetchMaxPartitionBytes = 4 << 20
)

// taskMetadataMinAge is how soon a task's clients may ask for metadata
// again. franz-go's 5 s would hold a new topic's first fetch or write that
// long whenever its first metadata came back incomplete (a topic just
// created has no leader yet), and refresh_interval counts that wait.
const taskMetadataMinAge = 250 * time.Millisecond

type tp struct {
	topic     string
	partition int32
}

// task copies the source partitions that map to one task id, records and
// offset syncs in one transaction per batch on the target.
type task struct {
	id        int
	m         agentapi.Mirror
	srcOpts   []kgo.Opt
	dstOpts   []kgo.Opt
	log       *slog.Logger
	stats     *taskStats
	metrics   *Metrics
	partsCh   chan []SourcePartition // the latest set wins
	restartIn time.Duration
	// hold answers why the task must not copy now ("" when it may): its
	// mirror is frozen by a failover, deleted, or runs another tasks_max;
	// read from the state topic up to now; nil: never held.
	hold func(context.Context) (string, error)
	// announced is set once the task's barrier is committed: it stays in
	// the sync topic (or a snapshot keeps it), so a held task does not
	// write one a second.
	announced bool
	hooks     Hooks
	// format answers the record format version to write
	// (store.Store.Format); nil writes recordformat.First.
	format func() int
	// hist and srcAdm are those of the current runOnce.
	hist   *history
	srcAdm *kadm.Client
	// startSlow and startLimit, when set, replace the constants of the
	// same names (tests).
	startSlow, startLimit time.Duration
}

// consumerOpts configure the client that reads the task's source
// partitions.
func (t *task) consumerOpts(hooks kgo.Hook) []kgo.Opt {
	return withOpts(t.srcOpts,
		kgo.WithHooks(hooks),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back too: they advance a partition's
		// position without being copied, so a partition that ends in one
		// is caught up rather than forever one offset behind.
		kgo.KeepControlRecords(),
		// A fetch is answered as soon as the source has a record (the
		// default minimum, 1 byte); without one, after commitWindow.
		kgo.FetchMaxWait(commitWindow),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		// Records deleted at the source before they were copied are a
		// gap the task records (resumeAfterGap), never a silent reset.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.MetadataMinAge(taskMetadataMinAge),
	)
}

func (t *task) writeFormat() int {
	if t.format == nil {
		return recordformat.First
	}
	return t.format()
}

// heldError stops a task that must not copy now: it is not a failure, and
// the task checks again until its runner is stopped.
type heldError struct{ why string }

func (e *heldError) Error() string { return "mirror task held: " + e.why }

func (t *task) setPartitions(parts []SourcePartition) {
	select {
	case <-t.partsCh:
	default:
	}
	t.partsCh <- parts
}

// run copies until stop ends, then commits the records its client already
// fetched and returns; work's end stops it at once, with what it had not
// committed left to the next owner's fence. After an error it starts over
// from the last committed progress, which is what exactly once rests on.
func (t *task) run(stop, work context.Context) {
	var parts []SourcePartition
	lastHeld := ""
	for stop.Err() == nil {
		err := t.runOnce(stop, work, &parts)
		if stop.Err() != nil {
			return
		}
		var held *heldError
		switch {
		case errors.As(err, &held):
			if held.why != lastHeld {
				t.log.Info("mirror task does not copy now", "reason", held.why)
				lastHeld = held.why
			}
		default:
			lastHeld = ""
			t.log.Warn("mirror task failed; restarting from its last committed offset sync", "error", err)
			t.stats.setError(err)
			t.metrics.errors.WithLabelValues(t.m.Name).Inc()
		}
		select {
		case <-stop.Done():
		case <-time.After(t.restartIn):
		}
	}
}

func (t *task) runOnce(stop, work context.Context, parts *[]SourcePartition) error {
	txid := TransactionalID(t.m.Name, t.m.TasksMax, t.id)
	waits := silences{source: fetchSilence(t.m.Source), target: commitSilence(t.m.Target)}
	producer, err := kgo.NewClient(withOpts(t.dstOpts,
		kgo.WithHooks(waits.target),
		kgo.TransactionalID(txid),
		kgo.TransactionTimeout(60*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(2*maxBatchRecords),
		kgo.MetadataMinAge(taskMetadataMinAge),
		// franz-go's default batch size (about 1 MB) stays under Kafka's
		// default max.message.bytes; bigger batches were refused by the
		// target and the task restarted into the same batch again.
	)...)
	if err != nil {
		return err
	}
	defer producer.Close()

	select { // the partitions to list as starting; applied after the start
	case next := <-t.partsCh:
		*parts = next
	default:
	}
	t.stats.starting(*parts)
	steps := t.watchStart(stop) // a stop during the start holds nothing to commit
	progress, gaps, err := t.start(steps, producer, txid)
	if err = steps.end(err); err != nil {
		return err
	}

	consumer, err := kgo.NewClient(t.consumerOpts(waits.source)...)
	if err != nil {
		return err
	}
	defer consumer.Close()
	t.srcAdm = kadm.NewClient(consumer)
	defer t.snapshotOnStop(stop, work, producer)

	assigned := map[tp]SourcePartition{}
	apply := func(next []SourcePartition) {
		*parts = next
		want := map[tp]SourcePartition{}
		for _, p := range next {
			want[tp{p.Topic, p.Partition}] = p
		}
		add := map[string]map[int32]kgo.Offset{}
		for k, p := range want {
			if _, ok := assigned[k]; ok {
				continue
			}
			assigned[k] = p
			if add[k.topic] == nil {
				add[k.topic] = map[int32]kgo.Offset{}
			}
			add[k.topic][k.partition] = t.startOffset(progress, k)
			t.stats.track(p, progress[k]-1)
			t.stats.setSkipped(k, skippedOf(gaps, k))
		}
		remove := map[string][]int32{}
		for k := range assigned {
			if _, ok := want[k]; !ok {
				delete(assigned, k)
				remove[k.topic] = append(remove[k.topic], k.partition)
				t.stats.untrack(k)
			}
		}
		if len(add) > 0 {
			consumer.AddConsumePartitions(add)
		}
		if len(remove) > 0 {
			consumer.RemoveConsumePartitions(remove)
		}
	}
	apply(*parts)
	t.stats.setError(nil)
	t.stats.setSilence(nil)
	waits.fetching(time.Now())
	reportCtx, stopReport := context.WithCancel(work)
	reported := make(chan struct{})
	go func() { defer close(reported); t.report(reportCtx, waits) }()
	defer func() { stopReport(); <-reported }()

	for {
		// Once stopped, the task copies what its client already holds
		// and asks the source nothing more: after a lost source,
		// nothing else holds those records. It takes no new partitions
		// then: removing one drops every buffered fetch.
		stopping := stop.Err() != nil
		if !stopping {
			select {
			case next := <-t.partsCh:
				apply(next)
			default:
			}
		}
		if len(assigned) == 0 {
			if stopping {
				return stop.Err()
			}
			waits.idle()
			select {
			case <-stop.Done():
			case next := <-t.partsCh:
				apply(next)
			}
			waits.fetching(time.Now())
			continue
		}
		var fetches kgo.Fetches
		if stopping {
			// Without a context franz-go answers what is buffered at
			// once and does not wait.
			fetches = consumer.PollRecords(nil, maxBatchRecords) //nolint:staticcheck // nil on purpose, see above
			if fetches.NumRecords() == 0 {
				return stop.Err()
			}
		} else {
			pollCtx, cancel := context.WithTimeout(stop, 500*time.Millisecond)
			fetches = consumer.PollRecords(pollCtx, maxBatchRecords)
			cancel()
			fetches = gather(stop, consumer, fetches)
		}
		if work.Err() != nil {
			return work.Err()
		}
		var fetchErr error
		var outOfRange []tp
		fetches.EachError(func(topic string, partition int32, err error) {
			switch {
			case errors.Is(err, kerr.OffsetOutOfRange):
				if k := (tp{topic, partition}); !slices.Contains(outOfRange, k) {
					outOfRange = append(outOfRange, k)
				}
			case !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
				fetchErr = fmt.Errorf("fetch %s[%d] from source %s: %w", topic, partition, t.m.Source, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			t.stats.sawHighWatermark(tp{p.Topic, p.Partition}, p.HighWatermark)
		})
		// A stopping task asks the source nothing: its snapshots keep
		// the runs below the source's log start.
		source := t.srcAdm
		if stopping {
			source = nil
		}
		// An unreachable source or target is not an error to restart on
		// (franz-go redials), but the status must say these partitions
		// copy nothing: the reporter watches what the task waits on.
		snapshot, batch := !stopping && t.hist.due(), fetches.NumRecords() > 0
		if snapshot || batch {
			waits.writing(time.Now())
		}
		if snapshot { // gap syncs only: no batch to snapshot with
			if err := t.snapshotAlone(work, producer, source, t.hist); err != nil {
				return err
			}
		}
		if batch {
			if err := t.copyBatch(work, producer, assigned, progress, fetches, source); err != nil {
				return err
			}
		}
		if stopping {
			if fetches.NumRecords() < maxBatchRecords {
				return stop.Err() // the buffer is empty: what follows was fetched after the stop
			}
			continue // gaps are the next owner's to meet
		}
		// After the batch: a gap starts where the records gathered
		// before it end, and each partition's gap is met once.
		for _, k := range outOfRange {
			if sp, ok := assigned[k]; ok {
				if err := t.resumeAfterGap(work, producer, consumer, sp, progress, gaps); err != nil {
					return err
				}
			}
		}
		if snapshot || batch {
			waits.fetching(time.Now()) // the silence counts from the last fetch that waited
		}
	}
}

// start makes the task the one owner of its transactional id and reads
// where its partitions resume, step by step under steps' watch.
func (t *task) start(steps *startWatch, producer *kgo.Client, txid string) (map[tp]int64, map[tp]map[int64]int64, error) {
	ctx := steps.ctx
	// Initializing the transactional id fences every earlier owner of
	// this task and settles its open transaction.
	steps.enter("fencing the earlier owners of " + txid)
	if _, _, err := producer.ProducerID(ctx); err != nil {
		return nil, nil, fmt.Errorf("fence earlier owners of %s: %w", txid, err)
	}
	if !t.announced {
		steps.enter("committing the task's barrier")
		if err := t.announce(ctx, producer); err != nil {
			return nil, nil, err
		}
		t.announced = true
	}
	// Asked after the producer id is ours and announced: a failover that
	// fenced the id before now had committed its freeze before that, and
	// tasks of a later tasks_max that started after the announcement fence
	// this one.
	if t.hold != nil {
		steps.enter("asking the state topic whether the mirror is held")
		why, err := t.hold(ctx)
		if err != nil {
			return nil, nil, err
		}
		if why != "" {
			return nil, nil, &heldError{why}
		}
	}
	steps.enter("reading the committed offset syncs")
	progress, gaps, hist, err := t.readProgress(steps.unbounded)
	if err != nil {
		return nil, nil, err
	}
	t.hist = hist
	return progress, gaps, nil
}

// startOffset is where a partition resumes: after its last committed sync,
// or per start_from for a partition never copied.
func (t *task) startOffset(progress map[tp]int64, k tp) kgo.Offset {
	if next, ok := progress[k]; ok {
		return kgo.NewOffset().At(next)
	}
	if t.m.StartFrom == agentapi.StartLatest && !t.m.CreatedAt.IsZero() {
		// Records produced since the mirror was created; stable across
		// restarts, unlike "the end of the log when the task started".
		return kgo.NewOffset().AfterMilli(t.m.CreatedAt.UnixMilli())
	}
	return kgo.NewOffset().AtStart()
}

// partCopy is one partition's share of a batch.
type partCopy struct {
	k      tp
	sp     SourcePartition
	last   *kgo.Record  // the partition's last fetched record, markers included
	source []int64      // source offset of each record sent, in order
	out    []kgo.Record // the records sent, one allocation; each has its target offset once acked
	sync   offsetsync.Sync
}

// copyBatch writes fetched records to the same partitions on the target
// and, in the same transaction, the offset syncs that map their source
// offsets to the target offsets they got.
// progress is the task's next source offset per partition; it advances with
// every committed batch, so that a partition removed and added back (a topic
// missing from one refresh) resumes where it stands, not where it stood.
//
// Work is per partition, not per record (one map lookup, one promise, one
// allocation of records per partition): this loop is the mirror's hot path.
// A partition's offset sync is produced as soon as its last record is acked
// (promises of one partition run in order), so a transaction waits for one
// flush rather than one for the records and another for the syncs.
// source, nil for a stopping task, gives the log starts a due snapshot
// prunes by.
func (t *task) copyBatch(ctx context.Context, producer *kgo.Client, assigned map[tp]SourcePartition, progress map[tp]int64, fetches kgo.Fetches, source *kadm.Client) error {
	if err := producer.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	var (
		mu         sync.Mutex // guards firstErr, failed, failedPart and syncsAcked: promises run on franz-go's goroutine
		firstErr   error
		failed     *kgo.Record // the record behind firstErr
		failedPart *partCopy
		parts      []*partCopy
	)
	fail := func(pc *partCopy, r *kgo.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr, failed, failedPart = err, r, pc
		}
	}
	syncTopic := offsetsync.Topic(t.m.Name)
	format := t.writeFormat()
	syncsAcked := 0 // guarded by mu
	syncWritten := func(_ *kgo.Record, err error) {
		if err != nil {
			fail(nil, nil, fmt.Errorf("write offset sync: %w", err))
			return
		}
		mu.Lock()
		syncsAcked++
		mu.Unlock()
	}
	// writeSync produces pc's offset sync once every record of pc has its
	// target offset. TryProduce, as a promise must not block. The buffer
	// holds twice the largest batch, so it is not full here; if it were,
	// the sync would fail outside the buffer, and Flush could return
	// before its promise ran: the count of acknowledged syncs is checked
	// after Flush, so that records never commit without their sync.
	writeSync := func(pc *partCopy) {
		pairs := make([]offsetsync.Pair, len(pc.out))
		for i := range pc.out {
			pairs[i] = offsetsync.Pair{Source: pc.source[i], Target: pc.out[i].Offset}
		}
		runs, err := offsetsync.RunsOf(pairs)
		if err != nil {
			fail(pc, nil, fmt.Errorf("offset syncs of %s[%d]: %w", pc.k.topic, pc.k.partition, err))
			return
		}
		pc.sync = offsetsync.Sync{Topic: pc.k.topic, Partition: pc.k.partition, TargetTopic: pc.sp.TargetTopic, Runs: runs, SourceNext: pc.last.Offset + 1}
		rec, err := syncRecord(syncTopic, t.id, pc.sync, format)
		if err != nil {
			fail(pc, nil, err)
			return
		}
		producer.TryProduce(ctx, rec, syncWritten)
	}
	for _, p := range partitionsOf(fetches) {
		k := tp{p.Topic, p.Partition}
		sp, ok := assigned[k]
		if !ok {
			continue // removed while the fetch was in flight
		}
		pc := &partCopy{k: k, sp: sp, last: p.Records[len(p.Records)-1],
			source: make([]int64, 0, len(p.Records)), out: make([]kgo.Record, 0, len(p.Records))}
		parts = append(parts, pc)
		for _, r := range p.Records {
			if r.Attrs.IsControl() {
				continue // position only
			}
			pc.source = append(pc.source, r.Offset)
			pc.out = append(pc.out, kgo.Record{
				Topic:     sp.TargetTopic,
				Partition: r.Partition,
				Key:       r.Key,
				Value:     r.Value,
				Headers:   r.Headers,
				Timestamp: r.Timestamp,
			})
		}
		if len(pc.out) == 0 {
			writeSync(pc) // markers only: the sync moves the position
			continue
		}
		// Called for every record of the partition, in order; it has
		// work when a record failed, and after the last one.
		lastOut := &pc.out[len(pc.out)-1]
		promise := func(out *kgo.Record, err error) {
			if err != nil {
				fail(pc, out, fmt.Errorf("produce to %s[%d] on target %s: %w", out.Topic, out.Partition, t.m.Target, err))
				return
			}
			if out == lastOut {
				mu.Lock()
				ok := firstErr == nil
				mu.Unlock()
				if ok {
					writeSync(pc)
				}
			}
		}
		for i := range pc.out {
			producer.Produce(ctx, &pc.out[i], promise)
		}
	}
	if err := producer.Flush(ctx); err != nil {
		return t.abort(ctx, producer, err)
	}
	// Taken under the lock: a sync that failed outside the buffer may
	// still be reporting.
	mu.Lock()
	if firstErr == nil && syncsAcked != len(parts) {
		firstErr = fmt.Errorf("%d of %d offset syncs acknowledged after the flush", syncsAcked, len(parts))
	}
	err, failedRec, failedPc := firstErr, failed, failedPart
	mu.Unlock()
	if err != nil {
		if errors.Is(err, kerr.MessageTooLarge) && failedRec != nil {
			// Skipping the record would lose it silently: the task
			// waits, and says what to change.
			var source int64
			for i := range failedPc.out {
				if &failedPc.out[i] == failedRec {
					source = failedPc.source[i]
				}
			}
			err = fmt.Errorf("%w; the record at source offset %d of %s[%d] is larger than the target topic %s allows: raise its max.message.bytes on %s (or set sync_topic_configs), and the mirror resumes", err, source, failedPc.k.topic, failedPc.k.partition, failedRec.Topic, t.m.Target)
		}
		return t.abort(ctx, producer, err)
	}
	// The task's history takes the syncs now; if the commit fails, the
	// restart reads the history back.
	for _, pc := range parts {
		if err := t.hist.add(pc.sync); err != nil {
			return t.abort(ctx, producer, fmt.Errorf("offset sync of %s[%d] against the task's own: %w", pc.k.topic, pc.k.partition, err))
		}
	}
	snapshot := int64(-1)
	if t.hist.due() {
		if snapshot, err = t.produceSnapshot(ctx, producer, source, t.hist); err != nil {
			return t.abort(ctx, producer, err)
		}
	}
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		// The outcome is unknown; the restart reads it back after fencing.
		return fmt.Errorf("commit transaction on target %s: %w", t.m.Target, err)
	}
	if snapshot >= 0 {
		t.snapshotted(ctx, producer, t.hist, snapshot)
	}
	now := time.Now()
	for _, pc := range parts {
		progress[pc.k] = pc.sync.SourceNext
		t.stats.mirrored(pc.k, pc.last.Offset, int64(len(pc.out)), now)
		t.metrics.records.WithLabelValues(t.m.Name, pc.k.topic).Add(float64(len(pc.out)))
	}
	return nil
}

// gather takes what the source sends for up to commitWindow after a batch's
// first records, until the batch holds batchBytes or maxBatchRecords; a stop
// ends it at once. Its answer may hold a partition in several fetches.
func gather(stop context.Context, consumer *kgo.Client, fetches kgo.Fetches) kgo.Fetches {
	n, size := fetchedSize(fetches)
	if n == 0 {
		return fetches
	}
	ctx, cancel := context.WithTimeout(stop, commitWindow)
	defer cancel()
	for n < maxBatchRecords && size < batchBytes {
		more := consumer.PollRecords(ctx, maxBatchRecords-n)
		fetches = append(fetches, more...) // errors too: the caller reads them
		m, s := fetchedSize(more)
		if m == 0 || hasFetchError(more) {
			break // the window ended, the task stops, or the caller has an error to meet
		}
		n, size = n+m, size+s
	}
	return fetches
}

// hasFetchError answers whether fetches hold an error other than the end of
// a poll's wait.
func hasFetchError(fetches kgo.Fetches) bool {
	found := false
	fetches.EachError(func(_ string, _ int32, err error) {
		found = found || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
	})
	return found
}

// fetchedSize answers the records of fetches and their keys' and values'
// bytes.
func fetchedSize(fetches kgo.Fetches) (n, size int) {
	fetches.EachRecord(func(r *kgo.Record) {
		n++
		size += len(r.Key) + len(r.Value)
	})
	return n, size
}

// partitionsOf answers each partition's records across fetches, in the
// order fetched: a transaction writes one offset sync per partition.
func partitionsOf(fetches kgo.Fetches) []kgo.FetchTopicPartition {
	var out []kgo.FetchTopicPartition
	at := map[tp]int{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		k := tp{p.Topic, p.Partition}
		if i, ok := at[k]; ok {
			out[i].Records = append(out[i].Records, p.Records...)
			return
		}
		at[k] = len(out)
		p.Records = slices.Clip(p.Records) // appends copy, never write into franz-go's
		out = append(out, p)
	})
	return out
}

func (t *task) abort(ctx context.Context, producer *kgo.Client, cause error) error {
	if err := producer.AbortBufferedRecords(ctx); err == nil {
		_ = producer.EndTransaction(ctx, kgo.TryAbort)
	}
	return cause
}

// announce commits the task's barrier, which names its transactional id
// to whoever must fence it later.
func (t *task) announce(ctx context.Context, producer *kgo.Client) error {
	topic := offsetsync.Topic(t.m.Name)
	if err := producer.BeginTransaction(); err != nil {
		return err
	}
	if err := producer.ProduceSync(ctx, barrier(topic, t.m.TasksMax, t.id, t.writeFormat())).FirstErr(); err != nil {
		return t.abort(ctx, producer, fmt.Errorf("write barrier to %s: %w", topic, err))
	}
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit barrier to %s: %w", topic, err)
	}
	return nil
}

// readProgress fences the writers of other tasks_max and answers the next
// source offset of each source partition whose syncs are in the task's own
// sync partition or in one those writers wrote: the greatest SourceNext
// committed. Tasks of the current tasks_max write their own partitions only.
// It also answers the gaps recorded for those partitions (first offset ->
// one past the last), offsets deleted at the source before they were copied,
// and the history of the task's own partition, which its snapshots restate.
func (t *task) readProgress(ctx context.Context) (map[tp]int64, map[tp]map[int64]int64, *history, error) {
	parts, writers, err := fenceOtherWriters(ctx, t.dstOpts, t.m)
	if err != nil {
		return nil, nil, nil, err
	}
	own := int32(t.id)
	parts[own] = true
	hist := newHistory(t.hooks.SnapshotFloor)
	for w, p := range writers {
		if p == own {
			hist.writers[w] = true
		}
	}
	hist.writers[writerOf(t.m.TasksMax, t.id)] = true // announced before this read
	progress := map[tp]int64{}
	gaps := map[tp]map[int64]int64{}
	err = readCommittedSyncs(ctx, t.dstOpts, t.m.Name, parts, func(p int32, s offsetsync.Sync) error {
		k := tp{s.Topic, s.Partition}
		progress[k] = max(progress[k], s.SourceNext)
		addGap(gaps, s)
		if p == own {
			return hist.add(s)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read offset syncs: %w", err)
	}
	return progress, gaps, hist, nil
}

// snapshotOnStop commits a snapshot when the task stops cleanly with syncs
// written since the last one, so that the next start reads little. A
// transaction left open by the stop makes it give up: the next owner reads
// the history as it is.
func (t *task) snapshotOnStop(stop, work context.Context, producer *kgo.Client) {
	if stop.Err() == nil || t.hist == nil || t.hist.since == 0 || t.hist.floor < 0 {
		return
	}
	sctx, cancel := context.WithTimeout(work, 10*time.Second)
	defer cancel()
	// Without the source: after a forced failover it is lost.
	if err := t.snapshotAlone(sctx, producer, nil, t.hist); err != nil {
		t.log.Info("no offset-sync snapshot on stop; the next start reads the syncs since the last one", "error", err)
	}
}
