package mm2_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/apachekafka"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/mm2"
)

// MirrorMaker 2, started by the harness on two Apache Kafka clusters, copies
// a topic record for record with exactly once on the target, checkpoints a
// source group that commits while it runs to an offset on the target from
// which the group re-reads (never skips), and commits that offset to the
// target's group.
func TestMirrorMaker2CopiesRecordsAndCheckpointsAGroup(t *testing.T) {
	if _, why := mm2.Libs(); why != "" {
		t.Skip(why)
	}
	const (
		topic      = "orders"
		partitions = 3
		perPart    = 200
		group      = "consumer-1"
		// The group's offset on every source partition: near the end, as
		// a consumer that keeps up commits. (MirrorMaker 2 keeps fewer
		// offset syncs the older they are, and checkpoints no offset older
		// than the oldest it kept.)
		committed = perPart - 5
		lagMax    = 10
	)
	a := apachekafka.Start(t, "a", apachekafka.Options{})
	b := apachekafka.Start(t, "b", apachekafka.Options{})
	kafkatest.CreateTopic(t, a.Bootstrap(), topic, partitions, nil)
	ctx := context.Background()
	p := mm2.Start(t, mm2.Options{
		Source: a.Bootstrap(), Target: b.Bootstrap(),
		Topics: topic, Groups: "consumer-.*", TasksMax: 2,
		OffsetLagMax: lagMax, EmitCheckpointsInterval: time.Second,
		SyncGroupOffsets: true, SyncGroupOffsetsInterval: time.Second,
		RefreshGroupsInterval: time.Second,
	})
	// Records and the group's commit come while MirrorMaker 2 runs, as in
	// production: its checkpoints translate with the offset syncs it has
	// seen since it started (a group committed before MirrorMaker 2 started
	// may not be checkpointed on every partition).
	kafkatest.NewProducer(t, a.Bootstrap()).Produce(t, topic, partitions, perPart)
	remote := mm2.RemoteTopic(topic)
	running := func() {
		if p.Exited() {
			t.Fatalf("MirrorMaker 2 exited")
		}
	}
	kafkatest.Eventually(t, 3*time.Minute, "MirrorMaker 2 copies every record to "+remote, func() (bool, string) {
		running()
		if !kafkatest.TopicExists(t, b.Bootstrap(), remote) {
			return false, remote + " does not exist yet"
		}
		got := kafkatest.ReadAll(t, b.Bootstrap(), remote)
		n := 0
		for _, rs := range got {
			n += len(rs)
		}
		return n == partitions*perPart, kafkatest.Sprint(got)
	})
	src, dst := kafkatest.ReadAll(t, a.Bootstrap(), topic), kafkatest.ReadAll(t, b.Bootstrap(), remote)
	for part := range int32(partitions) {
		for i, r := range src[part] {
			if !r.Equal(dst[part][i]) {
				t.Fatalf("%s[%d] record %d: %+v on a, %+v on b", topic, part, i, r, dst[part][i])
			}
		}
	}

	offsets := kadm.Offsets{}
	for p := range int32(partitions) {
		offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: committed, LeaderEpoch: -1})
	}
	if err := kadm.NewClient(kafkatest.Client(t, a.Bootstrap())).CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatalf("commit %s's offsets on a: %v", group, err)
	}

	cl := kafkatest.Client(t, b.Bootstrap())
	var cps map[mm2.TopicPartition]mm2.Checkpoint
	kafkatest.Eventually(t, 2*time.Minute, "a checkpoint of "+group+" for every partition", func() (bool, string) {
		running()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		all, err := mm2.ReadCheckpoints(ctx, cl)
		if err != nil {
			return false, err.Error()
		}
		cps = all[group]
		return len(cps) == partitions, fmt.Sprint(all)
	})
	for part := range int32(partitions) {
		c, ok := cps[mm2.TopicPartition{Topic: remote, Partition: part}]
		if !ok {
			t.Fatalf("no checkpoint of %s[%d] in %v", remote, part, cps)
		}
		if c.Upstream != committed {
			t.Fatalf("checkpoint %+v: upstream %d, want the group's %d", c, c.Upstream, committed)
		}
		// The first record the group reads on b is at or before the one
		// it would read next on a: a re-read, never a skip. How many is
		// MirrorMaker 2's business (offset.lag.max bounds only how far
		// its offset syncs trail, not what its checkpoints keep of them):
		// it is logged, not bounded.
		resume := -1
		for _, r := range dst[part] {
			if r.Offset >= c.Downstream {
				resume, _ = strconv.Atoi(string(r.Headers[0].Value))
				break
			}
		}
		if resume < 0 || resume > committed {
			t.Fatalf("checkpoint %+v: the group resumes on b at source record %d, want 0-%d", c, resume, committed)
		}
		t.Logf("%s[%d]: committed %d on a; resumes on b at target offset %d, source record %d (%d re-read)", topic, part, committed, c.Downstream, resume, committed-resume)
	}

	adm := kadm.NewClient(cl)
	kafkatest.Eventually(t, 2*time.Minute, group+"'s checkpointed offsets committed on b", func() (bool, string) {
		running()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		for part := range int32(partitions) {
			o, ok := got.Lookup(remote, part)
			if want := cps[mm2.TopicPartition{Topic: remote, Partition: part}].Downstream; !ok || o.At != want {
				return false, fmt.Sprintf("%s[%d] at %d, want %d", remote, part, o.At, want)
			}
		}
		return true, ""
	})
}
