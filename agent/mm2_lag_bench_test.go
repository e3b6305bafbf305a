package main

// BenchmarkMirrorMaker2Lag, run by `make bench-mm2`: replication lag of
// MirrorMaker 2 (exactly once on the target) and of the agent under the same
// paced load, one system after the other on the same two Apache Kafka
// clusters. The lag of a record is the time from its produce timestamp on
// the source to when a read_committed reader of the target sees it.
//
// Knobs (environment):
//
//	KFO_BENCH_MM2_LAG_RATES    records/s of the paced load, comma-separated (10000,50000)
//	KFO_BENCH_MM2_LAG_SECONDS  how long each load runs, per rate and system (20)
//	KFO_BENCH_MM2_LAG_WARMUP   seconds of the same load before it, not counted (5)
//	KFO_BENCH_MM2_TASKS        as for BenchmarkMirrorMaker2SideBySide (4)

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/apachekafka"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/mm2"
)

// lagRun is one paced load through one system.
type lagRun struct {
	system string
	rate   int           // records/s asked
	sent   int64         // records produced
	took   time.Duration // first to last produce call
	// lags of every record of the load, sorted.
	lags []time.Duration
}

func (l lagRun) produced() float64 { return float64(l.sent) / l.took.Seconds() }

// p answers the q-th percentile (0 < q <= 100) of the lags, nearest rank.
func (l lagRun) p(q float64) time.Duration {
	if len(l.lags) == 0 {
		return 0
	}
	i := int(float64(len(l.lags))*q/100+0.999999) - 1
	return l.lags[min(max(i, 0), len(l.lags)-1)]
}

func BenchmarkMirrorMaker2Lag(b *testing.B) {
	skipUnlessBenchMM2(b)
	rates := scaleEnvInts(b, "KFO_BENCH_MM2_LAG_RATES", 10000, 50000)
	seconds := time.Duration(kafkatest.BenchEnvInt(b, "KFO_BENCH_MM2_LAG_SECONDS", 20)) * time.Second
	warmup := time.Duration(kafkatest.BenchEnvInt(b, "KFO_BENCH_MM2_LAG_WARMUP", 5)) * time.Second
	e := &sideEnv{b: b, tasks: kafkatest.BenchEnvInt(b, "KFO_BENCH_MM2_TASKS", 4)}
	for range b.N {
		e.src = kafkatest.NewClusterOfKind(b, kafkatest.Apache, "source", kafkatest.ClusterOptions{})
		e.dst = kafkatest.NewClusterOfKind(b, kafkatest.Apache, "target", kafkatest.ClusterOptions{})
		systems := []string{sysMM2, sysAgent}
		var runs []lagRun
		for k, rate := range rates {
			for j := range systems {
				// Each system goes first at every other rate.
				system := systems[(k+j)%len(systems)]
				i := len(runs)
				r := isolated(e, func() lagRun { return e.runLag(system, i, rate, warmup, seconds) })
				b.Logf("%s at %d records/s: %d records in %s (%.0f records/s), lag p50 %s p99 %s max %s",
					system, rate, r.sent, r.took.Round(time.Millisecond), r.produced(), r.p(50), r.p(99), r.p(100))
				runs = append(runs, r)
			}
		}
		e.reportLag(warmup, seconds, runs)
	}
}

// runLag starts system on a new source topic, waits until a record of each
// partition is readable on the target, then produces rate records/s for
// warmup+d and answers the lag of each record of d. The warm-up leaves out
// what a system does once after it starts (JIT, new internal topics).
func (e *sideEnv) runLag(system string, i, rate int, warmup, d time.Duration) lagRun {
	b := e.b
	topic := fmt.Sprintf("lag%d.%s", i, sideTopic)
	kafkatest.CreateTopic(b, e.src.Bootstrap(), topic, sidePartitions, nil)
	alias := fmt.Sprintf("l%d", i)
	rd := e.startLagReader(alias + "." + topic) // both systems prefix the alias
	defer rd.close()
	var broken func() string
	var stop func()
	switch system {
	case sysMM2:
		p := mm2.Start(b, mm2.Options{
			Source: e.src.Bootstrap(), Target: e.dst.Bootstrap(),
			SourceAlias: alias, TargetAlias: fmt.Sprintf("t%d", i),
			Topics: topicSelector(topic), TasksMax: e.tasks,
		})
		broken = func() string {
			if p.Exited() {
				return "MirrorMaker 2 exited; log " + p.LogPath() + ":\n" + apachekafka.TailFile(p.LogPath(), 8<<10)
			}
			return rd.failed()
		}
		stop = p.Stop
	case sysAgent:
		a := startAgent(b, strings.Join(e.dst.Bootstrap(), ","))
		e.mirrorWith(a, fmt.Sprintf("lag-%d", i), alias, topic)
		broken, stop = rd.failed, a.stop
	}
	defer stop()

	warm := kafkatest.ClientOf(b, e.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(sidePartitions) {
		// No key: a warm-up record.
		if err := warm.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: []byte("warm-up")}).FirstErr(); err != nil {
			b.Fatalf("%s: warm-up record: %v", system, err)
		}
	}
	warm.Close()
	rd.waitFor(b, system+" start", func(warm, _ int) bool { return warm == sidePartitions }, broken)

	r := lagRun{system: system, rate: rate}
	var warmed int64
	warmed, r.sent, r.took = pacedLoad(b, e.src, topic, rate, warmup, d)
	rd.waitFor(b, fmt.Sprintf("%s at %d records/s", system, rate), func(warm, n int) bool {
		return int64(warm) >= sidePartitions+warmed && int64(n) >= r.sent
	}, broken)
	rd.mu.Lock()
	r.lags = slices.Clone(rd.lags)
	rd.mu.Unlock()
	if int64(len(r.lags)) > r.sent {
		b.Fatalf("%s: %d records readable on the target, %d produced: copied twice", system, len(r.lags), r.sent)
	}
	slices.Sort(r.lags)
	return r
}

// topicSelector is the selector of topic alone.
func topicSelector(topic string) string { return strings.ReplaceAll(topic, ".", `\.`) }

// pacedLoad produces rate records/s to topic, spread over its partitions,
// for warmup+d: every millisecond it catches up with rate x elapsed. Each
// record's timestamp is the moment it is handed to the client; its key
// starts with "warm-" in the warm-up, "lag-" after. It answers the records
// of the warm-up, those after it and the time from the first of those to
// the last.
func pacedLoad(b *testing.B, c kafkatest.Kafka, topic string, rate int, warmup, d time.Duration) (warmed, sent int64, took time.Duration) {
	b.Helper()
	// No linger: a record leaves as soon as the previous request is
	// answered, so that the lag is the copy's, not the producer's.
	cl := kafkatest.ClientOf(b, c, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	defer cl.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	values := make([][]byte, 1024) // made beforehand: the load spends little CPU
	for i := range values {
		values[i] = kafkatest.DataSetValue(rng, int32(i%sidePartitions), i)
	}
	ctx := context.Background()
	var firstErr atomic.Value
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var n int64
	began := time.Now()
	warmed = int64(warmup.Seconds() * float64(rate))
	var first, last time.Time
	for {
		elapsed := time.Since(began)
		if elapsed >= warmup+d {
			break
		}
		for due := int64(elapsed.Seconds() * float64(rate)); n < due; n++ {
			last = time.Now()
			key := []byte("warm-")
			if n >= warmed {
				key = []byte("lag-")
				if first.IsZero() {
					first = last
				}
			}
			cl.Produce(ctx, &kgo.Record{
				Topic: topic, Partition: int32(n % sidePartitions),
				Key: strconv.AppendInt(key, n, 10), Value: values[n%int64(len(values))],
				Timestamp: last,
			}, func(_ *kgo.Record, err error) {
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			})
		}
		<-tick.C
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatalf("paced load on %s: %v", topic, err)
	}
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatalf("paced load on %s: %v", topic, err)
	}
	return warmed, n - warmed, last.Sub(first)
}

// lagReader reads a target topic read_committed from the start and notes,
// for each record with a "lag-" key, how long after its timestamp it was
// read.
type lagReader struct {
	mu    sync.Mutex
	warm  int // the other records
	lags  []time.Duration
	err   error
	close func()
}

// startLagReader reads topic on the target (made by targetReader) until
// closed.
func (e *sideEnv) startLagReader(topic string) *lagReader {
	cl := e.targetReader(topic)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rd := &lagReader{}
	rd.close = func() { cancel(); <-done; cl.Close() }
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			rd.mu.Lock()
			fs.EachError(func(t string, p int32, err error) {
				if ctx.Err() == nil && rd.err == nil {
					rd.err = fmt.Errorf("read %s[%d]: %w", t, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				if !bytes.HasPrefix(r.Key, []byte("lag-")) {
					rd.warm++
					return
				}
				rd.lags = append(rd.lags, now.Sub(r.Timestamp))
			})
			rd.mu.Unlock()
		}
	}()
	return rd
}

func (rd *lagReader) failed() string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.err != nil {
		return rd.err.Error()
	}
	return ""
}

// waitFor waits, at most sideWait, until done holds of the warm-up records
// and the load's records read so far; broken ends the run early with why.
func (rd *lagReader) waitFor(b *testing.B, what string, done func(warm, read int) bool, broken func() string) {
	b.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(sideWait)
	for range tick.C {
		rd.mu.Lock()
		warm, read := rd.warm, len(rd.lags)
		rd.mu.Unlock()
		if done(warm, read) {
			return
		}
		if why := broken(); why != "" {
			b.Fatalf("%s: %s", what, why)
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d warm-up records and %d of the load read within %s", what, warm, read, sideWait)
		}
	}
}

// reportLag prints one row per system and rate.
func (e *sideEnv) reportLag(warmup, d time.Duration, runs []lagRun) {
	var t strings.Builder
	fmt.Fprintf(&t, "\nReplication lag under a paced load: Apache Kafka %s, one node per cluster on loopback; 1 topic x %d partitions, ~200-byte values; each system alone, %s per rate after %s of warm-up; exactly once on the target for both; tasks %d; lag = produce timestamp on the source to readable read_committed on the target\n",
		apachekafka.Version, sidePartitions, d, warmup, e.tasks)
	fmt.Fprintf(&t, "%-14s %9s %9s %11s %9s %9s %9s %8s\n", "system", "rate/s", "records", "produced/s", "p50 ms", "p99 ms", "max ms", "p99/MM2")
	for _, r := range runs {
		ratio := "-"
		if i := slices.IndexFunc(runs, func(o lagRun) bool { return o.system == sysMM2 && o.rate == r.rate }); i >= 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.p(99))/float64(runs[i].p(99)))
		}
		fmt.Fprintf(&t, "%-14s %9d %9d %11.0f %9.1f %9.1f %9.1f %8s\n",
			r.system, r.rate, r.sent, r.produced(), msOf(r.p(50)), msOf(r.p(99)), msOf(r.p(100)), ratio)
	}
	fmt.Fprintln(&t)
	printBenchMM2("lag", t.String())
	benchMM2.Lock()
	benchMM2.lag = runs
	benchMM2.Unlock()
	e.b.ReportMetric(0, "ns/op")
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
