package mirror

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// BenchmarkOffsetSyncHistoryAge measures what a mirror's age costs the
// readers of its offset-sync history: a task restarting, a forced failover
// and a quarantine (both read FinalSyncs), and a translator starting. Each
// must cost the same after 10M syncs of history as after 10k, since tasks
// snapshot their sync partition and delete what the snapshot restates.
// The reads are timed alone first; then the agent, a process of its own,
// takes the mirror over and its forced failover and quarantine are timed
// end to end through its API (agentOverHistory).
//
// The history is written by a real task: it copies a source topic of
// histPartitions partitions, one tiny record per partition per round, each
// round copied before the next is produced, so every transaction writes one
// sync per partition. The source's log start advances as retention would
// (DeleteRecords every histTrimEvery rounds, histKeep offsets per partition
// left), and the target's with it, so that the dev clusters' memory stays
// bounded. Both clusters run in processes of their own. Each history goes
// on past the syncs asked until it ends histTail transactions after the
// task's last snapshot: what a read finds depends on that point of the
// snapshot cycle, and the comparison is of age alone.
//
// Knob: KFO_BENCH_HISTORY_SYNCS, the older history (default
// histDefaultSyncs, the 10M: built in about 3.5 minutes on an idle
// 2-core machine, 5 on a loaded one). It ignores b.N apart from running
// once.
func BenchmarkOffsetSyncHistoryAge(b *testing.B) {
	old := histDefaultSyncs
	if v := os.Getenv("KFO_BENCH_HISTORY_SYNCS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < histPartitions {
			b.Fatalf("KFO_BENCH_HISTORY_SYNCS=%q: want an integer of at least %d", v, histPartitions)
		}
		old = n
	}
	bin := kafkatest.BuildAgent(b, "../../agent")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()

	var young, aged historyFigures
	for iter := range b.N {
		young = measureHistory(b, ctx, bin, iter, 10_000)
		aged = measureHistory(b, ctx, bin, iter, old)
	}
	b.ReportMetric(0, "ns/op")
	for _, f := range []historyFigures{young, aged} {
		fmt.Println(f)
		b.ReportMetric(millis(f.restart), fmt.Sprintf("restart-read-ms-%d-syncs", f.asked))
		b.ReportMetric(millis(f.final), fmt.Sprintf("final-syncs-ms-%d-syncs", f.asked))
		b.ReportMetric(millis(f.translator), fmt.Sprintf("translator-catch-up-ms-%d-syncs", f.asked))
		b.ReportMetric(millis(f.failover), fmt.Sprintf("forced-failover-ms-%d-syncs", f.asked))
		b.ReportMetric(millis(f.quarantine), fmt.Sprintf("quarantine-ms-%d-syncs", f.asked))
	}
	ratio := func(a, y time.Duration) string {
		return fmt.Sprintf("%.2f", float64(a)/float64(max(y, time.Microsecond)))
	}
	fmt.Printf("offset-sync history of %d syncs against %d: task restart read x%s, final syncs x%s, translator catch-up x%s, the agent's forced failover x%s, its quarantine x%s, sync topic bytes x%s (goal: about x1; restart read < 200 ms, forced failover < 2 s)\n",
		aged.syncs, young.syncs, ratio(aged.restart, young.restart), ratio(aged.final, young.final), ratio(aged.translator, young.translator),
		ratio(aged.failover, young.failover), ratio(aged.quarantine, young.quarantine),
		fmt.Sprintf("%.2f", float64(aged.topicBytes)/float64(max(young.topicBytes, 1))))
}

const (
	histPartitions   = 1000 // source partitions of the task: one sync each per transaction
	histKeep         = 5    // source offsets per partition that retention leaves
	histTrimEvery    = 10   // rounds between two trims, as retention runs from time to time
	histDefaultSyncs = 10_000_000
	// histTail is where each history ends: this many rounds after the
	// task's last snapshot, fewer than the 10 after which the next is due
	// (snapshotFloor syncs), so a read finds a snapshot and histTail rounds
	// of syncs whatever the history's age.
	histTail        = 5
	histExtraRounds = 50          // bounds the rounds written to reach histTail
	histRoundWait   = time.Minute // bounds the copy of one round
)

// historyFigures is what one history costs its readers.
type historyFigures struct {
	asked, syncs             int // syncs asked, and written to end histTail rounds after a snapshot
	snapshots                int // the task committed while it wrote the history
	build                    time.Duration
	restart                  time.Duration // announce and readProgress of a restarted task
	restartSyncs             int           // syncs that read found (a snapshot passes the ones it restates)
	restartRuns              int           // runs the restarted task's history holds
	final                    time.Duration // FinalSyncs
	translator               time.Duration // StartTranslator to WaitCaughtUp
	topicRecords, topicBytes int64         // the sync topic's, after the reads above
	takeover                 time.Duration // the agent's mirror, put over the history, to its status at the history's end
	failover, failoverPost   time.Duration // the agent's forced failover: request to discovery, and to its answer
	quarantine               time.Duration // the agent's reverse (quarantine and rebuild) request to its answer
}

func (f historyFigures) String() string {
	return fmt.Sprintf("offset-sync history of %d syncs, %d asked (built in %s; %d snapshots, the last one %d transactions before the end): task restart read %.1f ms (%d syncs decoded, %d runs kept), final syncs %.1f ms, translator catch-up %.1f ms; sync topic %d records, %d bytes; the agent over it: mirror resumed in %.1f s, forced failover %.1f ms from request to discovery (answered in %.1f ms; goal < 2000 ms), quarantine %.1f ms from reverse request to answer",
		f.syncs, f.asked, f.build.Round(time.Second), f.snapshots, histTail, millis(f.restart), f.restartSyncs, f.restartRuns, millis(f.final), millis(f.translator), f.topicRecords, f.topicBytes,
		f.takeover.Seconds(), millis(f.failover), millis(f.failoverPost), millis(f.quarantine))
}

// millis is d in milliseconds, fractions kept.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measureHistory has a task write about syncs offset syncs of history, the
// source trimmed as it goes, then times its readers.
func measureHistory(b *testing.B, ctx context.Context, bin string, iter, syncs int) historyFigures {
	b.Helper()
	// Clusters of its own: the agent measured at the end keeps its state
	// on the target, and the next history starts clean.
	srcProc := kafkatest.StartDevClusterProcess(b, bin, "history-source")
	dstProc := kafkatest.StartDevClusterProcess(b, bin, "history-target")
	defer srcProc.Kill()
	defer dstProc.Kill()
	src, dst := srcProc.Bootstrap, dstProc.Bootstrap
	name := fmt.Sprintf("history-%d-%d", iter, syncs)
	topic := fmt.Sprintf("hist.%d.%d", iter, syncs)
	rounds := (syncs + histPartitions - 1) / histPartitions
	f := historyFigures{asked: syncs}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	srcAdm := kadm.NewClient(kafkatest.Client(b, src))
	dstAdm := kadm.NewClient(kafkatest.Client(b, dst))
	// Small segments: kfake frees a segment's memory once DeleteRecords
	// passes its end, and at its default of 100 MiB none would ever end.
	segment := "8192"
	configs := map[string]*string{"segment.bytes": &segment}
	kafkatest.CreateTopic(b, src, topic, histPartitions, configs)
	kafkatest.CreateTopic(b, dst, topic, histPartitions, configs)
	if err := ensureSyncTopic(ctx, dstAdm, name, 1, Hooks{}, discard); err != nil {
		b.Fatal(err)
	}
	m := agentapi.Mirror{Name: name, Source: "history-source", Target: "history-target", StartFrom: agentapi.StartEarliest, TasksMax: 1}
	srcOpts := []kgo.Opt{kgo.SeedBrokers(src...)}
	dstOpts := []kgo.Opt{kgo.SeedBrokers(dst...)}
	tk := &task{
		id: 0, m: m, srcOpts: srcOpts, dstOpts: dstOpts, log: discard,
		stats: newTaskStats(0, "bench"), metrics: NewMetrics(prometheus.NewRegistry()),
		partsCh: make(chan []SourcePartition, 1), restartIn: 100 * time.Millisecond,
	}
	parts := make([]SourcePartition, histPartitions)
	records := make([]*kgo.Record, histPartitions)
	for p := range parts {
		parts[p] = SourcePartition{Topic: topic, Partition: int32(p), TargetTopic: topic}
	}
	tk.setPartitions(parts)

	start := time.Now()
	var snapshots atomic.Int64
	tk.hooks.Step = func(_, step string) {
		if step == StepSnapshotCommitted {
			snapshots.Add(1)
		}
	}
	stop := runTask(b, tk)
	prod := kafkatest.Client(b, src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond))
	copied := tk.metrics.records.WithLabelValues(name, topic)
	failures := tk.metrics.errors.WithLabelValues(name)
	// Rounds since the last snapshot: the history goes on until histTail,
	// so that every history ends at the same point of the snapshot cycle.
	sinceSnapshot, seen := 0, int64(0)
	for r := 0; r < rounds || sinceSnapshot != histTail; r++ {
		if r >= rounds+histExtraRounds {
			b.Fatalf("%d rounds past the %d asked, no history ends %d rounds after a snapshot (%d snapshots)", histExtraRounds, rounds, histTail, snapshots.Load())
		}
		for p := range records {
			records[p] = &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte{'x'}}
		}
		if err := prod.ProduceSync(ctx, records...).FirstErr(); err != nil {
			b.Fatalf("round %d: produce to the source: %v", r, err)
		}
		want := float64((r + 1) * histPartitions)
		for deadline := time.Now().Add(histRoundWait); counterOf(copied) < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("round %d: %.0f records copied after %s, want %.0f; %.0f task failures", r, counterOf(copied), histRoundWait, want, counterOf(failures))
			}
		}
		// The snapshot commits before the records count as copied.
		if n := snapshots.Load(); n != seen {
			sinceSnapshot, seen = 0, n
		} else {
			sinceSnapshot++
		}
		if done := int64(r + 1); done%histTrimEvery == 0 && done > histKeep {
			// The target's copy of source offset o is at 2o: each
			// round is a record and a commit marker there.
			trimTopic(b, ctx, srcAdm, topic, done-histKeep)
			trimTopic(b, ctx, dstAdm, topic, 2*(done-histKeep))
		}
		if r+1 > rounds {
			rounds = r + 1
		}
	}
	f.syncs, f.snapshots = rounds*histPartitions, int(snapshots.Load())
	f.build = time.Since(start)
	if n := counterOf(failures); n > 0 {
		b.Fatalf("the task failed %.0f times while it wrote the history", n)
	}

	// The task's process dies: a new owner of its transactional id fences
	// it (so the snapshot a clean stop writes is refused), and reads its
	// progress.
	owner := kafkatest.Client(b, dst, kgo.TransactionalID(TransactionalID(name, 1, 0)))
	if _, _, err := owner.ProducerID(ctx); err != nil {
		b.Fatal(err)
	}
	stop()
	restarted := &task{id: 0, m: m, dstOpts: dstOpts}
	start = time.Now()
	err := restarted.announce(ctx, owner)
	var progress map[tp]int64
	var hist *history
	if err == nil {
		progress, _, hist, err = restarted.readProgress(ctx)
	}
	f.restart = time.Since(start)
	owner.Close()
	if err != nil {
		b.Fatalf("%s: a restarted task reads its progress: %v", name, err)
	}
	f.restartSyncs, f.restartRuns = hist.since, hist.idx.Runs()
	for _, sp := range parts {
		if got := progress[tp{sp.Topic, sp.Partition}]; got != int64(rounds) {
			b.Fatalf("%s: a restarted task resumes %s[%d] at %d, want %d", name, sp.Topic, sp.Partition, got, rounds)
		}
	}

	start = time.Now()
	idx, err := FinalSyncs(ctx, dstOpts, m)
	f.final = time.Since(start)
	if err != nil {
		b.Fatalf("%s: final syncs: %v", name, err)
	}
	checkHistory(b, "final syncs", idx.Log, topic, rounds)

	start = time.Now()
	tctx, stopTranslator := context.WithCancel(ctx)
	defer stopTranslator()
	tr, err := checkpoint.StartTranslator(tctx, dstOpts, name)
	if err == nil {
		wctx, cancel := context.WithTimeout(tctx, time.Minute)
		err = tr.WaitCaughtUp(wctx)
		cancel()
	}
	f.translator = time.Since(start)
	if err != nil {
		b.Fatalf("%s: translator: %v", name, err)
	}
	checkHistory(b, "translator", tr.Log, topic, rounds)

	f.topicRecords, f.topicBytes = syncTopicSize(b, ctx, dstAdm, name)
	stopTranslator()
	agentOverHistory(b, ctx, bin, srcProc, dst, m, topic, rounds, &f)
	return f
}

// agentOverHistory starts the agent beside the history's target and puts
// the history's mirror into it, so that the agent's own task resumes from
// the history; then it times, end to end through the agent's API, a forced
// failover with the source lost (frozen) and, the source back, the
// quarantine of its tail and its rebuild: both read the whole history
// (FinalSyncs).
func agentOverHistory(b *testing.B, ctx context.Context, bin string, src *kafkatest.DevClusterProcess, dst []string, m agentapi.Mirror, topic string, rounds int, f *historyFigures) {
	b.Helper()
	a := kafkatest.StartAgentProcess(b, bin, dst)
	defer a.Kill() // before its clusters end, so that it spins on nothing while the next history is built
	api := a.API
	put := func(what string, err error) {
		if err != nil {
			b.Fatalf("%s: put %s: %v", m.Name, what, err)
		}
	}
	_, err := api.PutCluster(ctx, agentapi.Cluster{Name: m.Source, BootstrapServers: src.Bootstrap})
	put("the source cluster", err)
	_, err = api.PutCluster(ctx, agentapi.Cluster{Name: m.Target, BootstrapServers: dst})
	put("the target cluster", err)
	m.Topics = agentapi.Selector{Include: []string{regexp.QuoteMeta(topic)}}
	m.ReplicationPolicy, m.RefreshInterval = agentapi.ReplicationIdentity, "1s"
	back := agentapi.Mirror{Name: m.Name + "-back", Source: m.Target, Target: m.Source, Topics: m.Topics, TasksMax: 1,
		ReplicationPolicy: agentapi.ReplicationIdentity, StartFrom: agentapi.StartEarliest}
	start := time.Now()
	_, err = api.PutMirror(ctx, m)
	put("the mirror", err)
	_, err = api.PutMirror(ctx, back)
	put("the reverse mirror", err)
	policy := m.Name
	_, err = api.PutPolicy(ctx, agentapi.Policy{Name: policy, Clusters: []string{m.Source, m.Target}, Primary: m.Source,
		Mirrors: []string{m.Name, back.Name}, Fencing: agentapi.FencingNone})
	put("the policy", err)
	// The agent's task resumed at the history's end, and has seen the
	// source's ends: what a forced failover reports from.
	kafkatest.Eventually(b, histRoundWait, m.Name+": the agent's mirror resumes at the history's end", func() (bool, string) {
		st, err := api.MirrorStatus(ctx, m.Name)
		if err != nil {
			return false, err.Error()
		}
		done := 0
		for _, p := range st.Partitions {
			if p.LastMirroredOffset+1 == int64(rounds) && p.SourceHighWatermark == int64(rounds) {
				done++
			}
		}
		return done == histPartitions, fmt.Sprintf("state %s, %d of %d partitions at %d", st.State, done, histPartitions, rounds)
	})
	f.takeover = time.Since(start)

	src.Freeze() // the source's region is lost
	start = time.Now()
	res, err := api.Failover(ctx, policy, agentapi.FailoverRequest{To: m.Target, Mode: agentapi.ModeForced, RequestID: "lost"}, histRoundWait)
	f.failoverPost = time.Since(start)
	if err != nil {
		b.Fatalf("%s: forced failover: %v", m.Name, err)
	}
	for {
		act, err := api.Active(ctx, policy)
		if err == nil && act.Cluster == m.Target {
			break
		}
		if time.Since(start) > histRoundWait {
			b.Fatalf("%s: discovery answers %+v (%v) %s after the forced failover, want %s", m.Name, act, err, histRoundWait, m.Target)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.failover = time.Since(start)
	if res.Outcome != agentapi.OutcomeCompleted || res.Report == nil || res.Report.RecordsLost != 0 || len(res.Report.Partitions) != histPartitions {
		b.Fatalf("%s: forced failover answered %+v; want completed, 0 records lost over %d partitions", m.Name, res, histPartitions)
	}

	src.Thaw() // the region is back: its tail is quarantined, and it is rebuilt
	start = time.Now()
	q, err := api.Reverse(ctx, policy, agentapi.ReverseRequest{Cluster: m.Source, RequestID: "back"}, histRoundWait)
	f.quarantine = time.Since(start)
	if err != nil {
		b.Fatalf("%s: reverse: %v", m.Name, err)
	}
	if q.Records != 0 {
		b.Fatalf("%s: the quarantine copied %d records; the source held none past the mirror", m.Name, q.Records)
	}
}

// checkHistory checks that a reader of the history resumes every partition
// after its last round and translates the offsets retention left.
func checkHistory(b *testing.B, who string, log func(string, int32) *offsetsync.Log, topic string, rounds int) {
	b.Helper()
	for p := range int32(histPartitions) {
		l := log(topic, p)
		if l.SourceNext() != int64(rounds) {
			b.Fatalf("%s: %s[%d] source next %d, want %d", who, topic, p, l.SourceNext(), rounds)
		}
		o := int64(rounds - 1)
		if got, ok := l.Translate(o); !ok || got != 2*o {
			b.Fatalf("%s: %s[%d] translates source offset %d to %d (%v), want %d", who, topic, p, o, got, ok, 2*o)
		}
	}
}

func counterOf(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// trimTopic deletes the records of every partition of topic below before,
// as retention does.
func trimTopic(b *testing.B, ctx context.Context, adm *kadm.Client, topic string, before int64) {
	b.Helper()
	offs := kadm.Offsets{}
	for p := range int32(histPartitions) {
		offs.Add(kadm.Offset{Topic: topic, Partition: p, At: before})
	}
	deleted, err := adm.DeleteRecords(ctx, offs)
	if err == nil {
		err = deleted.Error()
	}
	if err != nil {
		b.Fatalf("delete the records of %s below %d: %v", topic, before, err)
	}
}

// syncTopicSize answers the records (markers included) and the bytes of the
// mirror's offset-sync topic as it stands.
func syncTopicSize(b *testing.B, ctx context.Context, adm *kadm.Client, mirror string) (records, bytes int64) {
	b.Helper()
	topic := offsetsync.Topic(mirror)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		records += o.Offset - s.Offset
	})
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == topic {
				bytes += p.Size
			}
		})
	})
	return records, bytes
}
