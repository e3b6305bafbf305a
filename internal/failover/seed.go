package failover

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// seedFromEnd makes mirror m, whose source becomes active in a flip, resume
// at its source's end: everything the source holds now came from the other
// side (or was mirrored there before), so copying it back would duplicate it.
// Each source partition gets an offset sync without runs whose SourceNext is
// the partition's end, written as the task that owns it would (the mirror is
// stopped, so this also fences any zombie of the task).
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
	var syncs []offsetsync.Sync
	ends.Each(func(o kadm.ListedOffset) {
		syncs = append(syncs, offsetsync.Sync{Topic: o.Topic, Partition: o.Partition,
			TargetTopic: mirror.TargetTopic(m.ReplicationPolicy, m.Source, o.Topic), SourceNext: o.Offset})
	})
	dst, dstOpts, err := e.client(m.Target)
	if err != nil {
		return err
	}
	dst.Close()
	if err := mirror.SeedSyncs(ctx, dstOpts, m, syncs, e.Store.Format()); err != nil {
		return fmt.Errorf("seed mirror %s at %s's end: %w", m.Name, m.Source, err)
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
