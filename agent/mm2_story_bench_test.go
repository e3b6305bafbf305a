package main

// BenchmarkMirrorMaker2ReferenceStory, run by `make bench-mm2`: the
// reference story, scripted, with MirrorMaker 2 and with the agent, several
// runs each, each on two Apache Kafka clusters of its own. An application
// produces to north-america and a consumer group reads there, committing
// after every poll; the system under test mirrors to europe; north-america
// is killed at a random moment; the group moves to europe the way each
// system's documentation says (MirrorMaker 2: stop it and commit the
// offsets of its last checkpoints; the agent: forced failover), and the
// benchmark counts what the group would re-read and skip there and what
// was lost, against what each system reported.
//
// Knobs (environment):
//
//	KFO_BENCH_STORY_SECONDS                 least time the story runs, once the copy runs, before north-america is
//	                                        killed; up to 15 s more at random (65)
//	KFO_BENCH_STORY_RATE                    records/s the application produces over 3 partitions (300)
//	KFO_BENCH_MM2_STORY_RUNS                runs of each system, in turn (3)
//	KFO_BENCH_STORY_MM2_CHECKPOINT_SECONDS  MirrorMaker 2's emit.checkpoints.interval.seconds and
//	                                        sync.group.offsets.interval.seconds (60, the story's)

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/mm2"
)

const (
	storyTopic      = "LH.orders"
	storyGroup      = "consumer-southamerica"
	storyPartitions = 3
)

// storyApp is the application on north-america: a producer and a consumer
// group that commits after every poll. Counts are per partition, as next
// offsets: acked (the producer's acknowledged records), read (handed to the
// application) and committed.
type storyApp struct {
	mu                     sync.Mutex
	acked, read, committed map[int32]int64
	cancel                 context.CancelFunc
	wg                     sync.WaitGroup
}

func startStoryApp(b *testing.B, na kafkatest.Kafka, rate int) *storyApp {
	app := &storyApp{acked: map[int32]int64{}, read: map[int32]int64{}, committed: map[int32]int64{}}
	ctx, cancel := context.WithCancel(context.Background())
	app.cancel = cancel
	prod := kafkatest.ClientOf(b, na, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	cons := kafkatest.ClientOf(b, na, kgo.ConsumerGroup(storyGroup), kgo.ConsumeTopics(storyTopic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	app.wg.Add(2)
	go func() { // paced: every 10 ms, a hundredth of a second's records
		defer app.wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		next := map[int32]int{}
		for sent := 0; ctx.Err() == nil; {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for range max(rate/100, 1) {
				p := int32(sent % storyPartitions)
				sent++
				prod.Produce(ctx, kafkatest.GenRecord(storyTopic, p, next[p]), func(r *kgo.Record, err error) {
					if err == nil {
						app.mu.Lock()
						app.acked[r.Partition] = max(app.acked[r.Partition], r.Offset+1)
						app.mu.Unlock()
					}
				})
				next[p]++
			}
		}
	}()
	go func() {
		defer app.wg.Done()
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			app.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { app.read[r.Partition] = r.Offset + 1 })
			app.mu.Unlock()
			marks := cons.UncommittedOffsets()
			if err := cons.CommitUncommittedOffsets(ctx); err == nil {
				app.mu.Lock()
				for p, o := range marks[storyTopic] {
					app.committed[p] = max(app.committed[p], o.Offset)
				}
				app.mu.Unlock()
			}
		}
	}()
	return app
}

// stop ends the application (after its cluster was lost) and answers its
// counts.
func (app *storyApp) stop() (acked, read, committed map[int32]int64) {
	app.cancel()
	app.wg.Wait()
	app.mu.Lock()
	defer app.mu.Unlock()
	return app.acked, app.read, app.committed
}

// waitMirroring waits until topic on europe has records: the system under
// test copies; the story's clock starts then.
func waitMirroring(b *testing.B, eu kafkatest.Kafka, topic string) {
	b.Helper()
	adm := kadm.NewClient(kafkatest.ClientOf(b, eu))
	kafkatest.Eventually(b, 5*time.Minute, topic+" on europe has records", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false, err.Error()
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				n += o.Offset
			}
		})
		return n > 0, fmt.Sprintf("%d records", n)
	})
}

// storyOutcome is what the group finds on europe after the failover.
type storyOutcome struct {
	system string
	run    int // from 1
	// reread: records the group had read on north-america and reads again
	// on europe; translation: those of them before the source offset its
	// last checkpoint stands for (the group's own work since that
	// checkpoint is the rest), -1 when the system does not say.
	reread, translation int64
	skipped             int64 // records on europe the group never read and starts after
	lost                int64 // acknowledged on north-america, missing on europe
	// reported is the system's own report of the loss; reportedLost its
	// count (MirrorMaker 2 reports none: 0), -1 when there is none.
	reported     string
	reportedLost int64
}

// storyCount compares where the group resumes on europe (resume: target
// offsets of topic, per partition; checkpointed: the source offsets they
// stand for, nil when unknown) with what the application did.
func storyCount(b *testing.B, system string, eu kafkatest.Kafka, topic string, resume, checkpointed map[int32]int64, acked, read map[int32]int64) storyOutcome {
	b.Helper()
	o := storyOutcome{system: system}
	if checkpointed == nil {
		o.translation = -1
	}
	onEU := kafkatest.ReadAll(b, eu.Bootstrap(), topic, eu.ClientOpts()...)
	for p := range int32(storyPartitions) {
		recs := onEU[p]
		o.lost += acked[p] - int64(len(recs))
		// The source offset of the first record the group reads there
		// (the key says it); the copies keep the source order.
		next := int64(len(recs))
		for _, r := range recs {
			if r.Offset >= resume[p] {
				i := strings.LastIndexByte(string(r.Key), '-')
				n, err := strconv.ParseInt(string(r.Key[i+1:]), 10, 64)
				if err != nil {
					b.Fatalf("%s[%d]: key %q", topic, p, r.Key)
				}
				next = n
				break
			}
		}
		o.reread += max(0, min(read[p], int64(len(recs)))-next)
		o.skipped += max(0, next-read[p])
		if checkpointed != nil {
			o.translation += max(0, min(checkpointed[p], int64(len(recs)))-next)
		}
	}
	return o
}

func BenchmarkMirrorMaker2ReferenceStory(b *testing.B) {
	skipUnlessBenchMM2(b)
	least := time.Duration(kafkatest.BenchEnvInt(b, "KFO_BENCH_STORY_SECONDS", 65)) * time.Second
	rate := kafkatest.BenchEnvInt(b, "KFO_BENCH_STORY_RATE", 300)
	mm2Interval := time.Duration(kafkatest.BenchEnvInt(b, "KFO_BENCH_STORY_MM2_CHECKPOINT_SECONDS", 60)) * time.Second
	runs := kafkatest.BenchEnvInt(b, "KFO_BENCH_MM2_STORY_RUNS", 3)
	lifetime := func() time.Duration { return least + rand.N(15*time.Second) }
	systems := []func() storyOutcome{
		func() storyOutcome {
			return storyWithMM2(b, "MM2 (story)", rate, lifetime(), storyMM2Settings(mm2Interval))
		},
		func() storyOutcome { return storyWithMM2(b, "MM2 (defaults)", rate, lifetime(), func(*mm2.Options) {}) },
		func() storyOutcome { return storyWithAgent(b, rate, lifetime()) },
	}
	for range b.N {
		var outcomes []storyOutcome
		for i := range runs {
			for j := range systems { // each system goes first in turn
				o := systems[(i+j)%len(systems)]()
				o.run = i + 1
				outcomes = append(outcomes, o)
			}
		}
		var t strings.Builder
		fmt.Fprintf(&t, "\nThe reference story on Apache Kafka: %d records/s over %d partitions, north-america killed after %s + up to 15 s; MM2 (story): offset.lag.max 25, checkpoints and group syncs every %s; MM2 (defaults): offset.lag.max 100, checkpoints every 60 s, no group syncs; agent: checkpoint_interval 1 s; %d runs of each\n",
			rate, storyPartitions, least, mm2Interval, runs)
		t.WriteString(storyTable(outcomes))
		fmt.Fprintln(&t)
		printBenchMM2("story", t.String())
		b.ReportMetric(0, "ns/op")
	}
}

// storyTable is one line per run, in the order they ran, then the medians
// of each system and how often its own report of the loss was right
// (MirrorMaker 2 reports none, which is right when nothing was lost).
func storyTable(outcomes []storyOutcome) string {
	var t strings.Builder
	fmt.Fprintf(&t, "%-14s %4s %8s %22s %8s %6s  %s\n", "system", "run", "re-read", "before its checkpoint", "skipped", "lost", "its own report of the loss")
	var names []string
	for _, o := range outcomes {
		fmt.Fprintf(&t, "%-14s %4d %8d %22d %8d %6d  %s\n", o.system, o.run, o.reread, o.translation, o.skipped, o.lost, o.reported)
		if !slices.Contains(names, o.system) {
			names = append(names, o.system)
		}
	}
	for _, name := range names {
		var reread, translation, skipped, lost []float64
		right, n := 0, 0
		for _, o := range outcomes {
			if o.system != name {
				continue
			}
			n++
			reread, translation = append(reread, float64(o.reread)), append(translation, float64(o.translation))
			skipped, lost = append(skipped, float64(o.skipped)), append(lost, float64(o.lost))
			if o.reportedLost == o.lost {
				right++
			}
		}
		fmt.Fprintf(&t, "%-14s %4s %8.0f %22.0f %8.0f %6.0f  its report = lost in %d of %d runs\n", name, "med.",
			kafkatest.Median(reread), kafkatest.Median(translation), kafkatest.Median(skipped), kafkatest.Median(lost), right, n)
	}
	return t.String()
}

// storyMM2Settings are the reference story's MirrorMaker 2 settings, with
// checkpoints and group syncs every interval (the story's: 60 s).
func storyMM2Settings(interval time.Duration) func(*mm2.Options) {
	return func(o *mm2.Options) {
		o.OffsetLagMax, o.EmitCheckpointsInterval = 25, interval
		o.SyncGroupOffsets, o.SyncGroupOffsetsInterval = true, interval
	}
}

// storyWithMM2: MirrorMaker 2 with the settings set makes; after the loss
// it is stopped and the group resumes at its last checkpoints' offsets (a
// partition without one resumes at the start: the group's
// auto.offset.reset earliest).
func storyWithMM2(b *testing.B, name string, rate int, lifetime time.Duration, set func(*mm2.Options)) storyOutcome {
	na := kafkatest.NewClusterOfKind(b, kafkatest.Apache, "north-america", kafkatest.ClusterOptions{})
	eu := kafkatest.NewClusterOfKind(b, kafkatest.Apache, "europe", kafkatest.ClusterOptions{})
	kafkatest.CreateTopic(b, na.Bootstrap(), storyTopic, storyPartitions, nil)
	opts := mm2.Options{
		Source: na.Bootstrap(), Target: eu.Bootstrap(), SourceAlias: "north-america", TargetAlias: "europe",
		Topics: `LH\..*`, Groups: `consumer-.*`,
	}
	set(&opts)
	p := mm2.Start(b, opts)
	app := startStoryApp(b, na, rate)
	waitMirroring(b, eu, p.RemoteTopic(storyTopic))
	time.Sleep(lifetime) // the story's own clock: the loss comes at a random moment
	if p.Exited() {
		b.Fatalf("MirrorMaker 2 exited before the loss; log %s", p.LogPath())
	}
	na.Kill()
	acked, read, committed := app.stop()
	p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cps, err := mm2.ReadCheckpoints(ctx, kafkatest.ClientOf(b, eu), p.CheckpointsTopic())
	if err != nil {
		b.Fatal(err)
	}
	remote := p.RemoteTopic(storyTopic)
	resume, checkpointed := map[int32]int64{}, map[int32]int64{}
	missing := 0
	for part := range int32(storyPartitions) {
		c, ok := cps[storyGroup][mm2.TopicPartition{Topic: remote, Partition: part}]
		if !ok {
			missing++ // resumes at 0
		}
		resume[part], checkpointed[part] = c.Downstream, c.Upstream
	}
	b.Logf("%s story: lost after %s; acked %v, read %v, committed %v; checkpointed %v, resumes at %v",
		name, lifetime.Round(time.Second), acked, read, committed, checkpointed, resume)
	o := storyCount(b, name, eu, remote, resume, checkpointed, acked, read)
	o.reported, o.reportedLost = "none (MirrorMaker 2 reports no loss)", 0
	if missing > 0 {
		o.reported += fmt.Sprintf("; no checkpoint of %d partitions: the group reads them from the start", missing)
	}
	return o
}

// storyWithAgent: the agent beside europe with a mirror of the story's
// topics and groups (default checkpoint_interval, 1 s) and a policy; after
// the loss, a forced failover, and the group resumes at the offsets the
// agent committed for it on europe.
func storyWithAgent(b *testing.B, rate int, lifetime time.Duration) storyOutcome {
	na := kafkatest.NewClusterOfKind(b, kafkatest.Apache, "north-america", kafkatest.ClusterOptions{})
	eu := kafkatest.NewClusterOfKind(b, kafkatest.Apache, "europe", kafkatest.ClusterOptions{})
	kafkatest.CreateTopic(b, na.Bootstrap(), storyTopic, storyPartitions, nil)
	a := startAgent(b, strings.Join(eu.Bootstrap(), ","))
	a.declare("north-america", na)
	a.declare("europe", eu)
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, Groups: agentapi.Selector{Include: []string{`consumer-.*`}}})
	a.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingNone})
	app := startStoryApp(b, na, rate)
	waitMirroring(b, eu, storyTopic)
	time.Sleep(lifetime) // the story's own clock: the loss comes at a random moment
	killed := time.Now()
	na.Kill()
	acked, read, committed := app.stop()
	var res agentapi.Failover
	if code := a.call("POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "story"}, &res); code != 200 {
		b.Fatalf("forced failover: HTTP %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	offsets, err := kadm.NewClient(kafkatest.ClientOf(b, eu)).FetchOffsets(ctx, storyGroup)
	if err != nil {
		b.Fatal(err)
	}
	resume := map[int32]int64{}
	for part := range int32(storyPartitions) {
		if o, ok := offsets.Lookup(storyTopic, part); ok {
			resume[part] = o.At
		}
	}
	// The checkpoints the failover committed from, as stored on europe.
	stored, err := checkpoint.ReadStored(ctx, append([]kgo.Opt{kgo.SeedBrokers(eu.Bootstrap()...)}, eu.ClientOpts()...), "na-to-eu")
	if err != nil {
		b.Fatal(err)
	}
	var checkpointed map[int32]int64
	for _, g := range stored {
		if g.Group == storyGroup {
			checkpointed = map[int32]int64{}
			for _, c := range g.Partitions {
				checkpointed[c.Partition] = c.SourceOffset
			}
		}
	}
	b.Logf("agent story: lost after %s; acked %v, read %v, committed %v; checkpointed %v, resumes at %v",
		lifetime.Round(time.Second), acked, read, committed, checkpointed, resume)
	o := storyCount(b, "agent", eu, storyTopic, resume, checkpointed, acked, read)
	o.reported, o.reportedLost = "no report", -1
	if r := res.Report; r != nil {
		o.reported, o.reportedLost = fmt.Sprintf("%d records lost", r.RecordsLost), r.RecordsLost
		if r.SourceLastContact != nil {
			o.reported += fmt.Sprintf(", exact as of its last contact %s before the kill", killed.Sub(*r.SourceLastContact).Round(time.Millisecond))
		}
		b.Logf("agent's report: %+v", *r)
	}
	return o
}
