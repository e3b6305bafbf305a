package checkpoint

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// Cache tails a mirror's checkpoint topic so that any agent replica can
// answer a group's checkpoints.
type Cache struct {
	mirror string

	mu     sync.Mutex
	groups map[string]map[tpKey]agentapi.PartitionCheckpoint
	beats  map[string]Heartbeat
	// refused is the last record not applied for its format version.
	refused error
}

// StartCache starts tailing the checkpoints of mirror on the target; it
// stops when ctx ends.
func StartCache(ctx context.Context, targetOpts []kgo.Opt, mirror string) (*Cache, error) {
	cl, err := kgo.NewClient(append(targetOpts,
		kgo.ConsumeTopics(Topic(mirror)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)...)
	if err != nil {
		return nil, err
	}
	c := newCache(mirror)
	go func() {
		defer cl.Close()
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(c.apply)
		}
	}()
	return c, nil
}

func newCache(mirror string) *Cache {
	return &Cache{mirror: mirror, groups: map[string]map[tpKey]agentapi.PartitionCheckpoint{}, beats: map[string]Heartbeat{}}
}

func (c *Cache) apply(r *kgo.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := recordformat.Check(r); err != nil {
		undecodable.Report(r, err)
		c.refused = fmt.Errorf("%s partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
		return
	}
	if isHeartbeat(r.Key) {
		var hb Heartbeat
		if undecodable.JSON(r, &hb) {
			c.beats[hb.Group] = hb
		}
		return
	}
	var rec Record
	if r.Value == nil || !undecodable.JSON(r, &rec) {
		return
	}
	if c.groups[rec.Group] == nil {
		c.groups[rec.Group] = map[tpKey]agentapi.PartitionCheckpoint{}
	}
	c.groups[rec.Group][tpKey{rec.Topic, rec.Partition}] = rec.PartitionCheckpoint
}

// Group answers a group's checkpoints, or false when it has none.
func (c *Cache) Group(group string) (agentapi.GroupCheckpoints, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cps, ok := c.groups[group]
	if !ok {
		return agentapi.GroupCheckpoints{}, false
	}
	now := time.Now()
	hb := c.beats[group]
	out := agentapi.GroupCheckpoints{Mirror: c.mirror, Group: group, LastError: hb.Error, Partitions: make([]agentapi.PartitionCheckpoint, 0, len(cps))}
	for _, cp := range cps {
		// A checkpoint confirmed by a later round is as fresh as that round.
		if hb.Error == "" && hb.At.After(cp.CheckpointedAt) {
			cp.CheckpointedAt = hb.At
		}
		cp.AgeMillis = now.Sub(cp.CheckpointedAt).Milliseconds()
		out.RecordsNotMirrored += cp.NotMirrored
		out.RecordsSkipped += cp.RecordsSkipped
		out.Partitions = append(out.Partitions, cp)
	}
	sort.Slice(out.Partitions, func(i, j int) bool {
		a, b := out.Partitions[i], out.Partitions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	return out, true
}

// All answers every group's checkpoints, sorted by group.
func (c *Cache) All() []agentapi.GroupCheckpoints {
	c.mu.Lock()
	names := make([]string, 0, len(c.groups))
	for g := range c.groups {
		names = append(names, g)
	}
	c.mu.Unlock()
	sort.Strings(names)
	out := make([]agentapi.GroupCheckpoints, 0, len(names))
	for _, g := range names {
		if cps, ok := c.Group(g); ok {
			out = append(out, cps)
		}
	}
	return out
}
