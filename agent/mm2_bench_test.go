package main

// BenchmarkMirrorMaker2SideBySide, run by `make bench-mm2` (BENCHMARKS.md,
// "Side by side with MirrorMaker 2"): MirrorMaker 2 and this product's agent
// copy the same data set between the same two Apache Kafka clusters, one
// after the other, with a plain franz-go consume->produce loop as the
// reference. `make bench` skips it: it needs KFO_BENCH_MM2=1.
//
// Knobs (environment):
//
//	KFO_BENCH_MM2_RECORDS_PER_PARTITION  data set, x6 partitions (200000)
//	KFO_BENCH_MM2_RUNS                   runs of each system, in turn (3)
//	KFO_BENCH_MM2_TASKS                  tasks_max of the agent's mirror and tasks.max of MirrorMaker 2 (4)

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/apachekafka"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/mm2"
)

const (
	sideTopic      = "bench.orders"
	sidePartitions = 6
	// sideWait bounds every wait: go test -timeout does not cover
	// benchmarks' cleanup, and a broken copy must end the run.
	sideWait = 10 * time.Minute
)

// The systems of the table, in its order.
const (
	sysLoop  = "franz-go loop"
	sysMM2   = "MirrorMaker 2"
	sysAgent = "agent"
)

// copyRun is one copy of the data set by one system.
type copyRun struct {
	system  string
	records int64
	// elapsed runs from the start of the copying process (the loop: its
	// clients) until every record is readable read_committed on the
	// target; first until the first one is.
	elapsed, first time.Duration
	// cpu and peakRSS are the copying process's own, over its whole life
	// up to the end of the copy (/proc), start-up included; copyCPU is
	// its CPU time from the first readable record to the last, the copy
	// alone. All 0 for the loop, which runs in the benchmark's process
	// beside the reader.
	cpu, copyCPU time.Duration
	peakRSS      int64
}

func (r copyRun) perSec() float64 { return float64(r.records) / r.elapsed.Seconds() }

// steadyPerSec counts from the first readable record on: the copy without
// the process's start-up.
func (r copyRun) steadyPerSec() float64 {
	return float64(r.records) / (r.elapsed - r.first).Seconds()
}

func (r copyRun) String() string {
	s := fmt.Sprintf("%s: %d records in %s = %.0f records/s (first readable after %s, then %.0f records/s)",
		r.system, r.records, r.elapsed.Round(time.Millisecond), r.perSec(), r.first.Round(time.Millisecond), r.steadyPerSec())
	if r.cpu > 0 {
		s += fmt.Sprintf(", CPU %.2f s (%.2f s from the first readable record on), peak RSS %.0f MB",
			r.cpu.Seconds(), r.copyCPU.Seconds(), float64(r.peakRSS)/(1<<20))
	}
	return s
}

// sideEnv is the two clusters and the data set on the source.
type sideEnv struct {
	b            *testing.B
	src, dst     kafkatest.Kafka
	perPartition int
	tasks        int
	bytes        int64 // keys and values of the data set
}

// skipUnlessBenchMM2 skips a benchmark of make bench-mm2 in any other run,
// and where MirrorMaker 2 is not installed.
func skipUnlessBenchMM2(b *testing.B) {
	b.Helper()
	if os.Getenv("KFO_BENCH_MM2") != "1" {
		b.Skip("make bench-mm2 runs this benchmark (KFO_BENCH_MM2=1): it starts Apache Kafka and MirrorMaker 2")
	}
	if _, why := mm2.Libs(); why != "" {
		b.Skip(why)
	}
	beginBenchMM2()
}

func BenchmarkMirrorMaker2SideBySide(b *testing.B) {
	skipUnlessBenchMM2(b)
	e := &sideEnv{b: b,
		perPartition: kafkatest.BenchEnvInt(b, "KFO_BENCH_MM2_RECORDS_PER_PARTITION", 200000),
		tasks:        kafkatest.BenchEnvInt(b, "KFO_BENCH_MM2_TASKS", 4),
	}
	runs := kafkatest.BenchEnvInt(b, "KFO_BENCH_MM2_RUNS", 3)
	for range b.N { // 1 with -benchtime 1x
		e.src = kafkatest.NewClusterOfKind(b, kafkatest.Apache, "source", kafkatest.ClusterOptions{})
		e.dst = kafkatest.NewClusterOfKind(b, kafkatest.Apache, "target", kafkatest.ClusterOptions{})
		e.bytes = kafkatest.ProduceDataSet(b, e.src.Bootstrap(), sideTopic, sidePartitions, e.perPartition)
		systems := []struct {
			name string
			run  func(i int) copyRun
		}{{sysLoop, e.runLoop}, {sysMM2, e.runMM2}, {sysAgent, e.runAgent}}
		results := map[string][]copyRun{}
		for i := range runs {
			// Each system goes first in turn, so that none always runs
			// on a warmer (or more loaded) machine.
			for j := range systems {
				s := systems[(i+j)%len(systems)]
				r := isolated(e, func() copyRun { return s.run(i) })
				b.Logf("run %d %s", i+1, r)
				results[s.name] = append(results[s.name], r)
			}
		}
		e.report(runs, results)
	}
}

// isolated runs one run and then deletes the topics it made on either
// cluster (Kafka's own and the agent's, "__...", stay), so that every run
// starts on clusters holding the same data.
func isolated[R any](e *sideEnv, run func() R) R {
	before := [2][]string{e.topics(e.src), e.topics(e.dst)}
	r := run()
	for i, c := range []kafkatest.Kafka{e.src, e.dst} {
		var made []string
		for _, t := range e.topics(c) {
			if !slices.Contains(before[i], t) && !strings.HasPrefix(t, "__") {
				made = append(made, t)
			}
		}
		if len(made) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		resp, err := kadm.NewClient(kafkatest.ClientOf(e.b, c)).DeleteTopics(ctx, made...)
		cancel()
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			e.b.Fatalf("delete %v: %v", made, err)
		}
	}
	return r
}

func (e *sideEnv) topics(c kafkatest.Kafka) []string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	td, err := kadm.NewClient(kafkatest.ClientOf(e.b, c)).ListTopics(ctx)
	if err != nil {
		e.b.Fatalf("list topics: %v", err)
	}
	return td.Names()
}

// runLoop copies with a read_committed consumer on the source and an
// idempotent producer (no transactions, no linger) to the same partition
// on the target.
func (e *sideEnv) runLoop(i int) copyRun {
	b := e.b
	target := fmt.Sprintf("loop%d.%s", i, sideTopic)
	rd := e.startReader(target)
	began := time.Now()
	consumer := kafkatest.ClientOf(b, e.src, kgo.ConsumeTopics(sideTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	producer := kafkatest.ClientOf(b, e.dst, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		benchMetadataMinAge)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				producer.Produce(ctx, &kgo.Record{Topic: target, Partition: r.Partition,
					Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}, nil)
			})
		}
	}()
	first, done := rd.wait(b, sysLoop)
	cancel()
	wg.Wait()
	producer.Close()
	consumer.Close()
	return copyRun{system: sysLoop, records: rd.want(), elapsed: done.Sub(began), first: first.Sub(began)}
}

// runMM2 starts MirrorMaker 2 with cluster aliases of its own, so that it
// finds none of an earlier run's state and copies from the start.
func (e *sideEnv) runMM2(i int) copyRun {
	b := e.b
	opts := mm2.Options{
		Source: e.src.Bootstrap(), Target: e.dst.Bootstrap(),
		SourceAlias: fmt.Sprintf("a%d", i), TargetAlias: fmt.Sprintf("b%d", i),
		Topics: topicSelector(sideTopic), TasksMax: e.tasks,
	}
	rd := e.startReader(opts.SourceAlias + "." + sideTopic)
	began := time.Now()
	p := mm2.Start(b, opts)
	atFirst := rd.sampleAtFirst(p.PID())
	first, done := rd.waitWhile(b, sysMM2, func() string {
		if p.Exited() {
			return "MirrorMaker 2 exited; log " + p.LogPath() + ":\n" + apachekafka.TailFile(p.LogPath(), 8<<10)
		}
		return ""
	})
	r := e.measured(sysMM2, rd, began, first, done, p.PID(), atFirst)
	p.Stop()
	return r
}

// runAgent starts an agent beside the target (its state cluster) and
// stores an exactly-once mirror of the data set's topic, from a source
// cluster name of its own, so that the target topic is new.
func (e *sideEnv) runAgent(i int) copyRun {
	b := e.b
	source := fmt.Sprintf("a%d", i)
	rd := e.startReader(source + "." + sideTopic) // the prefix replication policy
	began := time.Now()
	a := startAgent(b, strings.Join(e.dst.Bootstrap(), ","))
	atFirst := rd.sampleAtFirst(a.cmd.Process.Pid)
	e.mirrorWith(a, fmt.Sprintf("bench-%d", i), source, sideTopic)
	first, done := rd.wait(b, sysAgent)
	r := e.measured(sysAgent, rd, began, first, done, a.cmd.Process.Pid, atFirst)
	a.stop()
	return r
}

// mirrorWith stores in agent a the source cluster under the name source,
// the target, and an exactly-once mirror of topic alone from the start,
// with the prefix replication policy.
func (e *sideEnv) mirrorWith(a *agentProc, mirror, source, topic string) {
	a.declare(source, e.src)
	a.declare("target", e.dst)
	a.mustPut("/v1/mirrors/"+mirror, agentapi.Mirror{
		Source: source, Target: "target",
		Topics:            agentapi.Selector{Include: []string{topicSelector(topic)}},
		ReplicationPolicy: agentapi.ReplicationPrefix,
		StartFrom:         agentapi.StartEarliest,
		TasksMax:          e.tasks,
	})
}

// measured is the copy run of a process pid, with its CPU time and peak
// resident set read now, at the end of the copy.
func (e *sideEnv) measured(system string, rd *copyReader, began, first, done time.Time, pid int, atFirst <-chan procStat) copyRun {
	e.b.Helper()
	end, err := procUsage(pid)
	if err != nil {
		e.b.Fatal(err)
	}
	start := <-atFirst
	if start.err != nil {
		e.b.Fatal(start.err)
	}
	return copyRun{system: system, records: rd.want(), elapsed: done.Sub(began), first: first.Sub(began),
		cpu: end.cpu, copyCPU: end.cpu - start.cpu, peakRSS: end.peakRSS}
}

// report prints the table: medians of the runs.
func (e *sideEnv) report(runs int, results map[string][]copyRun) {
	b := e.b
	type row struct {
		rate, steady, first, cpuPerM, copyCPUPerM, rssMB float64
	}
	rows := map[string]row{}
	records := float64(e.perPartition * sidePartitions)
	for name, rs := range results {
		var rate, steady, first, cpu, copyCPU, rss []float64
		for _, r := range rs {
			rate, steady = append(rate, r.perSec()), append(steady, r.steadyPerSec())
			first = append(first, r.first.Seconds())
			cpu, copyCPU = append(cpu, r.cpu.Seconds()/(records/1e6)), append(copyCPU, r.copyCPU.Seconds()/(records/1e6))
			rss = append(rss, float64(r.peakRSS)/(1<<20))
		}
		rows[name] = row{kafkatest.Median(rate), kafkatest.Median(steady), kafkatest.Median(first), kafkatest.Median(cpu), kafkatest.Median(copyCPU), kafkatest.Median(rss)}
	}
	mb := float64(e.bytes) / 1e6
	var t strings.Builder
	fmt.Fprintf(&t, "\nSide by side with MirrorMaker 2: Apache Kafka %s, one node per cluster on loopback; 1 topic x %d partitions, %.0f records, %.1f MB of keys and values; exactly once on the target for MirrorMaker 2 and the agent; tasks %d; medians of %d runs each\n",
		apachekafka.Version, sidePartitions, records, mb, e.tasks, runs)
	fmt.Fprintf(&t, "%-14s %10s %6s %7s %7s %7s %9s %12s %7s %7s %7s %10s %10s %8s\n",
		"system", "records/s", "MB/s", "/agent", "/MM2", "/loop", "first (s)", "steady rec/s", "/agent", "/MM2", "/loop",
		"CPU s/M", "copy CPU/M", "RSS MB")
	for _, name := range []string{sysLoop, sysMM2, sysAgent} {
		r := rows[name]
		cpu, copyCPU, rss := "-", "-", "-"
		if name != sysLoop {
			cpu, copyCPU, rss = fmt.Sprintf("%.2f", r.cpuPerM), fmt.Sprintf("%.2f", r.copyCPUPerM), fmt.Sprintf("%.0f", r.rssMB)
		}
		fmt.Fprintf(&t, "%-14s %10.0f %6.1f %7.2f %7.2f %7.2f %9.1f %12.0f %7.2f %7.2f %7.2f %10s %10s %8s\n",
			name, r.rate, r.rate*mb/records, r.rate/rows[sysAgent].rate, r.rate/rows[sysMM2].rate, r.rate/rows[sysLoop].rate,
			r.first, r.steady, r.steady/rows[sysAgent].steady, r.steady/rows[sysMM2].steady, r.steady/rows[sysLoop].steady,
			cpu, copyCPU, rss)
	}
	fmt.Fprintln(&t)
	printBenchMM2("throughput", t.String())
	benchMM2.Lock()
	for name, r := range rows {
		benchMM2.throughput[name] = r.rate
	}
	benchMM2.Unlock()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rows[sysMM2].rate, "mm2_rec/s")
	b.ReportMetric(rows[sysAgent].rate, "agent_rec/s")
	b.ReportMetric(rows[sysLoop].rate, "loop_rec/s")
	b.ReportMetric(rows[sysAgent].rate/rows[sysMM2].rate, "agent/mm2")
	b.ReportMetric(rows[sysAgent].steady/rows[sysMM2].steady, "steady_agent/mm2")
	b.ReportMetric(rows[sysAgent].copyCPUPerM, "agent_copy_cpu_s/M")
	b.ReportMetric(rows[sysMM2].copyCPUPerM, "mm2_copy_cpu_s/M")
}

// procStat is what /proc says of a process.
type procStat struct {
	cpu     time.Duration // user and system
	peakRSS int64         // bytes
	err     error
}

// procUsage answers a process's CPU time and peak resident set so far.
func procUsage(pid int) (procStat, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	// The fields after the command (which may hold spaces), from field 3.
	_, rest, _ := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, stat)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, stat)
	}
	const userHZ = 100 // clock ticks per second of /proc on Linux
	u := procStat{cpu: time.Duration(utime+stime) * time.Second / userHZ}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("memory of process %d: %w", pid, err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return procStat{}, fmt.Errorf("/proc/%d/status: VmHWM %q", pid, v)
			}
			u.peakRSS = kb << 10
			return u, nil
		}
	}
	return procStat{}, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// copyReader reads a target topic read_committed from the start, as an
// application would, and notes when the first record and the last record
// of the data set became readable.
type copyReader struct {
	perPartition int64
	mu           sync.Mutex
	counts       map[int32]int64
	first, done  time.Time
	err          error
	firstSeen    chan struct{} // closed with the first record
	finished     chan struct{}
	cancel       context.CancelFunc
}

// startReader creates topic on the target (as both systems would find it)
// and reads it until every partition holds its share of the data set.
func (e *sideEnv) startReader(topic string) *copyReader {
	cl := e.targetReader(topic)
	ctx, cancel := context.WithTimeout(context.Background(), sideWait)
	rd := &copyReader{perPartition: int64(e.perPartition), counts: map[int32]int64{},
		firstSeen: make(chan struct{}), finished: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(rd.finished)
		defer cl.Close()
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				rd.fail(fmt.Errorf("%s: not every record readable within %s", topic, sideWait))
				return
			}
			fs.EachError(func(t string, p int32, err error) { rd.fail(fmt.Errorf("read %s[%d]: %w", t, p, err)) })
			now := time.Now()
			complete := true
			rd.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if rd.first.IsZero() {
					rd.first = now
					close(rd.firstSeen)
				}
				rd.counts[r.Partition]++
			})
			for p := range int32(sidePartitions) {
				switch n := rd.counts[p]; {
				case n > rd.perPartition:
					rd.err = fmt.Errorf("%s[%d]: %d records, the data set has %d: copied twice", topic, p, n, rd.perPartition)
				case n < rd.perPartition:
					complete = false
				}
			}
			if complete && rd.err == nil {
				rd.done = now
			}
			stop := rd.err != nil || !rd.done.IsZero()
			rd.mu.Unlock()
			if stop {
				return
			}
		}
	}()
	return rd
}

// targetReader creates topic on the target with the data set's partitions
// (as both systems would find it) and answers a client that reads all of
// them read_committed from the start.
func (e *sideEnv) targetReader(topic string) *kgo.Client {
	kafkatest.CreateTopic(e.b, e.dst.Bootstrap(), topic, sidePartitions, nil)
	// Every partition has a leader before the clock starts: a client that
	// meets a partition without one asks again only after its metadata min
	// age, which put a 5 s stall into some runs of every system alike.
	adm := kadm.NewClient(kafkatest.ClientOf(e.b, e.dst))
	kafkatest.Eventually(e.b, time.Minute, "every partition of "+topic+" has a leader", func() (bool, string) {
		ends, err := adm.ListEndOffsets(context.Background(), topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return false, err.Error()
		}
		return len(ends[topic]) == sidePartitions, fmt.Sprintf("%d partitions answer", len(ends[topic]))
	})
	starts := map[int32]kgo.Offset{}
	for p := range int32(sidePartitions) {
		starts[p] = kgo.NewOffset().AtStart()
	}
	return kafkatest.ClientOf(e.b, e.dst, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), benchMetadataMinAge)
}

// benchMetadataMinAge lets the benchmark's own clients (the reader, the
// loop's producer) learn a new leader at once instead of after franz-go's
// default 5 s, so that they never hold up the system they measure.
var benchMetadataMinAge = kgo.MetadataMinAge(100 * time.Millisecond)

// sampleAtFirst reads process pid's usage when the first record is
// readable (or the reader gives up).
func (rd *copyReader) sampleAtFirst(pid int) <-chan procStat {
	out := make(chan procStat, 1)
	go func() {
		select {
		case <-rd.firstSeen:
		case <-rd.finished:
		}
		u, err := procUsage(pid)
		u.err = err
		out <- u
	}()
	return out
}

func (rd *copyReader) fail(err error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.err == nil {
		rd.err = err
	}
}

func (rd *copyReader) want() int64 { return rd.perPartition * sidePartitions }

// wait waits until every record is readable and answers when the first and
// the last became so.
func (rd *copyReader) wait(b *testing.B, what string) (time.Time, time.Time) {
	return rd.waitWhile(b, what, func() string { return "" })
}

// waitWhile is wait that also ends the run when broken, checked every
// second, answers why the copy cannot finish.
func (rd *copyReader) waitWhile(b *testing.B, what string, broken func() string) (time.Time, time.Time) {
	b.Helper()
	defer rd.cancel()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-rd.finished:
			rd.mu.Lock()
			defer rd.mu.Unlock()
			if rd.err != nil {
				b.Fatalf("%s: %v", what, rd.err)
			}
			return rd.first, rd.done
		case <-tick.C:
			if why := broken(); why != "" {
				b.Fatalf("%s: %s", what, why)
			}
		}
	}
}
