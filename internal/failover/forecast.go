package failover

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// Forecast answers what a failover to `to` now would lose and re-read,
// without doing it: what a reviewer sees in terraform plan.
func (e *Executor) Forecast(ctx context.Context, name, to string) (agentapi.Forecast, error) {
	p, err := e.Store.GetPolicy(name)
	if err != nil {
		return agentapi.Forecast{}, refuse(http.StatusNotFound, "", "no policy named %q", name)
	}
	if !slices.Contains(p.Clusters, to) {
		return agentapi.Forecast{}, refuse(http.StatusBadRequest, "to", "give ?to= one of the policy's clusters (%s), not %q", strings.Join(p.Clusters, ", "), to)
	}
	fc := agentapi.Forecast{Policy: name, From: p.Active, To: to,
		Report: agentapi.FailoverReport{Partitions: []agentapi.PartitionLoss{}, Groups: []agentapi.GroupResumption{}}}
	if to == p.Active {
		fc.Reason = to + " is already the active cluster: nothing would change"
		return fc, nil
	}
	var mirrors []agentapi.Mirror
	for _, mn := range p.Mirrors {
		if m, err := e.Store.GetMirror(mn); err == nil && m.Source == p.Active && m.Target == to {
			mirrors = append(mirrors, m)
		}
	}
	if len(mirrors) == 0 {
		fc.Reason = fmt.Sprintf("no mirror of the policy copies %s to %s", p.Active, to)
		return fc, nil
	}
	var lag lagSum
	for _, m := range mirrors {
		st := e.Mirrors.StatusOf(m.Name)
		lag.records += st.LagRecords
		for _, part := range st.Partitions {
			lag.seconds = max(lag.seconds, part.LagMillis/1000)
			loss := agentapi.PartitionLoss{Mirror: m.Name, Topic: part.Topic, TargetTopic: part.TargetTopic, Partition: part.Partition,
				SourceHighWatermark: part.SourceHighWatermark, HighWatermarkObservedAt: part.SourceHighWatermarkAt, MirroredUpTo: part.LastMirroredOffset + 1,
				RecordsLost:    max(0, part.SourceHighWatermark-(part.LastMirroredOffset+1)) + part.RecordsSkipped,
				RecordsSkipped: part.RecordsSkipped}
			fc.Report.Partitions = append(fc.Report.Partitions, loss)
			fc.Report.RecordsLost += loss.RecordsLost
			fc.Report.RecordsSkipped += loss.RecordsSkipped
		}
		for _, g := range e.Mirrors.Checkpoints(m.Name) {
			res := agentapi.GroupResumption{Group: g.Group, RecordsNotMirrored: g.RecordsNotMirrored, RecordsSkipped: g.RecordsSkipped, Partitions: len(g.Partitions)}
			for _, cp := range g.Partitions {
				if res.CheckpointedAt.IsZero() || cp.CheckpointedAt.Before(res.CheckpointedAt) {
					res.CheckpointedAt = cp.CheckpointedAt
				}
			}
			fc.Report.Groups = append(fc.Report.Groups, res)
		}
	}
	sort.Slice(fc.Report.Groups, func(i, j int) bool { return fc.Report.Groups[i].Group < fc.Report.Groups[j].Group })
	fc.Report.ACLsApplied, fc.Report.ACLErrors = e.grants(ctx, to, mirrors)
	describeAccuracy(&fc.Report, p.Active, false)
	switch err := e.reachable(ctx, p.Active); {
	case err != nil:
		fc.Reason = fmt.Sprintf("the active cluster %s does not answer (%v): only a forced failover is possible, and it would lose what the report says", p.Active, err)
	case lag.records > p.MaxLagRecords || lag.seconds > p.MaxLagSeconds:
		fc.Reason = fmt.Sprintf("the mirrors lag by %d records / %ds, over the policy's limits: a planned failover would be refused now", lag.records, lag.seconds)
	case p.Fencing == agentapi.FencingNone:
		fc.PlannedPossible = true
		fc.Reason = "a planned failover now would drain the mirrors and lose nothing written before the producers stop: with fencing none the agent does not fence writes"
	default:
		fc.PlannedPossible = true
		fc.Reason = "a planned failover now would fence writes, drain the mirrors and lose nothing"
	}
	return fc, nil
}
