package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

var (
	_ resource.ResourceWithConfigure      = &ReconciliationResource{}
	_ resource.ResourceWithModifyPlan     = &ReconciliationResource{}
	_ resource.ResourceWithImportState    = &ReconciliationResource{}
	_ resource.ResourceWithValidateConfig = &ReconciliationResource{}
)

// ReconciliationResource reconciles a cluster that a forced failover left
// behind: creating it is the agent's reverse request.
type ReconciliationResource struct {
	client *agentclient.Client
}

// NewReconciliationResource is the kafka_failover_reconciliation resource factory.
func NewReconciliationResource() resource.Resource { return &ReconciliationResource{} }

type reconciliationModel struct {
	Policy             types.String   `tfsdk:"policy"`
	Cluster            types.String   `tfsdk:"cluster"`
	RequestID          types.String   `tfsdk:"request_id"`
	ActiveCluster      types.String   `tfsdk:"active_cluster"`
	DivergedEpoch      types.Int64    `tfsdk:"diverged_epoch"`
	RecordsQuarantined types.Int64    `tfsdk:"records_quarantined"`
	QuarantineTopics   types.List     `tfsdk:"quarantine_topics"`
	CompletedAt        types.String   `tfsdk:"completed_at"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// reconcileTimeout bounds the reverse request by default: the agent gives
// the copy of the tail five minutes, and the rebuild starts after it.
const reconcileTimeout = 10 * time.Minute

func (r *ReconciliationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_failover_reconciliation"
}

func (r *ReconciliationResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reconciles a cluster that a forced failover left behind (*diverged*), once it is back. Creating the resource is the reconciliation, in one request to the agent:\n\n" +
			"1. the cluster's divergent tail, the records it holds that were never mirrored, is copied record for record to `<topic>.diverged` on the active cluster (nothing is dropped);\n" +
			"2. the cluster's mirrored topics are **deleted** and rebuilt from the active cluster by the policy's mirror from it, which must exist;\n" +
			"3. the cluster is a standby again: once that mirror has caught up, a `kafka_failover` can fail back to it.\n\n" +
			"`terraform plan` says so in a warning before anything happens. A cluster that diverges again later needs a new reconciliation (replace this resource). " +
			"Deleting the resource changes nothing: the quarantine topics stay until you delete them.\n\n" +
			"Import a reconciliation done outside Terraform, or kept after a lost state, with the ID `<policy>/<cluster>`: the cluster's latest reconciliation in the policy.",
		Attributes: map[string]schema.Attribute{
			"policy": schema.StringAttribute{
				MarkdownDescription: "Name of the `kafka_failover_policy` whose forced failover left `cluster` behind. Changing it replaces the resource: a new reconciliation.",
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"cluster": schema.StringAttribute{
				MarkdownDescription: "The diverged cluster to reconcile. Changing it replaces the resource: a new reconciliation.",
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"request_id":     computed("The request id sent to the agent: the same for every attempt at one reconciliation, so that a retried apply copies the tail once."),
			"active_cluster": computed("The active cluster the tail was quarantined on and the cluster was rebuilt from."),
			"diverged_epoch": schema.Int64Attribute{
				MarkdownDescription: "The epoch of the forced failover that left `cluster` behind; each quarantined record carries it in its `kfo.diverged.epoch` header.",
				Computed:            true,
			},
			"records_quarantined": schema.Int64Attribute{
				MarkdownDescription: "How many records of the divergent tail were copied to the quarantine topics.",
				Computed:            true,
			},
			"quarantine_topics": schema.ListAttribute{
				MarkdownDescription: "The `<topic>.diverged` topics on the active cluster that hold the tail (those with records or created for it), sorted.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"completed_at": computed("When the agent completed the reconciliation (RFC 3339)."),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, CreateDescription: "How long the reconciliation may take. Default `10m`."}),
		},
	}
}

func (r *ReconciliationResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	positiveTimeouts(ctx, req.Config, &resp.Diagnostics, "create")
}

func (r *ReconciliationResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// reconcileRequestID is the same for every attempt at one reconciliation:
// the policy's epoch only moves with a failover, and a cluster that
// diverges again does so with a new epoch.
func reconcileRequestID(policy, cluster string, epoch int64) string {
	return fmt.Sprintf("terraform-%s-reconcile-%s-at-epoch-%d", policy, cluster, epoch)
}

// ModifyPlan refuses, when the resource is to be created, a policy that does
// not exist or a cluster that is not one of its clusters, and warns what
// applying will do to the cluster: reviewers of the plan see that its
// topics are rebuilt.
func (r *ReconciliationResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || !req.State.Raw.IsNull() || r.client == nil {
		return
	}
	var m reconciliationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Policy.IsUnknown() || m.Cluster.IsUnknown() {
		return
	}
	if mustBeInPolicy(ctx, r.client, m.Policy, m.Cluster, "cluster", &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	p, err := r.client.GetPolicy(ctx, m.Policy.ValueString())
	if err != nil {
		return // the apply will say what is wrong
	}
	summary, detail := reconcileWarning(p, m.Cluster.ValueString())
	resp.Diagnostics.AddAttributeWarning(path.Root("cluster"), summary, detail)
}

// reconcileWarning says what reconciling cluster in policy p will do.
func reconcileWarning(p agentapi.Policy, cluster string) (string, string) {
	if !slices.Contains(p.Diverged, cluster) {
		return "Nothing To Reconcile Now", fmt.Sprintf("%s is not diverged in policy %s (diverged: %s): the agent will refuse to reconcile it.", cluster, p.Name, orNone(p.Diverged))
	}
	return "Reconciliation Rebuilds " + cluster, fmt.Sprintf("Applying will, on the agent:\n"+
		"  1. copy the records %s holds that were never mirrored (its divergent tail) to <topic>.diverged on %s, the active cluster;\n"+
		"  2. DELETE %s's mirrored topics and rebuild them from %s through the policy's mirror from %s to %s;\n"+
		"  3. make %s a standby of policy %s again.\n"+
		"%s must be reachable. Its consumers must not use it until a failover makes it active again.",
		cluster, p.Active, cluster, p.Active, p.Active, cluster, cluster, p.Name, cluster)
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func (r *ReconciliationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m reconciliationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	timeout, diags := m.Timeouts.Create(ctx, reconcileTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	name, cluster := m.Policy.ValueString(), m.Cluster.ValueString()
	p, err := r.client.GetPolicy(ctx, name)
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read failover policy %q", name), err, map[string]bool{}, nil)
		return
	}
	reqID := reconcileRequestID(name, cluster, p.Epoch)
	q, err := r.client.Reverse(ctx, name, agentapi.ReverseRequest{Cluster: cluster, RequestID: reqID}, timeout)
	if err != nil {
		what := fmt.Sprintf("reconcile %s in policy %q (request %s)", cluster, name, reqID)
		if ctx.Err() == nil && strings.Contains(err.Error(), "deadline exceeded") {
			resp.Diagnostics.AddAttributeError(path.Root("cluster"), "Reconciliation Timed Out",
				fmt.Sprintf("Could not %s within %s. The agent may still be at it: apply again (the same request id is sent, so the tail is copied once), or raise timeouts.create. Error: %v", what, timeout, err))
			return
		}
		agentDiag(&resp.Diagnostics, what, err, map[string]bool{"cluster": true}, nil)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, reconciliationFrom(q, m))...)
}

// reconciliationFrom is the state for the agent's quarantine q; prior
// holds the configuration.
func reconciliationFrom(q agentapi.Quarantine, prior reconciliationModel) reconciliationModel {
	var topics []string
	for _, p := range q.Partitions {
		topics = append(topics, p.QuarantineTopic)
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	prior.RequestID = types.StringValue(q.RequestID)
	prior.ActiveCluster = types.StringValue(q.Active)
	prior.DivergedEpoch = types.Int64Value(q.DivergedEpoch)
	prior.RecordsQuarantined = types.Int64Value(q.Records)
	prior.QuarantineTopics = listOf(topics, types.ListValueMust(types.StringType, nil))
	prior.CompletedAt = types.StringValue(q.CompletedAt.UTC().Format(time.RFC3339Nano))
	return prior
}

// Read keeps the state while the policy lists the reconciliation's
// quarantine, and refreshes it from there.
func (r *ReconciliationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m reconciliationModel
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
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read failover policy %q", name), err, map[string]bool{}, nil)
		return
	}
	if q, ok := quarantineOf(p, m); ok {
		resp.Diagnostics.Append(resp.State.Set(ctx, reconciliationFrom(q, m))...)
		return
	}
	if m.RequestID.IsNull() {
		// An import of a reconciliation that never happened: no such object.
		resp.State.RemoveResource(ctx)
		return
	}
	// A policy deleted and created again no longer knows it: what was done
	// stays done, and the state says so.
}

// quarantineOf is the policy's quarantine that m's reconciliation made; an
// import, which knows no request id yet, takes the cluster's latest.
func quarantineOf(p agentapi.Policy, m reconciliationModel) (agentapi.Quarantine, bool) {
	var found agentapi.Quarantine
	ok := false
	for _, q := range p.Quarantines {
		switch {
		case !m.RequestID.IsNull():
			if q.RequestID == m.RequestID.ValueString() {
				return q, true
			}
		case q.Cluster == m.Cluster.ValueString() && (!ok || q.DivergedEpoch > found.DivergedEpoch):
			found, ok = q, true
		}
	}
	return found, ok
}

// ImportState takes `<policy>/<cluster>`.
func (r *ReconciliationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	policy, cluster, ok := strings.Cut(req.ID, "/")
	if !ok || policy == "" || cluster == "" || strings.Contains(cluster, "/") {
		resp.Diagnostics.AddError("Invalid Import ID",
			fmt.Sprintf("Import a kafka_failover_reconciliation with the ID <policy>/<cluster>, for example loosehanger/north-america, not %q.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("policy"), policy)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster"), cluster)...)
}

// Update never runs: every configured attribute replaces the resource.
func (r *ReconciliationResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m reconciliationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

// Delete changes nothing on the clusters: the quarantine topics stay.
func (r *ReconciliationResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
