package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

// listedPartitions bounds the partitions a report or a forecast lists, worst
// first: the plan of a failover must fit on a screen however many partitions
// the mirrors copy. The totals count them all; the agent's API has the rest.
const listedPartitions = 3

// compactReport is a failover report (or a forecast's) cut to what a plan
// shows: totals over all partitions, the worst partitions, every group.
type compactReport struct {
	RecordsLost       int64                      `json:"records_lost"`
	SourceLastContact *time.Time                 `json:"source_last_contact,omitempty"`
	Accuracy          string                     `json:"accuracy,omitempty"`
	OffsetsCommitted  int                        `json:"offsets_committed"`
	Partitions        int                        `json:"partitions"`
	PartitionsAtRisk  int                        `json:"partitions_at_risk"`
	Listed            []agentapi.PartitionLoss   `json:"listed"`
	Groups            []agentapi.GroupResumption `json:"groups"`
	ACLsApplied       []agentapi.ACL             `json:"acls_applied,omitempty"`
}

// compact keeps rep's totals and its worst partitions: those that lost
// records or whose figure is a lower bound, most records first.
func compact(rep agentapi.FailoverReport) compactReport {
	c := compactReport{RecordsLost: rep.RecordsLost, SourceLastContact: rep.SourceLastContact, Accuracy: rep.Accuracy,
		OffsetsCommitted: rep.OffsetsCommitted, Partitions: len(rep.Partitions), Groups: rep.Groups, ACLsApplied: rep.ACLsApplied}
	for _, p := range rep.Partitions {
		if p.RecordsLost > 0 || p.LowerBound {
			c.Listed = append(c.Listed, p)
		}
	}
	c.PartitionsAtRisk = len(c.Listed)
	slices.SortStableFunc(c.Listed, func(a, b agentapi.PartitionLoss) int {
		return cmp.Or(cmp.Compare(b.RecordsLost, a.RecordsLost), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	c.Listed = c.Listed[:min(len(c.Listed), listedPartitions)]
	return c
}

// forecastSnapshot is what the agent forecast for each standby at the last
// refresh, kept in the resource's private state. The plan's forecast comes
// from it, not from a new question to the agent: Terraform plans again
// during apply and refuses a planned value that changed, and the private
// state it passes then is the one the plan saw.
type forecastSnapshot struct {
	AsOf    time.Time                  `json:"as_of"`
	From    string                     `json:"from"`
	Epoch   int64                      `json:"epoch"`
	Fencing string                     `json:"fencing"`
	To      map[string]standbyForecast `json:"to"`
}

type standbyForecast struct {
	PlannedPossible bool          `json:"planned_possible"`
	Reason          string        `json:"reason"`
	Report          compactReport `json:"report"`
}

const forecastKey = "forecast"

// recordsReread is what a group re-reads of what it had committed by its
// checkpoint: nothing, the agent translates every mirrored offset exactly.
const recordsReread = 0

// refreshed remembers the forecasts this provider instance's refreshes took.
// Terraform plans again during apply, with another provider instance and no
// refresh: the forecast's warning is for the plan, after apply the result
// speaks.
var refreshed sync.Map // refreshKey -> struct{}

type refreshKey struct {
	client *agentclient.Client
	policy string
	asOf   int64 // UnixNano: the snapshot's time as it comes back from private state
}

// takeForecasts asks the agent what a failover of p to each of its other
// clusters would cost now. A standby the agent cannot forecast is left out:
// the plan then says the forecast is unavailable.
func takeForecasts(ctx context.Context, c *agentclient.Client, p agentapi.Policy) forecastSnapshot {
	snap := forecastSnapshot{AsOf: time.Now().UTC().Round(0), From: p.Active, Epoch: p.Epoch, Fencing: p.Fencing, To: map[string]standbyForecast{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, to := range p.Clusters {
		if to == p.Active {
			continue
		}
		wg.Add(1)
		go func() { // the forecasts wait on the active cluster's answer: ask for all at once
			defer wg.Done()
			fc, err := c.Forecast(ctx, p.Name, to)
			if err != nil || fc.From != p.Active {
				return
			}
			mu.Lock()
			snap.To[to] = standbyForecast{PlannedPossible: fc.PlannedPossible, Reason: terraformTerms(fc.Reason), Report: compact(fc.Report)}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return snap
}

// privateGetter and privateSetter are the private state of a request and of
// a response.
type privateGetter interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}
type privateSetter interface {
	SetKey(context.Context, string, []byte) diag.Diagnostics
}

func saveForecasts(ctx context.Context, c *agentclient.Client, policy string, priv privateSetter, snap forecastSnapshot) diag.Diagnostics {
	refreshed.Store(refreshKey{c, policy, snap.AsOf.UnixNano()}, struct{}{})
	b, err := json.Marshal(snap)
	if err != nil {
		var d diag.Diagnostics
		d.AddError("Forecast Not Kept", "Could not encode the agent's forecast: "+err.Error()+". This is a bug in the provider; please report it.")
		return d
	}
	return priv.SetKey(ctx, forecastKey, b)
}

// loadForecast answers the snapshot's forecast of a failover from `from` at
// `epoch` to `to`, if the last refresh took one for that.
func loadForecast(ctx context.Context, priv privateGetter, from string, epoch int64, to string) (forecastSnapshot, standbyForecast, bool) {
	b, d := priv.GetKey(ctx, forecastKey)
	var snap forecastSnapshot
	if d.HasError() || len(b) == 0 || json.Unmarshal(b, &snap) != nil || snap.From != from || snap.Epoch != epoch {
		return snap, standbyForecast{}, false
	}
	fc, ok := snap.To[to]
	return snap, fc, ok
}

var (
	forecastTypes = map[string]attr.Type{
		"from": types.StringType, "to": types.StringType, "mode": types.StringType, "as_of": types.StringType,
		"planned_possible": types.BoolType, "reason": types.StringType, "records_at_risk": types.Int64Type,
		"source_last_contact": types.StringType, "accuracy": types.StringType,
		"partitions_total": types.Int64Type, "partitions_at_risk": types.Int64Type,
		"partitions":   types.ListType{ElemType: types.ObjectType{AttrTypes: partitionLossTypes}},
		"groups":       types.ListType{ElemType: types.ObjectType{AttrTypes: groupTypes}},
		"outcome":      types.StringType,
		"acls_applied": types.ListType{ElemType: types.StringType},
	}
)

type forecastModel struct {
	From              string               `tfsdk:"from"`
	To                string               `tfsdk:"to"`
	Mode              string               `tfsdk:"mode"`
	AsOf              string               `tfsdk:"as_of"`
	PlannedPossible   bool                 `tfsdk:"planned_possible"`
	Reason            string               `tfsdk:"reason"`
	RecordsAtRisk     int64                `tfsdk:"records_at_risk"`
	SourceLastContact types.String         `tfsdk:"source_last_contact"`
	Accuracy          string               `tfsdk:"accuracy"`
	PartitionsTotal   int64                `tfsdk:"partitions_total"`
	PartitionsAtRisk  int64                `tfsdk:"partitions_at_risk"`
	Partitions        []partitionLossModel `tfsdk:"partitions"`
	Groups            []groupModel         `tfsdk:"groups"`
	Outcome           string               `tfsdk:"outcome"`
	ACLsApplied       []string             `tfsdk:"acls_applied"`
}

func forecastAttribute() schema.Attribute {
	return schema.SingleNestedAttribute{
		MarkdownDescription: "What the agent says the planned change of `active_cluster` would cost, set during `terraform plan` so that it is in the plan's data " +
			"(`terraform show -json PLANFILE`, at `resource_changes[*].change.after.forecast`) for a reviewer, a CI job or a policy check (OPA, Sentinel) to read, for example to refuse a forced failover that would lose more than N records. " +
			"Set only by a plan that changes `active_cluster`; any other plan keeps the last value, and after apply the state keeps what the plan showed. " +
			"The figures are the agent's at the refresh that preceded the plan (`as_of`; a plan with `-refresh=false` shows the last refresh's). " +
			"Null when the resource is created, and when the agent could not forecast (the plan then warns).",
		Computed:      true,
		PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
		Attributes: map[string]schema.Attribute{
			"from":                schema.StringAttribute{MarkdownDescription: "The active cluster the plan fails over from.", Computed: true},
			"to":                  schema.StringAttribute{MarkdownDescription: "The cluster the plan makes active.", Computed: true},
			"mode":                schema.StringAttribute{MarkdownDescription: "The plan's `mode`.", Computed: true},
			"as_of":               schema.StringAttribute{MarkdownDescription: "When the agent answered the forecast (RFC 3339).", Computed: true},
			"planned_possible":    schema.BoolAttribute{MarkdownDescription: "Whether the agent would accept a `planned` failover now.", Computed: true},
			"reason":              schema.StringAttribute{MarkdownDescription: "Why a planned failover is possible now or not, in the agent's words.", Computed: true},
			"records_at_risk":     schema.Int64Attribute{MarkdownDescription: "Records on `from` not yet mirrored to `to`, summed over partitions: what a `forced` failover now would lose. A `planned` failover drains them first.", Computed: true},
			"source_last_contact": schema.StringAttribute{MarkdownDescription: "When `from` last answered the agent (RFC 3339): the figures are exact as of then. Null when it never did.", Computed: true},
			"accuracy":            schema.StringAttribute{MarkdownDescription: "How far `records_at_risk` can be trusted, in words.", Computed: true},
			"partitions_total":    schema.Int64Attribute{MarkdownDescription: "Mirrored partitions the forecast counted.", Computed: true},
			"partitions_at_risk":  schema.Int64Attribute{MarkdownDescription: "Partitions with records at risk or whose figure is a lower bound.", Computed: true},
			"partitions":          partitionsAttribute(fmt.Sprintf("The partitions at risk, most records first, at most %d: `records_lost` is what a forced failover now would lose there.", listedPartitions)),
			"groups":              groupsAttribute(),
			"outcome":             schema.StringAttribute{MarkdownDescription: "What applying does under the policy's `fencing` and this `mode`, in words: what is lost, what must be stopped first, or why the agent will refuse it now.", Computed: true},
			"acls_applied": schema.ListAttribute{MarkdownDescription: "The ACLs the failover would make on `to` before the flip: the Write and other mutating ACLs of the mirrored topics that the mirrors' `sync_acls` holds and `to` lacks, " +
				"each as `<permission> <principal> <operation> on <resource type> <pattern type> <name> from <host>`.", ElementType: types.StringType, Computed: true},
		},
	}
}

// partitionsAttribute is the per-partition list of a report or a forecast.
func partitionsAttribute(description string) schema.Attribute {
	return schema.ListNestedAttribute{
		MarkdownDescription: description,
		Computed:            true,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"topic":                      schema.StringAttribute{MarkdownDescription: "The topic on the old active cluster.", Computed: true},
			"partition":                  schema.Int64Attribute{MarkdownDescription: "The partition number.", Computed: true},
			"records_lost":               schema.Int64Attribute{MarkdownDescription: "Records of the partition that were not mirrored.", Computed: true},
			"high_watermark_observed_at": schema.StringAttribute{MarkdownDescription: "When the old active cluster answered the high watermark the figure is counted from (RFC 3339): how fresh it is. Null if it never did.", Computed: true},
			"lower_bound":                schema.BoolAttribute{MarkdownDescription: "The partition was not observed within a watch round of `source_last_contact`: `records_lost` may be below the truth.", Computed: true},
		}},
	}
}

// groupsAttribute is the per-group list of a report or a forecast.
func groupsAttribute() schema.Attribute {
	return schema.ListNestedAttribute{
		MarkdownDescription: "Per checkpointed consumer group: what it re-reads and what it misses on the new active cluster.",
		Computed:            true,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"group": schema.StringAttribute{MarkdownDescription: "The consumer group.", Computed: true},
			"records_reread": schema.Int64Attribute{MarkdownDescription: "Records the group had committed by `checkpointed_at` that it reads again on the new active cluster: 0, because the agent translates offsets exactly " +
				"(MirrorMaker 2 re-reads up to `offset.lag.max` per partition). What the group consumed on the old active cluster after `checkpointed_at` it reads again as well; the agent cannot count those.", Computed: true},
			"records_not_mirrored": schema.Int64Attribute{MarkdownDescription: "Records the group had read on the old active cluster that never reached the new one: the group will not see them again.", Computed: true},
			"checkpointed_at":      schema.StringAttribute{MarkdownDescription: "The group's offsets are known up to this time (RFC 3339); what it consumed on the old active cluster after it, it reads again.", Computed: true},
			"partitions":           schema.Int64Attribute{MarkdownDescription: "Partitions of the group that are translated.", Computed: true},
		}},
	}
}

func partitionModels(ps []agentapi.PartitionLoss) []partitionLossModel {
	out := []partitionLossModel{}
	for _, p := range ps {
		out = append(out, partitionLossModel{Topic: p.Topic, Partition: int64(p.Partition), RecordsLost: p.RecordsLost,
			ObservedAt: timeValue(p.HighWatermarkObservedAt), LowerBound: p.LowerBound})
	}
	return out
}

func groupModels(gs []agentapi.GroupResumption) []groupModel {
	out := []groupModel{}
	for _, g := range gs {
		out = append(out, groupModel{Group: g.Group, RecordsReread: recordsReread, RecordsNotMirrored: g.RecordsNotMirrored,
			CheckpointedAt: g.CheckpointedAt.UTC().Format(time.RFC3339Nano), Partitions: int64(g.Partitions)})
	}
	return out
}

// forecastValue is the forecast attribute for a failover from snap.From to
// `to` in `mode`.
func forecastValue(ctx context.Context, snap forecastSnapshot, to, mode string, fc standbyForecast, diags *diag.Diagnostics) types.Object {
	rep := fc.Report
	m := forecastModel{From: snap.From, To: to, Mode: mode, AsOf: snap.AsOf.Format(time.RFC3339Nano),
		PlannedPossible: fc.PlannedPossible, Reason: fc.Reason, RecordsAtRisk: rep.RecordsLost,
		SourceLastContact: types.StringNull(), Accuracy: rep.Accuracy,
		PartitionsTotal: int64(rep.Partitions), PartitionsAtRisk: int64(rep.PartitionsAtRisk),
		Partitions: partitionModels(rep.Listed), Groups: groupModels(rep.Groups),
		Outcome:     forecastOutcome(snap.From, to, snap.Fencing, mode, fc.PlannedPossible),
		ACLsApplied: []string{}}
	for _, a := range rep.ACLsApplied {
		m.ACLsApplied = append(m.ACLsApplied, fmt.Sprintf("%s %s %s on %s %s %s from %s", a.Permission, a.Principal, a.Operation, a.ResourceType, a.PatternType, a.ResourceName, a.Host))
	}
	if rep.SourceLastContact != nil {
		m.SourceLastContact = timeValue(*rep.SourceLastContact)
	}
	v, d := types.ObjectValueFrom(ctx, forecastTypes, m)
	diags.Append(d...)
	return v
}

// forecastWarning is the plan's warning for a forecast: a few lines, the
// forecast attribute in the plan has the figures per partition and group.
func forecastWarning(snap forecastSnapshot, to, mode string, fc standbyForecast) (string, string) {
	rep, from := fc.Report, snap.From
	possible := "not possible now"
	if fc.PlannedPossible {
		possible = "possible now"
	}
	detail := fmt.Sprintf("Applying this plan fails the policy over from %s to %s (mode %s). According to the agent at %s, %s in %d of %s are not mirrored yet, "+
		"and %s would re-read %s they had committed; a planned failover is %s. %s See the plan's forecast attribute for the figures.",
		from, to, mode, snap.AsOf.UTC().Format(time.RFC3339), plural(rep.RecordsLost, "record"), rep.PartitionsAtRisk, plural(int64(rep.Partitions), "partition"),
		plural(int64(len(rep.Groups)), "checkpointed consumer group"), plural(recordsReread, "record"), possible, forecastOutcome(from, to, snap.Fencing, mode, fc.PlannedPossible))
	return fmt.Sprintf("Failover Forecast: %s At Risk", plural(rep.RecordsLost, "Record")), detail
}

// plural is n of noun, in words: "1 record", "2 records".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// forecastOutcome says what applying a failover from `from` does under the
// policy's fencing and the plan's mode.
func forecastOutcome(from, to, fencing, mode string, plannedPossible bool) string {
	switch {
	case mode == agentapi.ModeForced:
		s := fmt.Sprintf("With mode = %q the records at risk are lost to applications, and %s cannot become active again until its unmirrored records are reconciled.", mode, from)
		if fencing == agentapi.FencingNone {
			s += fmt.Sprintf(" Nothing fences %s (fencing = %q): producers still writing to it write records that are never mirrored; stop them.", from, fencing)
		}
		return s
	case !plannedPossible:
		return fmt.Sprintf("With mode = %q the agent will refuse this failover now: wait until the partitions at risk have caught up with %s, or set mode = %q if %s is lost.", mode, to, agentapi.ModeForced, from)
	case fencing == agentapi.FencingNone:
		return fmt.Sprintf("With mode = %q and fencing = %q nothing fences writes to %s: stop its producers before applying. The agent drains the mirrors, so nothing written before the producers stopped is lost; "+
			"records produced to %s after the drain are never mirrored.", mode, fencing, from, from)
	default:
		return fmt.Sprintf("With mode = %q writes to %s are fenced and the mirrors drained first: nothing is lost.", mode, from)
	}
}
