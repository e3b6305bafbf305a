package main

// Scale benchmarks, run by `make bench`; BENCHMARKS.md ("Scale") says how to
// read them. They are benchmarks, not timed tests: they print figures
// measured in one run and fail only when something breaks, never because
// the machine is slow. Each ignores b.N apart from running once.
//
// The agent is the built binary in a process of its own, read from outside
// through /proc; the dev clusters run in processes of their own; the load
// (producer, group commits) runs in the benchmark's process.
//
// Knobs (environment):
//
//	KFO_BENCH_SCALE_DURATION     how long BenchmarkAgentScale measures each size (30s)
//	KFO_BENCH_SCALE_RSS_DURATION how long it measures P = 1000, the RSS run; 10m is
//	                             the (default: KFO_BENCH_SCALE_DURATION)
//	KFO_BENCH_SCALE_SIZES        its sizes: partitions = groups, comma-separated (10,100,1000)
//	KFO_BENCH_SCALE_RATE         records/s it produces over all partitions (2000)
//	KFO_BENCH_SCALE_HEAP_DIR     a directory: the agent is built with -tags kfo_pprof
//	                             and its heap profile saved there at each printed sample
//	KFO_BENCH_REPLICAS_RECORDS   records preloaded for BenchmarkReplicasOneCoreEach (1200000)

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// scaleWait bounds every wait of these benchmarks: go test -timeout does
// not end a hung benchmark before make bench's 30 minutes.
const scaleWait = 5 * time.Minute

// scalePerTopic is the partitions of each topic: P partitions are P/20
// topics of 20.
const scalePerTopic = 20

func scaleEnvDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 10m", name, v)
	}
	return d
}

func scaleEnvInts(b *testing.B, name string, def ...int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want positive integers separated by commas", name, v)
		}
		out = append(out, n)
	}
	return out
}

// procSample is what /proc says of a process at one moment.
type procSample struct {
	at         time.Time
	rssKiB     int64   // VmRSS
	hwmKiB     int64   // VmHWM: the peak RSS so far
	cpuSeconds float64 // utime + stime
	heapInuse  float64 // bytes, from the agent's /metrics (BenchmarkAgentScale only)
}

// readProc reads /proc/pid/status and /proc/pid/stat.
func readProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		switch name {
		case "VmRSS":
			s.rssKiB, _ = strconv.ParseInt(fields[0], 10, 64)
		case "VmHWM":
			s.hwmKiB, _ = strconv.ParseInt(fields[0], 10, 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces: fields count from after its ')'.
	_, after, ok := strings.Cut(string(stat), ") ")
	fields := strings.Fields(after)
	if !ok || len(fields) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %q", pid, stat)
	}
	utime, _ := strconv.ParseFloat(fields[11], 64) // field 14 of stat(5)
	stime, _ := strconv.ParseFloat(fields[12], 64) // field 15
	const clockTicks = 100                         // USER_HZ on Linux
	s.cpuSeconds = (utime + stime) / clockTicks
	return s, nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// metricSum sums the samples of a Prometheus series on the agent's /metrics.
func metricSum(a *agentProc, name string) (float64, error) {
	req, _ := http.NewRequest(http.MethodGet, a.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for line := range strings.Lines(string(raw)) {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q", name, line)
		}
		sum += v
	}
	return sum, nil
}

// copiedBy answers the records an agent has copied, by its own counter.
func copiedBy(b *testing.B, a *agentProc) int64 {
	b.Helper()
	n, err := metricSum(a, "kfo_mirror_records_total")
	if err != nil {
		b.Fatalf("records copied by the agent: %v", err)
	}
	return int64(n)
}

// scaleTopics answers the topics of a size: partitions/20 topics of 20, or
// one topic of all partitions when fewer than 20.
func scaleTopics(partitions int) (names []string, perTopic int32) {
	if partitions < scalePerTopic {
		return []string{"LH.S000"}, int32(partitions)
	}
	for i := range partitions / scalePerTopic {
		names = append(names, fmt.Sprintf("LH.S%03d", i))
	}
	return names, scalePerTopic
}

// BenchmarkAgentScale runs one agent with P partitions (topics of 20) and P
// groups checkpointed every second, group g on every partition of topic
// g mod topics, while records arrive at a fixed rate and every group
// commits further each second. It prints the agent process's RSS and Go
// heap in use at each tenth of the measured window; then RSS at the start,
// middle and end, its peak, its slope over the second half, and the CPU
// seconds the agent spent per 1,000 records copied, at each size.
func BenchmarkAgentScale(b *testing.B) {
	var flags []string
	if os.Getenv("KFO_BENCH_SCALE_HEAP_DIR") != "" {
		flags = []string{"-tags", "kfo_pprof"}
	}
	bin := kafkatest.BuildAgent(b, ".", flags...)
	d := scaleEnvDuration(b, "KFO_BENCH_SCALE_DURATION", 30*time.Second)
	// The goal of a flat RSS is at P = 1000 over 10 minutes: that
	// window alone can be long, so that make bench runs it without
	// measuring the smaller sizes as long.
	rss := scaleEnvDuration(b, "KFO_BENCH_SCALE_RSS_DURATION", d)
	rate := scaleEnvInts(b, "KFO_BENCH_SCALE_RATE", 2000)[0]
	for _, p := range scaleEnvInts(b, "KFO_BENCH_SCALE_SIZES", 10, 100, 1000) {
		window := d
		if p == 1000 {
			window = rss
		}
		b.Run(fmt.Sprintf("partitions=groups=%d", p), func(b *testing.B) {
			benchAgentScale(b, bin, p, window, rate)
		})
	}
}

func benchAgentScale(b *testing.B, bin string, partitions int, d time.Duration, rate int) {
	na := kafkatest.StartDevClusterProcess(b, bin, "north-america")
	eu := kafkatest.StartDevClusterProcess(b, bin, "europe")
	var env []string
	pprofAddr := ""
	if os.Getenv("KFO_BENCH_SCALE_HEAP_DIR") != "" {
		pprofAddr = kafkatest.FreeAddr(b)
		env = []string{"KFO_PPROF_LISTEN=" + pprofAddr}
	}
	a := newAgentProc(b, strings.Join(eu.Bootstrap, ","), env)
	a.exe = bin
	a.start()
	topics, perTopic := scaleTopics(partitions)
	for _, t := range topics {
		kafkatest.CreateTopic(b, na.Bootstrap, t, perTopic, nil)
	}
	a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: na.Bootstrap})
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: eu.Bootstrap})
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:             agentapi.Selector{Include: []string{`LH\..*`}},
		Groups:             agentapi.Selector{Include: []string{`consumer-.*`}},
		CheckpointInterval: "1s",
	})

	// The load: records at rate over every partition, and every group
	// committing the produced ends of its topic each second.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prod := kafkatest.Client(b, na.Bootstrap, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(10*time.Millisecond))
	var produced atomic.Int64
	produceErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		next := 0 // round robin over all partitions
		for ctx.Err() == nil {
			for range max(1, rate/10) {
				t, p := topics[next/int(perTopic)], int32(next%int(perTopic))
				next = (next + 1) % partitions
				prod.Produce(ctx, kafkatest.GenRecord(t, p, int(produced.Load())), func(_ *kgo.Record, err error) {
					if err != nil && ctx.Err() == nil {
						select {
						case produceErr <- err:
						default:
						}
					}
				})
				produced.Add(1)
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	})
	adm := kadm.NewClient(kafkatest.Client(b, na.Bootstrap))
	var commitRounds atomic.Int64
	wg.Go(func() {
		for ctx.Err() == nil {
			start := time.Now()
			ends, err := adm.ListEndOffsets(ctx, topics...)
			if err == nil {
				commitGroups(ctx, adm, partitions, topics, ends)
				commitRounds.Add(1)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second - time.Since(start)):
			}
		}
	})
	defer wg.Wait()
	defer cancel()

	// Warm: every partition copies and the last group has a checkpoint.
	last := fmt.Sprintf("consumer-%04d", partitions-1)
	kafkatest.Eventually(b, scaleWait, "every partition copied and every group checkpointed", func() (bool, string) {
		st := a.status("na-to-eu")
		copying := 0
		for _, p := range st.Partitions {
			if p.LastMirroredOffset >= 0 {
				copying++
			}
		}
		var cps agentapi.GroupCheckpoints
		code := a.call("GET", "/v1/mirrors/na-to-eu/groups/"+last, nil, &cps)
		return copying == partitions && code == http.StatusOK && len(cps.Partitions) > 0,
			fmt.Sprintf("%d of %d partitions copied, %s checkpoint: HTTP %d, %d partitions", copying, partitions, last, code, len(cps.Partitions))
	})

	pid := a.cmd.Process.Pid
	sample := func() procSample {
		s, err := readProc(pid)
		if err != nil {
			b.Fatalf("agent process %d: %v", pid, err)
		}
		s.heapInuse, err = metricSum(a, "go_memstats_heap_inuse_bytes")
		if err != nil {
			b.Fatalf("agent heap in use: %v", err)
		}
		return s
	}
	first, copiedBefore := sample(), copiedBy(b, a)
	samples := []procSample{first}
	// The figures are printed at every tenth of the window: each minute of
	// a 10-minute run.
	step, nextPrint := d/10, 0
	printed := func(s procSample) {
		el := s.at.Sub(first.at).Round(time.Second)
		fmt.Printf("agent at scale, %d partitions: at %s RSS %.1f MiB, Go heap in use %.1f MiB (%.1f KiB per partition)\n",
			partitions, el, mib(s.rssKiB), s.heapInuse/(1<<20), s.heapInuse/1024/float64(partitions))
		profile(b, pprofAddr, fmt.Sprintf("heap-p%d-%04ds.pb.gz", partitions, int(el.Seconds())))
	}
	printed(first)
	b.ResetTimer()
	for end := first.at.Add(d); time.Now().Before(end); {
		select {
		case err := <-produceErr:
			b.Fatalf("producing to north-america: %v", err)
		case <-time.After(time.Second):
		}
		s := sample()
		samples = append(samples, s)
		if n := int(s.at.Sub(first.at) / step); n > nextPrint && n < 10 {
			nextPrint = n
			printed(s)
		}
	}
	b.StopTimer()
	lastS, copied := samples[len(samples)-1], copiedBy(b, a)-copiedBefore
	printed(lastS)
	if copied <= 0 {
		b.Fatalf("the agent copied %d records in %s", copied, d)
	}
	mid := samples[len(samples)/2]
	var peakKiB int64
	for _, s := range samples {
		peakKiB = max(peakKiB, s.rssKiB)
	}
	slope := rssSlope(samples[len(samples)/2:])
	cpu := lastS.cpuSeconds - first.cpuSeconds
	round, _ := metricSum(a, "kfo_checkpoint_round_seconds")
	perK := cpu / float64(copied) * 1000
	fmt.Printf("agent at scale, %d partitions (%d topics) x %d groups, checkpoints every 1s, %d records/s offered, %s: RSS %.1f / %.1f / %.1f MiB at start / middle / end, peak %.1f MiB in the window (%.1f MiB since the agent started), slope %+.2f MiB per minute over the second half; Go heap in use at the end %.1f MiB; %d records copied, agent CPU %.2f s (%.3f CPU s per 1000 records, %.0f%% of a core); last checkpoint round %.0f ms; %d group commit passes\n",
		partitions, len(topics), partitions, rate, d, mib(first.rssKiB), mib(mid.rssKiB), mib(lastS.rssKiB), mib(peakKiB), mib(lastS.hwmKiB), slope,
		lastS.heapInuse/(1<<20), copied, cpu, perK, 100*cpu/lastS.at.Sub(first.at).Seconds(), round*1000, commitRounds.Load())
	b.ReportMetric(mib(lastS.rssKiB), "end-RSS-MiB")
	b.ReportMetric(mib(peakKiB), "peak-RSS-MiB")
	b.ReportMetric(slope, "RSS-MiB/min")
	b.ReportMetric(perK, "CPU-s/1000-records")
}

// rssSlope is the least-squares slope of RSS over time, in MiB per minute.
func rssSlope(samples []procSample) float64 {
	if len(samples) < 2 {
		return 0
	}
	var n, sx, sy, sxx, sxy float64
	for _, s := range samples {
		x, y := s.at.Sub(samples[0].at).Minutes(), mib(s.rssKiB)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// profile saves the heap profile of the agent serving profiles at addr
// (agent/pprof.go) in KFO_BENCH_SCALE_HEAP_DIR; addr "": it serves none.
func profile(b *testing.B, addr, name string) {
	if addr == "" {
		return
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap")
	if err != nil {
		b.Fatalf("agent heap profile: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(filepath.Join(os.Getenv("KFO_BENCH_SCALE_HEAP_DIR"), name), raw, 0o644)
	}
	if err != nil {
		b.Fatalf("agent heap profile %s: %v", name, err)
	}
}

// commitGroups commits for each of the groups the end offsets of its topic
// (group g reads topic g mod topics), a few groups at a time.
func commitGroups(ctx context.Context, adm *kadm.Client, groups int, topics []string, ends kadm.ListedOffsets) {
	slots := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for g := range groups {
		topic := topics[g%len(topics)]
		offs := kadm.Offsets{}
		for _, o := range ends[topic] {
			if o.Err == nil {
				offs.AddOffset(topic, o.Partition, o.Offset, -1)
			}
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			_, _ = adm.CommitOffsets(ctx, fmt.Sprintf("consumer-%04d", g), offs) // the next pass commits again
		})
	}
	wg.Wait()
}

// BenchmarkReplicasOneCoreEach copies the same preloaded records with one
// agent replica and then with two on one state cluster, each replica held
// to one core (GOMAXPROCS=1), and prints the records/s of each and their
// ratio. The rate is taken between 10% and 90% of the records on the
// target, apart from the start (topic creation, the task group's join).
func BenchmarkReplicasOneCoreEach(b *testing.B) {
	bin := kafkatest.BuildAgent(b, ".")
	records := scaleEnvInts(b, "KFO_BENCH_REPLICAS_RECORDS", 1200000)[0]
	const partitions = 12
	na := kafkatest.StartDevClusterProcess(b, bin, "north-america")
	kafkatest.CreateTopic(b, na.Bootstrap, "LH.ORDERS", partitions, nil)
	kafkatest.NewProducer(b, na.Bootstrap).Produce(b, "LH.ORDERS", partitions, records/partitions)
	total := int64(records / partitions * partitions)

	rates := map[int]float64{}
	for _, replicas := range []int{1, 2} {
		// A target of its own, also the replicas' state cluster.
		eu := kafkatest.StartDevClusterProcess(b, bin, fmt.Sprintf("europe-%d", replicas))
		var agents []*agentProc
		for range replicas {
			a := newAgentProc(b, strings.Join(eu.Bootstrap, ","), []string{"GOMAXPROCS=1"})
			a.exe = bin
			a.start()
			agents = append(agents, a)
		}
		a := agents[0]
		a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: na.Bootstrap})
		a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: eu.Bootstrap})
		// Every replica in the task group before the copy starts, so
		// that the measured window is not one replica copying alone.
		a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
			Source: "north-america", Target: "europe", TasksMax: 4,
			Topics: agentapi.Selector{Include: []string{`NONE`}}, RefreshInterval: "1s",
		})
		for _, r := range agents {
			r.waitLogged(b, scaleWait, "mirror task assigned to this agent")
		}
		a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
			Source: "north-america", Target: "europe", TasksMax: 4,
			Topics: agentapi.Selector{Include: []string{`LH\.ORDERS`}}, RefreshInterval: "1s",
		})
		// Polled every 20 ms: the counters move at each task's commit.
		var t10, t90 time.Time
		var cpu10, cpu90 float64
		agentsCPU := func() float64 {
			var sum float64
			for _, r := range agents {
				if ps, err := readProc(r.cmd.Process.Pid); err == nil {
					sum += ps.cpuSeconds
				}
			}
			return sum
		}
		for deadline := time.Now().Add(scaleWait); ; time.Sleep(20 * time.Millisecond) {
			var n int64
			for _, r := range agents {
				n += copiedBy(b, r)
			}
			now := time.Now()
			if t10.IsZero() && n >= total/10 {
				t10, cpu10 = now, agentsCPU()
			}
			if t90.IsZero() && n >= total*9/10 {
				t90, cpu90 = now, agentsCPU()
			}
			if n >= total {
				break
			}
			if now.After(deadline) {
				b.Fatalf("%d replica(s): %d of %d records copied after %s", replicas, n, total, scaleWait)
			}
		}
		rates[replicas] = float64(total*8/10) / t90.Sub(t10).Seconds()
		window := t90.Sub(t10)
		fmt.Printf("replicas one core each (GOMAXPROCS=1): %d replica(s) copied %d records at %.0f records/s (10%%-90%% in %s, the agents busy %.2f cores of their %d)\n",
			replicas, total, rates[replicas], window.Round(time.Millisecond), (cpu90-cpu10)/window.Seconds(), replicas)
		for _, r := range agents {
			r.stop()
		}
		eu.Kill()
	}
	ratio := rates[2] / rates[1]
	fmt.Printf("replicas one core each (GOMAXPROCS=1): 2 replicas copy %.2fx as fast as 1 (%.0f vs %.0f records/s)\n", ratio, rates[2], rates[1])
	b.ReportMetric(rates[1], "1-replica-records/s")
	b.ReportMetric(rates[2], "2-replicas-records/s")
	b.ReportMetric(ratio, "ratio")
}
