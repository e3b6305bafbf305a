package failover

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// fenceTasks initializes every task's transactional id of a stopped mirror:
// any open transaction of a task is aborted and any zombie task is fenced,
// so that nothing more lands on the target and its offset syncs are final.
func fenceTasks(ctx context.Context, targetOpts []kgo.Opt, mirrorName string, tasksMax int) error {
	for task := range tasksMax {
		cl, err := kgo.NewClient(append(targetOpts, kgo.TransactionalID(mirror.TransactionalID(mirrorName, task)))...)
		if err != nil {
			return err
		}
		_, _, err = cl.ProducerID(ctx)
		cl.Close()
		if err != nil {
			return fmt.Errorf("fence task %d of mirror %s: %w", task, mirrorName, err)
		}
	}
	return nil
}

// finalSyncs reads every committed offset sync of a mirror whose tasks are
// fenced: no transaction is open, so the partitions end where they end.
func finalSyncs(ctx context.Context, targetOpts []kgo.Opt, mirrorName string) (*offsetsync.Index, error) {
	topic := offsetsync.Topic(mirrorName)
	admin, err := kgo.NewClient(targetOpts...)
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	starts := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			starts[o.Partition] = kgo.NewOffset().AtStart()
			want[o.Partition] = o.Offset
		}
	})
	idx := &offsetsync.Index{}
	if len(want) == 0 {
		return idx, nil
	}
	cl, err := kgo.NewClient(append(targetOpts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // a partition that ends in a marker is read to its end
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for len(want) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read offset syncs of %s: %w", mirrorName, ctx.Err())
		}
		if err := fetches.Err0(); err != nil {
			return nil, fmt.Errorf("read offset syncs of %s: %w", mirrorName, err)
		}
		var addErr error
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() || offsetsync.IsBarrier(r.Key) {
				return
			}
			s, err := offsetsync.Decode(r.Value)
			if err == nil {
				err = idx.Add(s)
			}
			if err != nil && addErr == nil {
				addErr = err
			}
		})
		if addErr != nil {
			return nil, fmt.Errorf("offset syncs of %s: %w", mirrorName, addErr)
		}
	}
	return idx, nil
}
