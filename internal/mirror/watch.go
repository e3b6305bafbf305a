package mirror

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// WatchInterval is how often a runner asks the source for the end offsets
// of every mirrored partition, apart from the tasks: a task that is stalled,
// failing or moving between replicas fetches nothing, and a forced failover
// reports its losses against the last answer the source gave.
const WatchInterval = 250 * time.Millisecond

// End is a source partition's high watermark and when the source was asked
// for it: every record written before ObservedAt is below HighWatermark.
type End struct {
	Topic         string    `json:"topic"`
	TargetTopic   string    `json:"target_topic"`
	Partition     int32     `json:"partition"`
	HighWatermark int64     `json:"high_watermark"`
	ObservedAt    time.Time `json:"observed_at"`
}

// watchEnds observes the source's ends every WatchInterval until ctx ends.
func (r *runner) watchEnds(ctx context.Context, adm *kadm.Client) {
	tick := time.NewTicker(WatchInterval)
	defer tick.Stop()
	for {
		r.observeEnds(ctx, adm)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *runner) observeEnds(ctx context.Context, adm *kadm.Client) {
	r.mu.Lock()
	targets := map[string]string{}
	for _, p := range r.parts {
		targets[p.Topic] = p.TargetTopic
	}
	r.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	topics := make([]string, 0, len(targets))
	for t := range targets {
		topics = append(topics, t)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	asked := time.Now().UTC()
	listed, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return // the source does not answer: the last observations stand
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ends == nil {
		r.ends = map[tp]End{}
	}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			r.ends[tp{o.Topic, o.Partition}] = End{Topic: o.Topic, TargetTopic: targets[o.Topic], Partition: o.Partition, HighWatermark: o.Offset, ObservedAt: asked}
		}
	})
}

// observedEnds answers the runner's last observation of each partition.
func (r *runner) observedEnds() []End {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]End, 0, len(r.ends))
	for _, e := range r.ends {
		out = append(out, e)
	}
	return out
}

// withEnd answers p with the later of its own high watermark observation
// and e's. Observations are ordered by time, not by size: a topic deleted
// and created again starts low.
func withEnd(p agentapi.PartitionStatus, e End) agentapi.PartitionStatus {
	if !e.ObservedAt.After(p.SourceHighWatermarkAt) {
		return p
	}
	p.SourceHighWatermark, p.SourceHighWatermarkAt = e.HighWatermark, e.ObservedAt
	if p.TargetTopic == "" {
		p.TargetTopic = e.TargetTopic
	}
	p.LagRecords = max(0, p.SourceHighWatermark-(p.LastMirroredOffset+1))
	return p
}

// endOf is the observation a partition status carries, for withEnd.
func endOf(p agentapi.PartitionStatus) End {
	return End{Topic: p.Topic, TargetTopic: p.TargetTopic, Partition: p.Partition, HighWatermark: p.SourceHighWatermark, ObservedAt: p.SourceHighWatermarkAt}
}
