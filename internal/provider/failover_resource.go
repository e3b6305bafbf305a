package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

var (
	_ resource.ResourceWithConfigure      = &FailoverResource{}
	_ resource.ResourceWithImportState    = &FailoverResource{}
	_ resource.ResourceWithModifyPlan     = &FailoverResource{}
	_ resource.ResourceWithValidateConfig = &FailoverResource{}
)

// FailoverResource is the active cluster of a failover policy: changing
// active_cluster is a failover.
type FailoverResource struct {
	client *agentclient.Client
}

// NewFailoverResource is the kafka_failover resource factory.
func NewFailoverResource() resource.Resource { return &FailoverResource{} }

type failoverModel struct {
	Policy                 types.String   `tfsdk:"policy"`
	ActiveCluster          types.String   `tfsdk:"active_cluster"`
	Mode                   types.String   `tfsdk:"mode"`
	Epoch                  types.Int64    `tfsdk:"epoch"`
	ActiveBootstrapServers types.List     `tfsdk:"active_bootstrap_servers"`
	CompletedAt            types.String   `tfsdk:"completed_at"`
	Report                 types.Object   `tfsdk:"report"`
	Forecast               types.Object   `tfsdk:"forecast"`
	Timeouts               timeouts.Value `tfsdk:"timeouts"`
}

type reportModel struct {
	RecordsLost          int64                `tfsdk:"records_lost"`
	SourceLastContact    types.String         `tfsdk:"source_last_contact"`
	Accuracy             types.String         `tfsdk:"accuracy"`
	OffsetsCommitted     int64                `tfsdk:"offsets_committed"`
	PartitionsTotal      int64                `tfsdk:"partitions_total"`
	PartitionsWithLosses int64                `tfsdk:"partitions_with_losses"`
	Partitions           []partitionLossModel `tfsdk:"partitions"`
	Groups               []groupModel         `tfsdk:"groups"`
}

type partitionLossModel struct {
	Topic       string       `tfsdk:"topic"`
	Partition   int64        `tfsdk:"partition"`
	RecordsLost int64        `tfsdk:"records_lost"`
	ObservedAt  types.String `tfsdk:"high_watermark_observed_at"`
	LowerBound  bool         `tfsdk:"lower_bound"`
}

type groupModel struct {
	Group              string `tfsdk:"group"`
	RecordsReread      int64  `tfsdk:"records_reread"`
	RecordsNotMirrored int64  `tfsdk:"records_not_mirrored"`
	CheckpointedAt     string `tfsdk:"checkpointed_at"`
	Partitions         int64  `tfsdk:"partitions"`
}

var (
	partitionLossTypes = map[string]attr.Type{
		"topic": types.StringType, "partition": types.Int64Type, "records_lost": types.Int64Type,
		"high_watermark_observed_at": types.StringType, "lower_bound": types.BoolType,
	}
	groupTypes = map[string]attr.Type{
		"group": types.StringType, "records_reread": types.Int64Type, "records_not_mirrored": types.Int64Type, "checkpointed_at": types.StringType, "partitions": types.Int64Type,
	}
	reportTypes = map[string]attr.Type{
		"records_lost": types.Int64Type, "source_last_contact": types.StringType, "accuracy": types.StringType, "offsets_committed": types.Int64Type,
		"partitions_total": types.Int64Type, "partitions_with_losses": types.Int64Type,
		"partitions": types.ListType{ElemType: types.ObjectType{AttrTypes: partitionLossTypes}},
		"groups":     types.ListType{ElemType: types.ObjectType{AttrTypes: groupTypes}},
	}
)

// The agent's failover fields map to these attributes in its 4xx answers.
var failoverAttrs = map[string]bool{"policy": true, "active_cluster": true, "mode": true}
var failoverRename = map[string]string{"to": "active_cluster", "expected_epoch": "active_cluster"}

// failoverMargin is added to the policy's drain_timeout for the default
// create and update timeouts: fencing, the flip and the report take time too.
const failoverMargin = 2 * time.Minute

func (r *FailoverResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_failover"
}

func (r *FailoverResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The active cluster of a `kafka_failover_policy`. Changing `active_cluster` and applying is the failover: `planned` when the active region is healthy (fence writes, drain the mirrors, lose nothing), " +
			"`forced` when it is lost (flip now and report exactly what was never mirrored). `terraform plan` puts the agent's forecast of the change in the plan as the `forecast` attribute (and says it in a warning), so reviewers, CI jobs and policy checks see the cost before apply.\n\n" +
			"Creating the resource with the policy's current active cluster adopts it without flipping. Deleting the resource changes nothing on the clusters. " +
			"If the active cluster was changed outside Terraform (through the agent's API), the next plan shows `active_cluster` moving back to the configuration's value; " +
			"after a forced failover the old active cluster is *diverged* and no failover can go back to it until its unmirrored records are reconciled by a `kafka_failover_reconciliation`.",
		Attributes: map[string]schema.Attribute{
			"policy": schema.StringAttribute{
				MarkdownDescription: "Name of the `kafka_failover_policy` whose active cluster this resource sets. Changing it replaces the resource, which only adopts the other policy's active cluster (or fails it over to `active_cluster`).",
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"active_cluster": schema.StringAttribute{
				MarkdownDescription: "The cluster applications should use: one of the policy's `clusters`. Set it to the policy's current active cluster to adopt it; change it and apply to fail over. " +
					"The failover is sent with the `epoch` in state as the expected epoch (refused if someone else failed over meanwhile) and with a request id made of the policy, the target and that epoch, so a retried apply never flips twice.",
				Required:   true,
				Validators: []validator.String{validName()},
			},
			"mode": schema.StringAttribute{
				MarkdownDescription: "How the next change of `active_cluster` fails over. `" + agentapi.ModePlanned + "`: the active cluster is reachable; writes are fenced (the policy's `fencing`), the mirrors drain and nothing is lost, " +
					"and the agent refuses when the standby lags beyond the policy's limits. `" + agentapi.ModeForced + "`: the active cluster is lost; the standby becomes active now and `report` lists what was never mirrored, and the old active cluster cannot become active again (it is diverged). " +
					"One of " + quoted(agentapi.FailoverModes) + ". Default `" + agentapi.ModePlanned + "`. Changing only `mode` does nothing on the clusters.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(agentapi.ModePlanned),
				Validators: []validator.String{stringvalidator.OneOf(agentapi.FailoverModes...)},
			},
			"epoch": schema.Int64Attribute{
				MarkdownDescription: "The policy's epoch after the last failover: `0` before any, one more with each. Known only after apply when `active_cluster` changes.",
				Computed:            true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"active_bootstrap_servers": schema.ListAttribute{
				MarkdownDescription: "Bootstrap servers of the active cluster: where producers and consumers connect now (the agent's discovery answer, `GET /v1/policies/{name}/active`).",
				Computed:            true,
				ElementType:         types.StringType,
				PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
			},
			"completed_at": schema.StringAttribute{
				MarkdownDescription: "When the last failover completed (RFC 3339); null while the policy has never failed over.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"report": schema.SingleNestedAttribute{
				MarkdownDescription: "What the last failover lost and what consumers re-read; null while the policy has never failed over. After a `planned` failover `records_lost` is 0.",
				Computed:            true,
				PlanModifiers:       []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				Attributes: map[string]schema.Attribute{
					"records_lost": schema.Int64Attribute{
						MarkdownDescription: "Records on the old active cluster that were never mirrored, summed over partitions: exact as of `source_last_contact` (the agent watches the source's high watermarks every 250 ms); records the old active took after that are counted when it returns (`kafka_failover_status`'s `last_failover.records_found_on_return`).",
						Computed:            true,
					},
					"source_last_contact": schema.StringAttribute{
						MarkdownDescription: "When the old active cluster last answered the agent (RFC 3339): `records_lost` is exact as of then. Null when it was never observed.",
						Computed:            true,
					},
					"accuracy": schema.StringAttribute{
						MarkdownDescription: "How far `records_lost` can be trusted, in words: final after a planned failover, exact as of the last contact after a forced one, with the number of partitions whose figures are lower bounds.",
						Computed:            true,
					},
					"offsets_committed": schema.Int64Attribute{
						MarkdownDescription: "Partitions whose translated consumer group offset was committed on the new active cluster.",
						Computed:            true,
					},
					"partitions_total":       schema.Int64Attribute{MarkdownDescription: "Mirrored partitions the failover counted.", Computed: true},
					"partitions_with_losses": schema.Int64Attribute{MarkdownDescription: "Partitions that lost records or whose figure is a lower bound.", Computed: true},
					"partitions": partitionsAttribute(fmt.Sprintf("The partitions with losses, most records first, at most %d, so that the next failover's plan stays short; "+
						"every partition's figures are in `kafka-failover-agent`'s policy answer (`GET /v1/policies/{name}`, `last_failover.report`).", listedPartitions)),
					"groups": groupsAttribute(),
				},
			},
			"forecast": forecastAttribute(),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, CreateDescription: "How long a failover may take when the resource is created with another cluster than the active one. Default: the policy's `drain_timeout` plus 2 minutes.", UpdateDescription: "How long a failover may take. Default: the policy's `drain_timeout` plus 2 minutes."}),
		},
	}
}

func (r *FailoverResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	positiveTimeouts(ctx, req.Config, &resp.Diagnostics, "create", "update")
}

func (r *FailoverResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan refuses at plan time a policy that does not exist and an
// active_cluster that is not one of its clusters, makes the computed results
// unknown when active_cluster changes (they are the failover's), and puts the
// agent's forecast of that failover in the plan, as the forecast attribute
// and as a warning, so that it is in the plan reviewers and policy checks
// read.
func (r *FailoverResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, state failoverModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	created := req.State.Raw.IsNull()
	if !created {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() || plan.Policy.IsUnknown() || plan.ActiveCluster.IsUnknown() {
		return
	}
	if changed(plan.Policy, state.Policy, created) || changed(plan.ActiveCluster, state.ActiveCluster, created) {
		if mustBeInPolicy(ctx, r.client, plan.Policy, plan.ActiveCluster, "active_cluster", &resp.Diagnostics); resp.Diagnostics.HasError() {
			return
		}
	}
	to, name := plan.ActiveCluster.ValueString(), plan.Policy.ValueString()
	if created {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("forecast"), types.ObjectNull(forecastTypes))...)
		r.warnCreate(ctx, name, to, plan.Mode.ValueString(), &resp.Diagnostics)
		return
	}
	if state.ActiveCluster.ValueString() == to {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("epoch"), types.Int64Unknown())...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("active_bootstrap_servers"), types.ListUnknown(types.StringType))...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("completed_at"), types.StringUnknown())...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("report"), types.ObjectUnknown(reportTypes))...)
	if pp, ok := declaredPolicy(r.client, name); ok && pp.anew && pp.primary == to {
		// Update adopts the new policy's active cluster: nothing to forecast.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("forecast"), types.ObjectNull(forecastTypes))...)
		resp.Diagnostics.AddAttributeWarning(path.Root("active_cluster"), "No Failover: The Policy Is Created Anew",
			fmt.Sprintf("This plan replaces policy %s, and the new policy makes its primary %s active at epoch 0, so this kafka_failover adopts %s without a failover: nothing is fenced or drained, and no report is made. "+
				"That is right when %s is the cluster applications use now under a new name (renamed); if it is another cluster, records not yet mirrored into it are not counted: fail over with active_cluster first, then change the policy.",
				name, to, to, to))
		return
	}
	from, mode := state.ActiveCluster.ValueString(), plan.Mode.ValueString()
	snap, fc, ok := loadForecast(ctx, req.Private, from, state.Epoch.ValueInt64(), to)
	if !ok {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("forecast"), types.ObjectNull(forecastTypes))...)
		resp.Diagnostics.AddAttributeWarning(path.Root("active_cluster"), "Failover Forecast Unavailable",
			fmt.Sprintf("This plan fails policy %s over from %s to %s, but the refresh before it got no forecast from the agent, so the plan's forecast is null. "+
				"Review kafka_failover_status for the policy, or run terraform plan again (without -refresh=false) once the agent answers.", name, from, to))
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("forecast"), forecastValue(ctx, snap, to, mode, fc, &resp.Diagnostics))...)
	if _, inPlan := refreshed.Load(refreshKey{r.client, name, snap.AsOf.UnixNano()}); inPlan {
		summary, detail := forecastWarning(snap, to, mode, fc)
		resp.Diagnostics.AddAttributeWarning(path.Root("active_cluster"), summary, detail)
	}
}

// warnCreate warns when a new kafka_failover would fail its policy over
// rather than adopt its active cluster. Only a warning: without a prior
// refresh there is no forecast the apply would plan again the same.
func (r *FailoverResource) warnCreate(ctx context.Context, name, to, mode string, diags *diag.Diagnostics) {
	if r.client == nil {
		return
	}
	p, err := r.client.GetPolicy(ctx, name)
	if err != nil || p.Active == to {
		// A policy created in the same apply, or an adoption: nothing to forecast.
		return
	}
	snap := takeForecasts(ctx, r.client, p)
	fc, ok := snap.To[to]
	if !ok {
		diags.AddAttributeWarning(path.Root("active_cluster"), "Failover Forecast Unavailable",
			fmt.Sprintf("Creating this kafka_failover fails policy %s over from %s to %s, but the agent could not say what it would lose: review kafka_failover_status for the policy before applying.", name, p.Active, to))
		return
	}
	summary, detail := forecastWarning(snap, to, mode, fc)
	diags.AddAttributeWarning(path.Root("active_cluster"), summary, detail)
}

func (r *FailoverResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m failoverModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	name, to := m.Policy.ValueString(), m.ActiveCluster.ValueString()
	p, err := r.client.GetPolicy(ctx, name)
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read failover policy %q", name), err, failoverAttrs, nil)
		return
	}
	if p.Active == to {
		resp.Diagnostics.Append(resp.State.Set(ctx, failoverFromPolicy(ctx, p, m, &resp.Diagnostics))...)
		return
	}
	timeout, diags := m.Timeouts.Create(ctx, defaultFailoverTimeout(p))
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.failover(ctx, m, p.Epoch, timeout, &resp.Diagnostics, func(v failoverModel) diag.Diagnostics { return resp.State.Set(ctx, v) })
}

func (r *FailoverResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, state failoverModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	if m.ActiveCluster.ValueString() == state.ActiveCluster.ValueString() {
		// Only mode or timeouts changed: nothing to do on the clusters.
		m.Epoch, m.ActiveBootstrapServers, m.CompletedAt, m.Report = state.Epoch, state.ActiveBootstrapServers, state.CompletedAt, state.Report
		resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
		return
	}
	name := m.Policy.ValueString()
	p, err := r.client.GetPolicy(ctx, name)
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read failover policy %q", name), err, failoverAttrs, nil)
		return
	}
	if p.Active == m.ActiveCluster.ValueString() {
		// The policy was created anew with this cluster as its primary (a
		// renamed cluster replaces it): adopt, as Create does.
		resp.Diagnostics.Append(resp.State.Set(ctx, failoverFromPolicy(ctx, p, m, &resp.Diagnostics))...)
		return
	}
	timeout, diags := m.Timeouts.Update(ctx, defaultFailoverTimeout(p))
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.failover(ctx, m, state.Epoch.ValueInt64(), timeout, &resp.Diagnostics, func(v failoverModel) diag.Diagnostics { return resp.State.Set(ctx, v) })
}

// failoverRequestID is the same for every attempt at one failover (same
// policy, same target, same epoch before it), so that the agent, which makes
// request ids idempotent, flips once however often the apply is retried.
func failoverRequestID(policy, to string, fromEpoch int64) string {
	return fmt.Sprintf("terraform-%s-to-%s-from-epoch-%d", policy, to, fromEpoch)
}

// failover flips the policy to m.ActiveCluster, expecting fromEpoch.
func (r *FailoverResource) failover(ctx context.Context, m failoverModel, fromEpoch int64, timeout time.Duration, diags *diag.Diagnostics, set func(failoverModel) diag.Diagnostics) {
	name, to := m.Policy.ValueString(), m.ActiveCluster.ValueString()
	req := agentapi.FailoverRequest{
		To:            to,
		Mode:          m.Mode.ValueString(),
		RequestID:     failoverRequestID(name, to, fromEpoch),
		ExpectedEpoch: &fromEpoch,
		RequestedBy:   "terraform",
	}
	res, err := r.client.Failover(ctx, name, req, timeout)
	if err != nil {
		what := fmt.Sprintf("fail policy %q over to %q (mode %s, request %s)", name, to, req.Mode, req.RequestID)
		if ctx.Err() == nil && strings.Contains(err.Error(), "deadline exceeded") {
			diags.AddAttributeError(path.Root("active_cluster"), "Failover Timed Out",
				fmt.Sprintf("Could not %s within %s. The agent may still be failing over: see kafka_failover_status of policy %q (or terraform plan, which refreshes it), then apply again (the same request id is sent, so it cannot flip twice), or raise timeouts.update. Error: %v", what, timeout, name, err))
			return
		}
		agentDiag(diags, what, err, failoverAttrs, failoverRename)
		return
	}
	if res.Outcome != "" && res.Outcome != agentapi.OutcomeCompleted {
		diags.AddAttributeError(path.Root("active_cluster"), "Failover Aborted",
			fmt.Sprintf("The failover of policy %q to %q was aborted and nothing flipped: fix what the agent says and apply again. The agent said: %s", name, to, terraformTerms(res.Reason)))
		return
	}
	m.Epoch = types.Int64Value(res.Epoch)
	m.CompletedAt = types.StringValue(res.CompletedAt.UTC().Format(time.RFC3339Nano))
	m.Report = reportValue(ctx, res.Report, diags)
	m.ActiveBootstrapServers = types.ListNull(types.StringType)
	if a, err := r.client.Active(ctx, name); err == nil {
		m.ActiveBootstrapServers = listOf(a.BootstrapServers, types.ListValueMust(types.StringType, nil))
	} else {
		diags.AddWarning("Active Cluster Not Read Back",
			fmt.Sprintf("Policy %q failed over to %q, but reading its bootstrap servers failed; they show after the next refresh. Error: %v", name, to, err))
	}
	diags.Append(set(m)...)
}

func defaultFailoverTimeout(p agentapi.Policy) time.Duration {
	d, err := time.ParseDuration(p.DrainTimeout)
	if err != nil {
		d = agentapi.DefaultDrainTimeout
	}
	return d + failoverMargin
}

func (r *FailoverResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m failoverModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	name := m.Policy.ValueString()
	p, err := r.client.GetPolicy(ctx, name)
	if agentclient.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read failover policy %q", name), err, failoverAttrs, nil)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, failoverFromPolicy(ctx, p, m, &resp.Diagnostics))...)
	resp.Diagnostics.Append(saveForecasts(ctx, r.client, name, resp.Private, takeForecasts(ctx, r.client, p))...)
}

// failoverFromPolicy is the state as the policy answers it; prior keeps the
// configuration-only values (mode, timeouts) and the last report when the
// agent's last failover record is not this epoch's (an aborted attempt).
func failoverFromPolicy(ctx context.Context, p agentapi.Policy, prior failoverModel, diags *diag.Diagnostics) failoverModel {
	m := prior
	m.Policy = types.StringValue(p.Name)
	m.ActiveCluster = types.StringValue(p.Active)
	m.Epoch = types.Int64Value(p.Epoch)
	m.ActiveBootstrapServers = listOf(p.ActiveBootstrapServers, types.ListValueMust(types.StringType, nil))
	if m.Mode.IsNull() || m.Mode.IsUnknown() {
		m.Mode = types.StringValue(agentapi.ModePlanned)
	}
	switch last := p.LastFailover; {
	case last != nil && last.Outcome == agentapi.OutcomeCompleted && last.Epoch == p.Epoch:
		m.CompletedAt = types.StringValue(last.CompletedAt.UTC().Format(time.RFC3339Nano))
		m.Report = reportValue(ctx, last.Report, diags)
	case p.Epoch == 0 || m.CompletedAt.IsUnknown() || m.Report.IsUnknown():
		m.CompletedAt = types.StringNull()
		m.Report = types.ObjectNull(reportTypes)
	}
	return m
}

// timeValue is a time as RFC 3339 text, null when zero.
func timeValue(t time.Time) types.String {
	if t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339Nano))
}

// reportValue is a failover report as the report attribute: compact, so
// that the next failover's plan, which shows it replaced, stays short.
func reportValue(ctx context.Context, rep *agentapi.FailoverReport, diags *diag.Diagnostics) types.Object {
	if rep == nil {
		return types.ObjectNull(reportTypes)
	}
	c := compact(*rep)
	rm := reportModel{RecordsLost: c.RecordsLost, OffsetsCommitted: int64(c.OffsetsCommitted),
		SourceLastContact: types.StringNull(), Accuracy: types.StringValue(c.Accuracy),
		PartitionsTotal: int64(c.Partitions), PartitionsWithLosses: int64(c.PartitionsAtRisk),
		Partitions: partitionModels(c.Listed), Groups: groupModels(c.Groups)}
	if c.SourceLastContact != nil {
		rm.SourceLastContact = timeValue(*c.SourceLastContact)
	}
	v, d := types.ObjectValueFrom(ctx, reportTypes, rm)
	diags.Append(d...)
	return v
}

func (r *FailoverResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m failoverModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.AddWarning("Failover Resource Removed, Clusters Unchanged",
		fmt.Sprintf("kafka_failover for policy %q is gone from the state, and nothing changed on the clusters: %s stays the active cluster (epoch %d) and applications keep using it. "+
			"To fail over later, declare a kafka_failover for the policy again: with the active cluster it adopts it.",
			m.Policy.ValueString(), m.ActiveCluster.ValueString(), m.Epoch.ValueInt64()))
}

func (r *FailoverResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("policy"), req, resp)
}
