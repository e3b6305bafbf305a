package checkpoint

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// ReadStored reads a mirror's checkpoint topic on the target up to its end
// as it stands now, and answers every group's last stored checkpoints:
// what a stopped mirror left, whatever runs on this agent.
func ReadStored(ctx context.Context, targetOpts []kgo.Opt, mirror string) ([]agentapi.GroupCheckpoints, error) {
	c := &Cache{mirror: mirror, groups: map[string]map[tpKey]agentapi.PartitionCheckpoint{}, beats: map[string]Heartbeat{}}
	adm, err := kgo.NewClient(targetOpts...)
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, Topic(mirror))
	adm.Close()
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", Topic(mirror), err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(targetOpts, kgo.ConsumeTopics(Topic(mirror)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords())...) // a partition that ends in a marker is read to its end
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for len(want) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := fetches.Err0(); err != nil {
			return nil, fmt.Errorf("read %s: %w", Topic(mirror), err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				c.apply(r)
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	if c.refused != nil {
		return nil, c.refused // a group's checkpoints may be missing from them
	}
	return c.All(), nil
}
