package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

var (
	_ resource.ResourceWithConfigure      = &PolicyResource{}
	_ resource.ResourceWithImportState    = &PolicyResource{}
	_ resource.ResourceWithValidateConfig = &PolicyResource{}
	_ resource.ResourceWithModifyPlan     = &PolicyResource{}
)

// PolicyResource says which clusters take part in failover, which one was
// active first, and which mirrors keep the standbys current.
type PolicyResource struct {
	client *agentclient.Client
}

// NewPolicyResource is the kafka_failover_policy resource factory.
func NewPolicyResource() resource.Resource { return &PolicyResource{} }

type policyModel struct {
	Name          types.String `tfsdk:"name"`
	Clusters      types.List   `tfsdk:"clusters"`
	Primary       types.String `tfsdk:"primary"`
	Mirrors       types.List   `tfsdk:"mirrors"`
	MaxLagRecords types.Int64  `tfsdk:"max_lag_records"`
	MaxLagSeconds types.Int64  `tfsdk:"max_lag_seconds"`
	Fencing       types.String `tfsdk:"fencing"`
	DrainTimeout  types.String `tfsdk:"drain_timeout"`
	CreatedAt     types.String `tfsdk:"created_at"`
	Active        types.String `tfsdk:"active"`
	Epoch         types.Int64  `tfsdk:"epoch"`
	// ForgetDivergedOnDestroy lives in Terraform only: the agent never sees
	// it until a destroy.
	ForgetDivergedOnDestroy types.Bool `tfsdk:"forget_diverged_on_destroy"`
}

var policyAttrs = map[string]bool{
	"name": true, "clusters": true, "primary": true, "mirrors": true, "max_lag_records": true,
	"max_lag_seconds": true, "fencing": true, "drain_timeout": true,
}

// The policy's drain_timeout: the agent accepts 1s to agentapi.MaxDrainTimeout.
const minDrainTimeout = time.Second

func (r *PolicyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_failover_policy"
}

func (r *PolicyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A failover policy names the clusters that take part in disaster recovery, the one applications use first (`primary`), " +
			"and the mirrors that keep the standbys current. It also sets when a standby counts as ready (`max_lag_records`, `max_lag_seconds`) and how a planned failover stops writes on the old active cluster (`fencing`). " +
			"The policy never moves the active cluster by itself: a `kafka_failover` resource does, and `active` and `epoch` here only report where it is.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				MarkdownDescription: "The policy's name, also the name applications and `kafka_failover` use to find the active cluster. Letters, digits, `.`, `_` and `-`, at most 100. Changing it replaces the policy.",
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"clusters": schema.ListAttribute{
				MarkdownDescription: "Names of the `kafka_cluster`s that take part, at least two: the active one and its standbys. The active cluster must stay in the list.",
				Required:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(2), listvalidator.UniqueValues(), listvalidator.ValueStringsAre(validName())},
			},
			"primary": schema.StringAttribute{
				MarkdownDescription: "The cluster applications use when the policy is created; one of `clusters`. The agent never changes it afterwards (the active cluster then moves only through failovers), so changing it replaces the policy, which resets `epoch` to 0 and makes `primary` active again.",
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"mirrors": schema.ListAttribute{
				MarkdownDescription: "Names of the `kafka_mirror`s that copy the active cluster to the standbys. A standby can take over only when a mirror of this list copies the active cluster into it; both ends of every mirror must be in `clusters`.",
				Required:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues(), listvalidator.ValueStringsAre(validName())},
			},
			"max_lag_records": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("A standby is ready, and a planned failover to it allowed, only while its mirrors lag by at most this many records (summed over partitions). Default `%d`.", agentapi.DefaultMaxLagRecords),
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(agentapi.DefaultMaxLagRecords),
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"max_lag_seconds": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("A standby is ready, and a planned failover to it allowed, only while the oldest record not yet mirrored into it is at most this many seconds old. Default `%d`.", agentapi.DefaultMaxLagSeconds),
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(agentapi.DefaultMaxLagSeconds),
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"fencing": schema.StringAttribute{
				MarkdownDescription: "How a planned failover stops writes on the old active cluster before draining the mirrors: `" + agentapi.FencingACL + "` adds DENY Write ACLs on the mirrored topics " +
					"for each principal that the cluster's ALLOW Write (or All) ACLs on them name, except the agent's own user, which mirrors back into that cluster after the failover " +
					"(needs an authorizer on the cluster and Describe and Alter on it for the agent's user). Where anyone may write (an ALLOW for `User:*`, or a topic no ACL names) it denies `User:*`, " +
					"which Kafka applies to the agent's user too unless that user is a super user: if it is not, the planned failover is refused before anything is fenced. " +
					"`" + agentapi.FencingNone + "` leaves it to you to stop the producers first. One of " + quoted(agentapi.FencingModes) +
					". Default `" + agentapi.FencingACL + "`. A forced failover does not fence.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(agentapi.FencingACL),
				Validators: []validator.String{stringvalidator.OneOf(agentapi.FencingModes...)},
			},
			"drain_timeout": schema.StringAttribute{
				MarkdownDescription: "How long a planned failover waits for the mirrors to copy the last records after fencing, as a Go duration from `1s` to `" + agentapi.ShortDuration(agentapi.MaxDrainTimeout) + "`, such as `60s` or `5m`. " +
					"When it runs out the failover is aborted, the fence removed, and nothing flips. Default `60s`.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString("60s"),
				Validators: []validator.String{durationBetween(minDrainTimeout, agentapi.MaxDrainTimeout)},
			},
			"forget_diverged_on_destroy": schema.BoolAttribute{
				MarkdownDescription: "After a forced failover the old active cluster is *diverged*: it may hold records that never reached the new active one, and the policy is the only record of that. " +
					"While a cluster is diverged the agent refuses to delete the policy, so a destroy fails, until the cluster is reconciled (a `kafka_failover_reconciliation` quarantines its divergent tail and rebuilds it). " +
					"Set this to `true`, and apply, only when a diverged cluster will never come back and its unmirrored records may be forgotten: a destroy then deletes the policy anyway. Should the cluster come back after all, the agent mirrors nothing from or into it until its `kafka_cluster` is destroyed and declared again. Default `false`. Kept in Terraform state only.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the agent created the policy (RFC 3339).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"active": schema.StringAttribute{
				MarkdownDescription: "The cluster applications use now, as last refreshed. It is `primary` until a failover; only a failover (a `kafka_failover` resource, or the agent's API) changes it, never an update of this policy.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"epoch": schema.Int64Attribute{
				MarkdownDescription: "How many failovers the policy has been through, as last refreshed: `0` until the first one. Applications and fencing tokens use it to tell an old active cluster from the current one.",
				Computed:            true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *PolicyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig refuses a primary outside clusters as soon as both are
// known, before the agent is asked.
func (r *PolicyResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var primary types.String
	var clusters types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("primary"), &primary)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("clusters"), &clusters)...)
	if resp.Diagnostics.HasError() || primary.IsNull() || primary.IsUnknown() || clusters.IsNull() || clusters.IsUnknown() {
		return
	}
	for _, e := range clusters.Elements() {
		if e.IsUnknown() {
			return
		}
	}
	names := stringsOf(clusters)
	for _, c := range names {
		if c == primary.ValueString() {
			return
		}
	}
	resp.Diagnostics.AddAttributeError(path.Root("primary"), "Primary Is Not One Of The Clusters",
		fmt.Sprintf("primary is %q, which is not in clusters (%s). Set primary to the cluster applications use now, and list it in clusters.", primary.ValueString(), quoted(names)))
}

// ModifyPlan records the policy's name and clusters for the resources
// planned after it, and refuses at plan time a cluster or mirror that
// neither the agent nor this plan has.
func (r *PolicyResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan policyModel
	state := policyModel{Clusters: types.ListNull(types.StringType), Mirrors: types.ListNull(types.StringType)}
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if refuseSilentFlip(plan, state, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	planned := plannedPolicy{primary: plan.Primary.ValueString(), anew: req.State.Raw.IsNull() || !plan.Primary.Equal(state.Primary)}
	if !slices.ContainsFunc(plan.Clusters.Elements(), attr.Value.IsUnknown) {
		planned.clusters = stringsOf(plan.Clusters)
	}
	declare(r.client, policyKind, plan.Name, planned)
	mustExistAll(ctx, r.client, clusterKind, "clusters", plan.Clusters, state.Clusters, &resp.Diagnostics)
	mustExistAll(ctx, r.client, mirrorKind, "mirrors", plan.Mirrors, state.Mirrors, &resp.Diagnostics)
}

// refuseSilentFlip refuses a replacement of a policy that a failover moved
// away from its primary, when the new policy's primary is not the cluster
// active now: a new policy makes its primary active at once, so the
// applications would be sent to another cluster without a fence, a drain
// or a report. This is how renaming the primary while it is a standby
// looks. (Before any failover, replacing the policy re-creates what is.)
func refuseSilentFlip(plan, state policyModel, diags *diag.Diagnostics) {
	if state.Primary.IsNull() || plan.Primary.IsUnknown() || plan.Primary.Equal(state.Primary) {
		return
	}
	active := state.Active.ValueString()
	if active == "" || active == state.Primary.ValueString() || active == plan.Primary.ValueString() {
		return
	}
	diags.AddAttributeError(path.Root("primary"), "Replacing The Policy Would Move Applications Without A Failover",
		fmt.Sprintf("Changing primary from %q to %q replaces policy %q, and a new policy makes its primary active at once, "+
			"without a fence, a drain or a report. %q is active now (epoch %d, after a failover), so applications would leave it. "+
			"Set primary = %q in this change to keep them where they are, or fail back to %q first (kafka_failover active_cluster) and then rename.",
			state.Primary.ValueString(), plan.Primary.ValueString(), state.Name.ValueString(), active, state.Epoch.ValueInt64(),
			active, state.Primary.ValueString()))
}

func (r *PolicyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m policyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	r.put(ctx, m, &resp.Diagnostics, func(v policyModel) diag.Diagnostics { return resp.State.Set(ctx, v) }, "create")
}

func (r *PolicyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m policyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	r.put(ctx, m, &resp.Diagnostics, func(v policyModel) diag.Diagnostics { return resp.State.Set(ctx, v) }, "update")
}

func (r *PolicyResource) put(ctx context.Context, m policyModel, diags *diag.Diagnostics, set func(policyModel) diag.Diagnostics, verb string) {
	stored, err := r.client.PutPolicy(ctx, policyToAPI(m))
	if err != nil {
		agentDiag(diags, fmt.Sprintf("%s failover policy %q", verb, m.Name.ValueString()), err, policyAttrs, nil)
		return
	}
	v := policyFromAPI(stored)
	v.ForgetDivergedOnDestroy = m.ForgetDivergedOnDestroy
	diags.Append(set(v)...)
}

func (r *PolicyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m policyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	name := m.Name.ValueString()
	stored, err := r.client.GetPolicy(ctx, name)
	if agentclient.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read failover policy %q", name), err, policyAttrs, nil)
		return
	}
	v := policyFromAPI(stored)
	v.ForgetDivergedOnDestroy = m.ForgetDivergedOnDestroy
	if v.ForgetDivergedOnDestroy.IsNull() { // imported
		v.ForgetDivergedOnDestroy = types.BoolValue(false)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, v)...)
}

func (r *PolicyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m policyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	err := r.client.DeletePolicy(ctx, m.Name.ValueString(), m.ForgetDivergedOnDestroy.ValueBool())
	var e *agentclient.Error
	switch {
	case err == nil || agentclient.IsNotFound(err):
	case errors.As(err, &e) && e.Detail.Code == agentapi.CodeDiverged:
		resp.Diagnostics.AddAttributeError(path.Root("forget_diverged_on_destroy"), "A Diverged Cluster Keeps This Policy",
			fmt.Sprintf("Could not delete failover policy %q: %s.", m.Name.ValueString(), terraformTerms(e.Detail.Message)))
	default:
		agentDiag(&resp.Diagnostics, fmt.Sprintf("delete failover policy %q", m.Name.ValueString()), err, policyAttrs, nil)
	}
}

func (r *PolicyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}

// policyToAPI is the body of PUT /v1/policies/{name}: the agent sets the
// active cluster, the epoch and the other read-only fields itself.
func policyToAPI(m policyModel) agentapi.Policy {
	return agentapi.Policy{
		Name:          m.Name.ValueString(),
		Clusters:      stringsOf(m.Clusters),
		Primary:       m.Primary.ValueString(),
		Mirrors:       stringsOf(m.Mirrors),
		MaxLagRecords: m.MaxLagRecords.ValueInt64(),
		MaxLagSeconds: m.MaxLagSeconds.ValueInt64(),
		Fencing:       m.Fencing.ValueString(),
		DrainTimeout:  m.DrainTimeout.ValueString(),
	}
}

// policyFromAPI is the state of a policy as the agent answers it.
func policyFromAPI(a agentapi.Policy) policyModel {
	return policyModel{
		Name:          types.StringValue(a.Name),
		Clusters:      listOf(a.Clusters, types.ListNull(types.StringType)),
		Primary:       types.StringValue(a.Primary),
		Mirrors:       listOf(a.Mirrors, types.ListNull(types.StringType)),
		MaxLagRecords: types.Int64Value(a.MaxLagRecords),
		MaxLagSeconds: types.Int64Value(a.MaxLagSeconds),
		Fencing:       types.StringValue(a.Fencing),
		DrainTimeout:  types.StringValue(a.DrainTimeout),
		CreatedAt:     types.StringValue(a.CreatedAt.UTC().Format(time.RFC3339Nano)),
		Active:        types.StringValue(a.Active),
		Epoch:         types.Int64Value(a.Epoch),
	}
}
