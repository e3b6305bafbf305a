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

const (
	topic      = "orders"
	partitions = 3
)

// mm2Run is MirrorMaker 2 copying topic from a to b.
type mm2Run struct {
	t    *testing.T
	a, b *apachekafka.Cluster
	p    *mm2.Process
}

func (r mm2Run) running() {
	if r.p.Exited() {
		r.t.Fatalf("MirrorMaker 2 exited")
	}
}

// waitCopied waits until b holds n records of each partition.
func (r mm2Run) waitCopied(n int) {
	r.t.Helper()
	remote := r.p.RemoteTopic(topic)
	kafkatest.Eventually(r.t, 3*time.Minute, "MirrorMaker 2 copies every record to "+remote, func() (bool, string) {
		r.running()
		if !kafkatest.TopicExists(r.t, r.b.Bootstrap(), remote) {
			return false, remote + " does not exist yet"
		}
		got := kafkatest.ReadAll(r.t, r.b.Bootstrap(), remote)
		for part := range int32(partitions) {
			if len(got[part]) != n {
				return false, kafkatest.Sprint(got)
			}
		}
		return true, ""
	})
}

// commitAndWaitCheckpoint commits group at offset on every partition of a
// and answers MirrorMaker 2's checkpoints of it once there is one for
// every partition.
func (r mm2Run) commitAndWaitCheckpoint(group string, offset int64) map[mm2.TopicPartition]mm2.Checkpoint {
	r.t.Helper()
	offsets := kadm.Offsets{}
	for part := range int32(partitions) {
		offsets.Add(kadm.Offset{Topic: topic, Partition: part, At: offset, LeaderEpoch: -1})
	}
	if err := kadm.NewClient(kafkatest.Client(r.t, r.a.Bootstrap())).CommitAllOffsets(context.Background(), group, offsets); err != nil {
		r.t.Fatalf("commit %s's offsets on a: %v", group, err)
	}
	cl := kafkatest.Client(r.t, r.b.Bootstrap())
	var cps map[mm2.TopicPartition]mm2.Checkpoint
	kafkatest.Eventually(r.t, 2*time.Minute, "a checkpoint of "+group+" at "+fmt.Sprint(offset)+" for every partition", func() (bool, string) {
		r.running()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		all, err := mm2.ReadCheckpoints(ctx, cl, r.p.CheckpointsTopic())
		if err != nil {
			return false, err.Error()
		}
		cps = all[group]
		for _, c := range cps {
			if c.Upstream != offset {
				return false, fmt.Sprint(all)
			}
		}
		return len(cps) == partitions, fmt.Sprint(all)
	})
	return cps
}

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
		perPart = 200
		group   = "consumer-1"
		// The group's offset on every source partition: near the end, as
		// a consumer that keeps up commits.
		committed = perPart - 5
	)
	r := mm2Run{t: t, a: apachekafka.Start(t, "a", apachekafka.Options{}), b: apachekafka.Start(t, "b", apachekafka.Options{})}
	kafkatest.CreateTopic(t, r.a.Bootstrap(), topic, partitions, nil)
	r.p = mm2.Start(t, mm2.Options{
		Source: r.a.Bootstrap(), Target: r.b.Bootstrap(),
		Topics: topic, Groups: "consumer-.*", TasksMax: 2,
		OffsetLagMax: 10, EmitCheckpointsInterval: time.Second,
		SyncGroupOffsets: true, SyncGroupOffsetsInterval: time.Second,
		RefreshGroupsInterval: time.Second,
	})
	// A first record and a first group show that MirrorMaker 2's
	// checkpoint task is up. It reads the offset syncs written before it
	// started only for their last one per partition, so records copied
	// before then may never be checkpointed; in production it runs long
	// before the groups it checkpoints.
	prod := kafkatest.NewProducer(t, r.a.Bootstrap())
	prod.Produce(t, topic, partitions, 1)
	r.waitCopied(1)
	r.commitAndWaitCheckpoint("consumer-0", 1)

	prod.Produce(t, topic, partitions, perPart-1)
	r.waitCopied(perPart)
	remote := r.p.RemoteTopic(topic)
	src, dst := kafkatest.ReadAll(t, r.a.Bootstrap(), topic), kafkatest.ReadAll(t, r.b.Bootstrap(), remote)
	for part := range int32(partitions) {
		for i, rec := range src[part] {
			if !rec.Equal(dst[part][i]) {
				t.Fatalf("%s[%d] record %d: %+v on a, %+v on b", topic, part, i, rec, dst[part][i])
			}
		}
	}

	cps := r.commitAndWaitCheckpoint(group, committed)
	for part := range int32(partitions) {
		c, ok := cps[mm2.TopicPartition{Topic: remote, Partition: part}]
		if !ok {
			t.Fatalf("no checkpoint of %s[%d] in %v", remote, part, cps)
		}
		// The first record the group reads on b is at or before the one
		// it would read next on a: a re-read, never a skip. How many is
		// MirrorMaker 2's business (offset.lag.max bounds only how far
		// its offset syncs trail, not which of them its checkpoints
		// keep): it is logged, not bounded.
		resume := -1
		for _, rec := range dst[part] {
			if rec.Offset >= c.Downstream {
				resume, _ = strconv.Atoi(string(rec.Headers[0].Value))
				break
			}
		}
		if resume < 0 || resume > committed {
			t.Fatalf("checkpoint %+v: the group resumes on b at source record %d, want 0-%d", c, resume, committed)
		}
		t.Logf("%s[%d]: committed %d on a; resumes on b at target offset %d, source record %d (%d re-read)", topic, part, committed, c.Downstream, resume, committed-resume)
	}

	adm := kadm.NewClient(kafkatest.Client(t, r.b.Bootstrap()))
	kafkatest.Eventually(t, 2*time.Minute, group+"'s checkpointed offsets committed on b", func() (bool, string) {
		r.running()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
