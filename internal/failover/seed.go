package failover

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// seedFromEnd makes mirror m, whose source becomes active in a flip, resume
// at its source's end: everything the source holds now came from the other
// side (or was mirrored there before), so copying it back would duplicate it.
// Each source partition gets an offset sync without runs whose SourceNext is
// the partition's end, written to its task's partition of the sync topic
// with the task's transactional id (the mirror is stopped, so this also
// fences any zombie of the task).
func (e *Executor) seedFromEnd(ctx context.Context, m agentapi.Mirror) error {
	topics, err := e.matchingTopics(ctx, m)
	if err != nil || len(topics) == 0 {
		return err
	}
	src, _, err := e.client(m.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	adm := kadm.NewClient(src)
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("end offsets on %s: %w", m.Source, err)
	}
	tasksMax := max(m.TasksMax, 1)
	byTask := map[int][]offsetsync.Sync{}
	ends.Each(func(o kadm.ListedOffset) {
		task := mirror.TaskOf(o.Topic, o.Partition, tasksMax)
		byTask[task] = append(byTask[task], offsetsync.Sync{Topic: o.Topic, Partition: o.Partition,
			TargetTopic: mirror.TargetTopic(m.ReplicationPolicy, m.Source, o.Topic), SourceNext: o.Offset})
	})
	dst, dstOpts, err := e.client(m.Target)
	if err != nil {
		return err
	}
	err = mirror.EnsureTopicPartitions(ctx, kadm.NewClient(dst), offsetsync.Topic(m.Name), int32(tasksMax), true)
	dst.Close()
	if err != nil {
		return fmt.Errorf("offset sync topic of %s on %s: %w", m.Name, m.Target, err)
	}
	for task, syncs := range byTask {
		cl, err := kgo.NewClient(append(dstOpts, kgo.TransactionalID(mirror.TransactionalID(m.Name, task)), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
		if err != nil {
			return err
		}
		err = func() error {
			defer cl.Close()
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
			for _, s := range syncs {
				v, err := s.Encode()
				if err != nil {
					return err
				}
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: offsetsync.Topic(m.Name), Partition: int32(task), Key: s.Key(), Value: v}).FirstErr(); err != nil {
					_ = cl.EndTransaction(ctx, kgo.TryAbort)
					return err
				}
			}
			return cl.EndTransaction(ctx, kgo.TryCommit)
		}()
		if err != nil {
			return fmt.Errorf("seed mirror %s at %s's end (task %d): %w", m.Name, m.Source, task, err)
		}
	}
	return nil
}

// matchingTopics lists the topics of a mirror's source that it copies.
func (e *Executor) matchingTopics(ctx context.Context, m agentapi.Mirror) ([]string, error) {
	src, _, err := e.client(m.Source)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	sel, err := mirror.CompileSelector("topics", m.Topics)
	if err != nil {
		return nil, err
	}
	listed, err := kadm.NewClient(src).ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics on %s: %w", m.Source, err)
	}
	var topics []string
	for _, t := range listed.Sorted() {
		if !strings.HasPrefix(t.Topic, mirror.InternalPrefix) && t.Err == nil && sel.Matches(t.Topic) && !mirror.IsQuarantine(t.Topic) {
			topics = append(topics, t.Topic)
		}
	}
	return topics, nil
}
