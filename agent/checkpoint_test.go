package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// putGroupMirror declares a mirror of LH.* that checkpoints consumer-* groups.
func (s *mirrorSetup) putGroupMirror(t *testing.T) {
	t.Helper()
	s.agent.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:             agentapi.Selector{Include: []string{`LH\..*`}},
		Groups:             agentapi.Selector{Include: []string{`consumer-.*`}},
		RefreshInterval:    "1s",
		CheckpointInterval: "500ms",
	})
}

// waitCaughtUp waits until every partition of topic on the source is mirrored.
func (s *mirrorSetup) waitCaughtUp(t *testing.T, topic string) {
	t.Helper()
	want := map[string]map[int32]int64{topic: {}}
	for p, recs := range kafkatest.ReadAll(t, s.src.Bootstrap(), topic, s.src.ClientOpts()...) {
		if len(recs) > 0 {
			want[topic][p] = recs[len(recs)-1].Offset + 1
		}
	}
	waitMirrored(t, s.agent, want, time.Minute)
}

// consumeAndCommit reads a topic on the source as group, and commits after
// the first n[p] records of each partition p: the group stopped there.
func consumeAndCommit(t *testing.T, bootstrap []string, group, topic string, n map[int32]int, opts ...kgo.Opt) {
	t.Helper()
	cl := kafkatest.Client(t, bootstrap, append(opts,
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[int32]int{}
	commit := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for len(commit[topic]) < len(n) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s: read %v of %v records in time", group, seen, n)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if seen[r.Partition] < n[r.Partition] {
				seen[r.Partition]++
				if seen[r.Partition] == n[r.Partition] {
					commit[topic][r.Partition] = kgo.EpochOffset{Epoch: -1, Offset: r.Offset + 1}
				}
			}
		})
	}
	var cerr error
	cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) { cerr = err })
	if cerr != nil {
		t.Fatalf("group %s commit: %v", group, cerr)
	}
	cl.LeaveGroup()
}

// waitSynced waits until the agent answers a checkpoint of group for every
// partition in n, committed on the target.
func waitSynced(t *testing.T, a *agentProc, group string, partitions int) agentapi.GroupCheckpoints {
	t.Helper()
	var cps agentapi.GroupCheckpoints
	kafkatest.Eventually(t, 30*time.Second, "checkpoint of "+group+" synced", func() (bool, string) {
		code := a.call("GET", "/v1/mirrors/na-to-eu/groups/"+group, nil, &cps)
		synced := 0
		for _, p := range cps.Partitions {
			if p.Synced {
				synced++
			}
		}
		return code == 200 && synced == partitions, fmt.Sprintf("HTTP %d, %d of %d partitions synced: %+v", code, synced, partitions, cps.Partitions)
	})
	return cps
}

// assertResumesExactly consumes the target topic as group and checks that
// each partition starts at the source record right after the group's
// committed position and goes on with exactly the source's rest.
func assertResumesExactly(t *testing.T, s *mirrorSetup, group, topic string, n map[int32]int) {
	t.Helper()
	src := kafkatest.ReadAll(t, s.src.Bootstrap(), topic, s.src.ClientOpts()...)
	want := map[int32][]kafkatest.Record{}
	total := 0
	for p, recs := range src {
		want[p] = recs[n[p]:]
		total += len(want[p])
	}
	cl := kafkatest.ClientOf(t, s.dst, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := map[int32][]kafkatest.Record{}
	for seen := 0; seen < total; {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s on the target read %d of %d remaining records", group, seen, total)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], kafkatest.Record{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
			seen++
		})
	}
	for p, w := range want {
		g := got[p]
		if len(g) != len(w) {
			t.Fatalf("%s[%d]: group %s read %d records on the target after resuming, want %d", topic, p, group, len(g), len(w))
		}
		for i := range w {
			if !w[i].Equal(g[i]) {
				t.Fatalf("%s[%d]: record %d after resuming is %q, want %q (first unread on the source)", topic, p, i, g[i].Value, w[i].Value)
			}
		}
	}
}

// In the short set: offsets translated across transaction markers and
// compaction's holes, read back by franz-go and by librdkafka (kcat -G, so
// on plaintext clusters).
func TestGroupResumesOnTheTargetExactlyAtItsNextUnreadRecord(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		groupsResumeAtTheirNextUnreadRecord(t, newPlaintextMirrorSetup(t, kind))
	})
}

func groupsResumeAtTheirNextUnreadRecord(t *testing.T, s *mirrorSetup) {
	ctx := context.Background()
	srcBoot, srcOpts := s.src.Bootstrap(), s.src.ClientOpts()

	// A plain topic.
	kafkatest.CreateTopic(t, srcBoot, "LH.PLAIN", 3, nil, srcOpts...)
	kafkatest.NewProducer(t, srcBoot, srcOpts...).Produce(t, "LH.PLAIN", 3, 300)

	// A topic full of offset gaps: transactions of 7 records (one marker
	// each) and every third transaction aborted.
	kafkatest.CreateTopic(t, srcBoot, "LH.TXN", 2, nil, srcOpts...)
	txn := kafkatest.ClientOf(t, s.src, kgo.TransactionalID("source-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	seq := 0
	for i := range 40 {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < 2; p++ {
			for range 7 {
				if err := txn.ProduceSync(ctx, kafkatest.GenRecord("LH.TXN", p, seq)).FirstErr(); err != nil {
					t.Fatal(err)
				}
				seq++
			}
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(i%3 != 2)); err != nil {
			t.Fatal(err)
		}
	}

	// A compacted topic with holes: 40 keys written 10 times each.
	kafkatest.CreateTopic(t, srcBoot, "LH.COMPACT", 1, kafkatest.CompactedTopicConfigs(), srcOpts...)
	cc := kafkatest.ClientOf(t, s.src, kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1))
	for i := range 400 {
		r := kafkatest.GenRecord("LH.COMPACT", 0, i)
		r.Key = fmt.Appendf(nil, "sku-%d", i%40)
		if err := cc.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	left := kafkatest.Compact(t, s.src, "LH.COMPACT", 400)[0]
	if len(left) >= 400 || left[len(left)-1].Offset != 399 {
		t.Fatalf("compaction left %d of 400 records (last offset %d): the topic has no holes to test", len(left), left[len(left)-1].Offset)
	}

	s.putGroupMirror(t)
	for _, topic := range []string{"LH.PLAIN", "LH.TXN", "LH.COMPACT"} {
		s.waitCaughtUp(t, topic)
	}
	cases := []struct {
		group, topic string
		n            map[int32]int
	}{
		{"consumer-plain", "LH.PLAIN", map[int32]int{0: 1, 1: 150, 2: 299}},
		{"consumer-txn", "LH.TXN", map[int32]int{0: 7, 1: 100}}, // 7: right after a transaction's last record
		{"consumer-compact", "LH.COMPACT", map[int32]int{0: len(left) / 2}},
	}
	for _, c := range cases {
		consumeAndCommit(t, srcBoot, c.group, c.topic, c.n, srcOpts...)
	}
	for _, c := range cases {
		cps := waitSynced(t, s.agent, c.group, len(c.n))
		for _, p := range cps.Partitions {
			if p.NotMirrored != 0 || !p.Exact {
				t.Fatalf("%s %s[%d]: %d records reported not mirrored (exact %v) although the mirror caught up", c.group, p.Topic, p.Partition, p.NotMirrored, p.Exact)
			}
		}
		assertResumesExactly(t, s, c.group, c.topic, c.n)
		t.Logf("%s resumed on the target at its next unread record on every partition of %s", c.group, c.topic)
	}

	// kcat, librdkafka's group consumer, resumes at the same place.
	consumeAndCommit(t, srcBoot, "consumer-kcat", "LH.PLAIN", map[int32]int{0: 10, 1: 20, 2: 30}, srcOpts...)
	waitSynced(t, s.agent, "consumer-kcat", 3)
	out, err := exec.Command("kcat", append(kafkatest.KcatArgs(t, s.dst), "-G", "consumer-kcat", "-e", "-q",
		"-X", "isolation.level=read_committed", "-f", "%p|%k\n", "LH.PLAIN")...).Output()
	if err != nil {
		t.Fatalf("kcat -G consumer-kcat: %v %s", err, stderrOf(err))
	}
	first := map[string]string{}
	count := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		p, key, _ := strings.Cut(line, "|")
		if _, ok := first[p]; !ok {
			first[p] = key
		}
		count++
	}
	for p, n := range map[string]int{"0": 10, "1": 20, "2": 30} {
		pi, _ := strconv.Atoi(p)
		if want := fmt.Sprintf("key-%d-%d", pi, n); first[p] != want {
			t.Fatalf("kcat -G on the target starts partition %s at %q, want %q", p, first[p], want)
		}
	}
	if want := 3*300 - 60; count != want {
		t.Fatalf("kcat -G read %d records on the target, want the %d the group had not read", count, want)
	}
	t.Logf("kcat -G resumed at key-0-10, key-1-20, key-2-30 and read the %d unread records", count)
}

// targetOffsets answers a group's committed offsets on the target.
func targetOffsets(t *testing.T, s *mirrorSetup, group, topic string) map[int32]int64 {
	t.Helper()
	resp, err := kadm.NewClient(kafkatest.ClientOf(t, s.dst)).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatalf("fetch %s offsets on the target: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		out[p] = o.At
	}
	return out
}

func TestCheckpointLeavesGroupsLiveOnTheTargetAloneAndNeverMovesOffsetsBack(t *testing.T) {
	s := newMirrorSetup(t)
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", 2, nil, s.src.ClientOpts()...)
	kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...).Produce(t, "LH.ORDERS", 2, 200)
	s.putGroupMirror(t)
	s.waitCaughtUp(t, "LH.ORDERS")

	// consumer-ahead already read further on the target than the source.
	adm := kadm.NewClient(kafkatest.ClientOf(t, s.dst))
	ahead := kadm.Offsets{}
	ahead.AddOffset("LH.ORDERS", 0, 180, -1)
	ahead.AddOffset("LH.ORDERS", 1, 190, -1)
	if _, err := adm.CommitOffsets(context.Background(), "consumer-ahead", ahead); err != nil {
		t.Fatal(err)
	}
	// consumer-live has a member consuming on the target right now.
	live := kafkatest.ClientOf(t, s.dst, kgo.ConsumerGroup("consumer-live"), kgo.ConsumeTopics("LH.ORDERS"),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	kafkatest.Eventually(t, 30*time.Second, "consumer-live has joined on the target", func() (bool, string) {
		live.PollFetches(shortCtx(t, 200*time.Millisecond))
		d, _ := adm.DescribeGroups(context.Background(), "consumer-live")
		return len(d["consumer-live"].Members) == 1, d["consumer-live"].State
	})
	liveBefore := targetOffsets(t, s, "consumer-live", "LH.ORDERS")

	consumeAndCommit(t, s.src.Bootstrap(), "consumer-ahead", "LH.ORDERS", map[int32]int{0: 50, 1: 60}, s.src.ClientOpts()...)
	consumeAndCommit(t, s.src.Bootstrap(), "consumer-live", "LH.ORDERS", map[int32]int{0: 70, 1: 80}, s.src.ClientOpts()...)
	consumeAndCommit(t, s.src.Bootstrap(), "consumer-idle", "LH.ORDERS", map[int32]int{0: 90, 1: 100}, s.src.ClientOpts()...)
	waitSynced(t, s.agent, "consumer-idle", 2) // rounds have run for all three groups

	var cps agentapi.GroupCheckpoints
	kafkatest.Eventually(t, 10*time.Second, "consumer-ahead's checkpoint says it is ahead", func() (bool, string) {
		s.agent.call("GET", "/v1/mirrors/na-to-eu/groups/consumer-ahead", nil, &cps)
		return len(cps.Partitions) == 2 && strings.Contains(cps.Partitions[0].SyncSkipped, "ahead"), fmt.Sprintf("%+v", cps.Partitions)
	})
	if got := targetOffsets(t, s, "consumer-ahead", "LH.ORDERS"); got[0] != 180 || got[1] != 190 {
		t.Fatalf("consumer-ahead on the target moved from 180/190 to %d/%d", got[0], got[1])
	}
	kafkatest.Eventually(t, 10*time.Second, "consumer-live's checkpoint says it is live", func() (bool, string) {
		s.agent.call("GET", "/v1/mirrors/na-to-eu/groups/consumer-live", nil, &cps)
		return len(cps.Partitions) == 2 && strings.Contains(cps.Partitions[0].SyncSkipped, "live members"), fmt.Sprintf("%+v", cps.Partitions)
	})
	time.Sleep(time.Second) // two more rounds
	if got := targetOffsets(t, s, "consumer-live", "LH.ORDERS"); fmt.Sprint(got) != fmt.Sprint(liveBefore) {
		t.Fatalf("consumer-live's offsets on the target changed from %v to %v while it had a live member", liveBefore, got)
	}
	if got := targetOffsets(t, s, "consumer-idle", "LH.ORDERS"); got[0] != 90 || got[1] != 100 {
		t.Fatalf("consumer-idle on the target is at %v, want 90/100", got)
	}
}

func shortCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestCheckpointCountsRecordsTheGroupReadThatAreNotMirroredYet(t *testing.T) {
	s := newMirrorSetup(t)
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", 1, nil, s.src.ClientOpts()...)
	kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...).Produce(t, "LH.ORDERS", 1, 100)
	s.putGroupMirror(t)
	s.waitCaughtUp(t, "LH.ORDERS")

	// An open transaction stops the mirror (it reads committed records
	// only) while a read-uncommitted group reads on into it.
	const unmirrored = 37
	txn := kafkatest.ClientOf(t, s.src, kgo.TransactionalID("slow-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range unmirrored + 10 {
		if err := txn.ProduceSync(context.Background(), kafkatest.GenRecord("LH.ORDERS", 0, 100+i)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	reader := kafkatest.ClientOf(t, s.src, kgo.ConsumerGroup("consumer-eager"), kgo.ConsumeTopics("LH.ORDERS"),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	var last *kgo.Record
	for read := 0; read < 100+unmirrored; {
		fetches := reader.PollFetches(shortCtx(t, 10*time.Second))
		fetches.EachRecord(func(r *kgo.Record) {
			if read < 100+unmirrored {
				last = r
				read++
			}
		})
		if fetches.IsClientClosed() || last == nil {
			t.Fatal("consumer-eager read nothing")
		}
	}
	if err := reader.CommitRecords(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	reader.LeaveGroup()

	var cps agentapi.GroupCheckpoints
	kafkatest.Eventually(t, 30*time.Second, "checkpoint of consumer-eager", func() (bool, string) {
		s.agent.call("GET", "/v1/mirrors/na-to-eu/groups/consumer-eager", nil, &cps)
		return len(cps.Partitions) == 1 && cps.Partitions[0].SourceOffset == 100+unmirrored, fmt.Sprintf("%+v", cps)
	})
	p := cps.Partitions[0]
	if p.NotMirrored != unmirrored || cps.RecordsNotMirrored != unmirrored || p.TargetOffset != 100 || !p.Exact {
		t.Fatalf("consumer-eager read %d records that are not on the target; the checkpoint says %d (total %d, exact %v), target offset %d (want 100)", unmirrored, p.NotMirrored, cps.RecordsNotMirrored, p.Exact, p.TargetOffset)
	}
	t.Logf("checkpoint: %d records read but not mirrored, resume at target offset %d (exact)", p.NotMirrored, p.TargetOffset)
	if err := txn.EndTransaction(context.Background(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// TestAnIdleTargetGroupFollowsADeliberateResetOfItsSourceGroup: an operator
// moves a group back on the source to reprocess records; the idle group on
// the target follows it back to the translated position, so a failover
// after the reset reprocesses them too. (MirrorMaker 2 does not follow, and
// a failover after a reset skips what the operator meant to reprocess.)
// A group the target consumers moved ahead on their own stays where it is.
func TestAnIdleTargetGroupFollowsADeliberateResetOfItsSourceGroup(t *testing.T) {
	s := newMirrorSetup(t)
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", 2, nil, s.src.ClientOpts()...)
	kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...).Produce(t, "LH.ORDERS", 2, 200)
	s.putGroupMirror(t)
	s.waitCaughtUp(t, "LH.ORDERS")

	consumeAndCommit(t, s.src.Bootstrap(), "consumer-reset", "LH.ORDERS", map[int32]int{0: 150, 1: 160}, s.src.ClientOpts()...)
	waitSynced(t, s.agent, "consumer-reset", 2)
	if got := targetOffsets(t, s, "consumer-reset", "LH.ORDERS"); got[0] != 150 || got[1] != 160 {
		t.Fatalf("consumer-reset on the target is at %v, want 150/160", got)
	}

	// The operator resets partition 0 to 20 on the source
	// (kafka-consumer-groups --reset-offsets does the same commit).
	back := kadm.Offsets{}
	back.AddOffset("LH.ORDERS", 0, 20, -1)
	if _, err := kadm.NewClient(kafkatest.ClientOf(t, s.src)).CommitOffsets(context.Background(), "consumer-reset", back); err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 30*time.Second, "consumer-reset follows the reset on the target", func() (bool, string) {
		got := targetOffsets(t, s, "consumer-reset", "LH.ORDERS")
		return got[0] == 20 && got[1] == 160, fmt.Sprint(got)
	})
	cps := waitSynced(t, s.agent, "consumer-reset", 2)
	for _, p := range cps.Partitions {
		if p.SyncSkipped != "" {
			t.Errorf("partition %d: sync skipped %q after the reset was followed", p.Partition, p.SyncSkipped)
		}
	}
}

// TestAGroupAtTheStartOfAnEmptyPartitionIsCheckpointedAtZero: a partition
// that never received a record has nothing mirrored, yet a group that
// committed offset 0 there has a known place on the target: its start. If
// no checkpoint were committed, a consumer on the target with
// auto.offset.reset=latest would start at the end after a failover and
// skip what producers wrote there in the meantime.
func TestAGroupAtTheStartOfAnEmptyPartitionIsCheckpointedAtZero(t *testing.T) {
	s := newMirrorSetup(t)
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", 2, nil, s.src.ClientOpts()...)
	// Records on partition 0 only.
	prod := kafkatest.ClientOf(t, s.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 30 {
		if err := prod.ProduceSync(context.Background(), kafkatest.GenRecord("LH.ORDERS", 0, i)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	s.putGroupMirror(t)
	s.waitCaughtUp(t, "LH.ORDERS")
	commit := kadm.Offsets{}
	commit.AddOffset("LH.ORDERS", 0, 25, -1)
	commit.AddOffset("LH.ORDERS", 1, 0, -1)
	if _, err := kadm.NewClient(kafkatest.ClientOf(t, s.src)).CommitOffsets(context.Background(), "consumer-empty", commit); err != nil {
		t.Fatal(err)
	}
	cps := waitSynced(t, s.agent, "consumer-empty", 2)
	for _, p := range cps.Partitions {
		if p.Partition == 1 && (p.TargetOffset != 0 || !p.Exact) {
			t.Errorf("partition 1 (empty) checkpoint: %+v, want target offset 0, exact", p)
		}
	}
	if got := targetOffsets(t, s, "consumer-empty", "LH.ORDERS"); len(got) != 2 || got[0] != 25 || got[1] != 0 {
		t.Fatalf("consumer-empty on the target is at %v, want 25 and 0", got)
	}
}

// TestCheckpointsStayMonotonicAcrossAnAgentRestart: the group moves forward
// on the source while the agent is SIGKILLed and restarted twice; every
// checkpoint stored on the target, and every offset the target group had
// when sampled, only ever moves forward. A restarted agent starts with no
// memory and a translator that reads the syncs again: neither may move a
// group back.
func TestCheckpointsStayMonotonicAcrossAnAgentRestart(t *testing.T) {
	s := newMirrorSetup(t)
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", 2, nil, s.src.ClientOpts()...)
	prod := kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...)
	prod.Produce(t, "LH.ORDERS", 2, 300)
	s.putGroupMirror(t)
	s.waitCaughtUp(t, "LH.ORDERS")

	srcAdm := kadm.NewClient(kafkatest.ClientOf(t, s.src))
	commitAt := func(at int64) {
		o := kadm.Offsets{}
		o.AddOffset("LH.ORDERS", 0, at, -1)
		o.AddOffset("LH.ORDERS", 1, at, -1)
		if _, err := srcAdm.CommitOffsets(context.Background(), "consumer-steady", o); err != nil {
			t.Fatal(err)
		}
	}
	var sampled []map[int32]int64
	dstAdm := kadm.NewClient(kafkatest.ClientOf(t, s.dst))
	sample := func() {
		got := map[int32]int64{}
		resp, err := dstAdm.FetchOffsets(context.Background(), "consumer-steady")
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) { // not created by a first commit yet
			t.Fatalf("fetch consumer-steady offsets on the target: %v", err)
		}
		for p, o := range resp["LH.ORDERS"] {
			got[p] = o.At
		}
		sampled = append(sampled, got)
	}
	for step, at := range []int64{50, 100, 150, 200, 250, 300} {
		commitAt(at)
		kafkatest.Eventually(t, 30*time.Second, fmt.Sprintf("consumer-steady at %d on the target", at), func() (bool, string) {
			sample()
			got := sampled[len(sampled)-1]
			return got[0] == at && got[1] == at, fmt.Sprint(got)
		})
		if step == 1 || step == 3 {
			s.agent.kill9()
			s.agent.start()
			sample()
		}
	}
	for i := 1; i < len(sampled); i++ {
		for p, o := range sampled[i-1] {
			if sampled[i][p] < o {
				t.Fatalf("consumer-steady's offset on the target went back from %d to %d on partition %d (samples %v)", o, sampled[i][p], p, sampled)
			}
		}
	}
	// Every checkpoint stored, in the order stored.
	last := map[int32]int64{}
	stored := 0
	for _, r := range kafkatest.ReadAll(t, s.dst.Bootstrap(), checkpoint.Topic("na-to-eu"), s.dst.ClientOpts()...) {
		for _, rec := range r {
			var cp checkpoint.Record
			if !strings.HasPrefix(string(rec.Key), "consumer-steady\x00") || json.Unmarshal(rec.Value, &cp) != nil {
				continue // heartbeats and other groups
			}
			stored++
			if cp.TargetOffset < last[cp.Partition] {
				t.Fatalf("a checkpoint of partition %d went back from %d to %d", cp.Partition, last[cp.Partition], cp.TargetOffset)
			}
			last[cp.Partition] = cp.TargetOffset
		}
	}
	if stored < 12 {
		t.Fatalf("%d checkpoints of consumer-steady stored, want at least one per partition and step (12)", stored)
	}
}
