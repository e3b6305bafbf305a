package main

// BenchmarkMirrorMaker2Pickup, run by `make bench-mm2`: how long MirrorMaker
// 2 and the agent take to pick up a topic and a consumer group that appear
// on the source after they started. All of them run at once on the same
// two Apache Kafka clusters (the wait is their refresh timers, not CPU), so
// that they see the same topic and group appear at the same moment:
//
//   - MM2 (defaults): refresh.topics and refresh.groups every 600 s,
//     checkpoints every 60 s;
//   - MM2 (story): the reference story's settings (offset.lag.max 25,
//     checkpoints and group syncs every 60 s), refresh intervals as default;
//   - MM2 (refresh 10 s): defaults but refresh intervals of 10 s, the
//     agent's refresh_interval;
//   - agent: a mirror with the defaults (refresh_interval 10 s,
//     checkpoint_interval 1 s).
//
// New topic: from its creation on the source until its first record is
// readable read_committed on the target. New group: from its first commit
// on the source until a checkpoint of it is on the target (MirrorMaker 2:
// a record of its checkpoints topic; the agent: its stored checkpoint).
//
// Knobs (environment):
//
//	KFO_BENCH_MM2_PICKUP_WAIT  seconds to wait for every pick-up before printing "> wait" (90)

import (
	"context"
	"fmt"
	"strings"
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
	pickupBase     = "pick.base" // mirrored from the start: the systems run once it is on the target
	pickupNew      = "pick.new"
	pickupGroup    = "pick-new"
	pickupSelector = `pick\..*`
)

// pickupRun is one system's pick-up of the new topic and group.
type pickupRun struct {
	system, settings string
	// remote is the new topic's name on the target.
	remote string
	// checkpointed answers whether a checkpoint of the new group is on
	// the target, and why not when reading failed.
	checkpointed func(context.Context) (bool, error)
	// topic and group are the pick-up times; 0 while not picked up.
	topic, group time.Duration
	// lastErr is the last failed look for the group's checkpoint.
	lastErr error
}

func BenchmarkMirrorMaker2Pickup(b *testing.B) {
	skipUnlessBenchMM2(b)
	wait := time.Duration(kafkatest.BenchEnvInt(b, "KFO_BENCH_MM2_PICKUP_WAIT", 90)) * time.Second
	for range b.N {
		src := kafkatest.NewClusterOfKind(b, kafkatest.Apache, "source", kafkatest.ClusterOptions{})
		dst := kafkatest.NewClusterOfKind(b, kafkatest.Apache, "target", kafkatest.ClusterOptions{})
		kafkatest.CreateTopic(b, src.Bootstrap(), pickupBase, storyPartitions, nil)
		prod := kafkatest.NewProducer(b, src.Bootstrap(), src.ClientOpts()...)
		prod.Produce(b, pickupBase, storyPartitions, 30)
		// benchMetadataMinAge: kadm answers a topic's offsets from the
		// client's metadata, which would otherwise hide the new topic for
		// up to 5 s after a system created it.
		target := kafkatest.ClientOf(b, dst, benchMetadataMinAge)

		runs := []*pickupRun{
			pickupWithMM2(b, src, dst, target, "MM2 (defaults)", "pd", "refresh 600 s, checkpoints 60 s", func(*mm2.Options) {}),
			pickupWithMM2(b, src, dst, target, "MM2 (story)", "ps", "refresh 600 s, checkpoints and group syncs 60 s, offset.lag.max 25",
				storyMM2Settings(60*time.Second)),
			pickupWithMM2(b, src, dst, target, "MM2 (refresh 10 s)", "pr", "refresh 10 s, checkpoints 60 s", func(o *mm2.Options) {
				o.RefreshTopicsInterval, o.RefreshGroupsInterval = 10*time.Second, 10*time.Second
			}),
			pickupWithAgent(b, src, dst),
		}
		for _, r := range runs {
			waitMirroring(b, dst, strings.TrimSuffix(r.remote, pickupNew)+pickupBase)
		}

		// The new topic and the new group appear now.
		created := time.Now()
		kafkatest.CreateTopic(b, src.Bootstrap(), pickupNew, storyPartitions, nil)
		prod.Produce(b, pickupNew, storyPartitions, 1)
		committed := startPickupGroup(b, src)

		adm := kadm.NewClient(target)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for deadline := created.Add(wait); time.Now().Before(deadline); <-tick.C {
			pending := 0
			for _, r := range runs {
				if r.topic == 0 && readable(adm, r.remote) {
					r.topic = time.Since(created)
				}
				if r.group == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					ok, err := r.checkpointed(ctx)
					cancel()
					r.lastErr = err // e.g. no checkpoints topic yet
					if ok {
						r.group = time.Since(committed)
					}
				}
				if r.topic == 0 || r.group == 0 {
					pending++
				}
			}
			if pending == 0 {
				break
			}
		}
		for _, r := range runs {
			if r.group == 0 && r.lastErr != nil {
				b.Logf("%s: the last look for a checkpoint of %s failed: %v", r.system, pickupGroup, r.lastErr)
			}
		}
		reportPickup(wait, runs)
		b.ReportMetric(0, "ns/op")
	}
}

// pickupWithMM2 starts MirrorMaker 2 with source alias alias and the
// settings set makes, mirroring pick.* and the pick-* groups.
func pickupWithMM2(b *testing.B, src, dst kafkatest.Kafka, target *kgo.Client, system, alias, settings string, set func(*mm2.Options)) *pickupRun {
	opts := mm2.Options{
		Source: src.Bootstrap(), Target: dst.Bootstrap(), SourceAlias: alias, TargetAlias: "t" + alias,
		Topics: pickupSelector, Groups: `pick-.*`,
	}
	set(&opts)
	p := mm2.Start(b, opts)
	return &pickupRun{system: system, settings: settings, remote: p.RemoteTopic(pickupNew),
		checkpointed: func(ctx context.Context) (bool, error) {
			if p.Exited() {
				b.Fatalf("%s exited; log %s", system, p.LogPath())
			}
			cps, err := mm2.ReadCheckpoints(ctx, target, p.CheckpointsTopic())
			return len(cps[pickupGroup]) > 0, err
		}}
}

// pickupWithAgent starts an agent beside the target with a mirror of pick.*
// and the pick-* groups, its defaults otherwise.
func pickupWithAgent(b *testing.B, src, dst kafkatest.Kafka) *pickupRun {
	const source, mirror = "pa", "pick"
	a := startAgent(b, strings.Join(dst.Bootstrap(), ","))
	a.declare(source, src)
	a.declare("target", dst)
	a.mustPut("/v1/mirrors/"+mirror, agentapi.Mirror{Source: source, Target: "target",
		Topics: agentapi.Selector{Include: []string{pickupSelector}}, Groups: agentapi.Selector{Include: []string{`pick-.*`}},
		ReplicationPolicy: agentapi.ReplicationPrefix})
	opts := append([]kgo.Opt{kgo.SeedBrokers(dst.Bootstrap()...)}, dst.ClientOpts()...)
	return &pickupRun{system: sysAgent, settings: fmt.Sprintf("refresh_interval %s, checkpoint_interval %s", agentapi.DefaultRefreshInterval, agentapi.DefaultCheckpointInterval),
		remote: source + "." + pickupNew,
		checkpointed: func(ctx context.Context) (bool, error) {
			stored, err := checkpoint.ReadStored(ctx, opts, mirror)
			for _, g := range stored {
				if g.Group == pickupGroup && len(g.Partitions) > 0 {
					return true, nil
				}
			}
			return false, err
		}}
}

// startPickupGroup makes the new group: a member that reads pick.base and
// commits, and stays until the benchmark ends. It answers when the first
// commit succeeded.
func startPickupGroup(b *testing.B, src kafkatest.Kafka) time.Time {
	b.Helper()
	cl := kafkatest.ClientOf(b, src, kgo.ConsumerGroup(pickupGroup), kgo.ConsumeTopics(pickupBase),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		if cl.PollFetches(ctx).NumRecords() == 0 {
			continue
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			b.Fatalf("commit of group %s: %v", pickupGroup, err)
		}
		return time.Now()
	}
	b.Fatalf("group %s read nothing of %s within a minute", pickupGroup, pickupBase)
	return time.Time{}
}

// readable answers whether topic on the target has a record readable
// read_committed.
func readable(adm *kadm.Client, topic string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offsets, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return false
	}
	var n int64
	offsets.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n > 0
}

func reportPickup(wait time.Duration, runs []*pickupRun) {
	var t strings.Builder
	fmt.Fprintf(&t, "\nPick-up of a new topic and a new consumer group on Apache Kafka, all systems running at once on the same clusters; new topic: its creation on the source to its first record readable on the target; new group: its first commit on the source to its first checkpoint on the target; each waited for at most %s\n", wait)
	fmt.Fprintf(&t, "%-20s %12s %12s  %s\n", "system", "topic (s)", "group (s)", "settings")
	for _, r := range runs {
		fmt.Fprintf(&t, "%-20s %12s %12s  %s\n", r.system, pickupSeconds(r.topic, wait), pickupSeconds(r.group, wait), r.settings)
	}
	fmt.Fprintln(&t)
	printBenchMM2("pick-up", t.String())
}

// pickupSeconds is d in seconds, or "> wait" when nothing was picked up.
func pickupSeconds(d, wait time.Duration) string {
	if d == 0 {
		return fmt.Sprintf("> %.0f", wait.Seconds())
	}
	return fmt.Sprintf("%.1f", d.Seconds())
}
