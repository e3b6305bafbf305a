package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

var (
	_ resource.ResourceWithConfigure      = &MirrorResource{}
	_ resource.ResourceWithImportState    = &MirrorResource{}
	_ resource.ResourceWithValidateConfig = &MirrorResource{}
	_ resource.ResourceWithModifyPlan     = &MirrorResource{}
)

// MirrorResource copies matching topics from one cluster to another,
// exactly once.
type MirrorResource struct {
	client *agentclient.Client
}

// NewMirrorResource is the kafka_mirror resource factory.
func NewMirrorResource() resource.Resource { return &MirrorResource{} }

type mirrorModel struct {
	Name               types.String   `tfsdk:"name"`
	Source             types.String   `tfsdk:"source"`
	Target             types.String   `tfsdk:"target"`
	Topics             *selectorModel `tfsdk:"topics"`
	Groups             *selectorModel `tfsdk:"groups"`
	ReplicationPolicy  types.String   `tfsdk:"replication_policy"`
	StartFrom          types.String   `tfsdk:"start_from"`
	ReplicationFactor  types.Int64    `tfsdk:"replication_factor"`
	SyncTopicConfigs   types.Bool     `tfsdk:"sync_topic_configs"`
	RefreshInterval    types.String   `tfsdk:"refresh_interval"`
	TasksMax           types.Int64    `tfsdk:"tasks_max"`
	CheckpointInterval types.String   `tfsdk:"checkpoint_interval"`
	SyncGroupOffsets   types.Bool     `tfsdk:"sync_group_offsets"`
	SyncACLs           types.Bool     `tfsdk:"sync_acls"`
	CreatedAt          types.String   `tfsdk:"created_at"`
	State              types.String   `tfsdk:"state"`
	LagRecords         types.Int64    `tfsdk:"lag_records"`
}

type selectorModel struct {
	Include types.List `tfsdk:"include"`
	Exclude types.List `tfsdk:"exclude"`
}

var mirrorAttrs = map[string]bool{
	"name": true, "source": true, "target": true, "topics": true, "groups": true, "replication_policy": true,
	"start_from": true, "replication_factor": true, "sync_topic_configs": true, "refresh_interval": true, "tasks_max": true,
	"checkpoint_interval": true, "sync_group_offsets": true, "sync_acls": true,
}

// Checkpoint intervals the agent accepts.
const (
	minCheckpointInterval = 100 * time.Millisecond
	maxCheckpointInterval = time.Hour
)

func (r *MirrorResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_mirror"
}

func (r *MirrorResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = mirrorSchema()
}

func quoted(vs []string) string { return "`" + strings.Join(vs, "`, `") + "`" }

func selectorAttrs(what, example string, includeRequired bool) map[string]schema.Attribute {
	include := schema.ListAttribute{
		MarkdownDescription: fmt.Sprintf("Regular expressions (RE2) of the %s to include; each must match the whole name, for example `%s`.", what, example),
		ElementType:         types.StringType,
		Validators:          []validator.List{listvalidator.ValueStringsAre(validRegexp())},
	}
	if includeRequired {
		include.Required = true
		include.Validators = append(include.Validators, listvalidator.SizeAtLeast(1))
	} else {
		include.Optional = true
	}
	return map[string]schema.Attribute{
		"include": include,
		"exclude": schema.ListAttribute{
			MarkdownDescription: fmt.Sprintf("Regular expressions (RE2) of %s to leave out even when included.", what),
			Optional:            true,
			ElementType:         types.StringType,
			Validators:          []validator.List{listvalidator.ValueStringsAre(validRegexp())},
		},
	}
}

func mirrorSchema() schema.Schema {
	fixed := " It cannot change on an existing mirror: changing it replaces the mirror."
	// A mirror created again under its name into its target resumes from
	// the offset syncs it left there (see ModifyPlan).
	renamed := fixed + " Give the mirror a new `name` in the same change unless `target` changes too: the offset syncs the old mirror left on its target fit only its source and topic names."
	return schema.Schema{
		MarkdownDescription: "A mirror copies the matching topics of a `source` cluster to a `target` cluster exactly once: " +
			"same partitions, keys, values, headers and timestamps, with the exact target offset of every source offset recorded.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				MarkdownDescription: "The mirror's name. Letters, digits, `.`, `_` and `-`, at most 100. Changing it replaces the mirror.",
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"source": schema.StringAttribute{
				MarkdownDescription: "Name of the `kafka_cluster` to copy from." + renamed,
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"target": schema.StringAttribute{
				MarkdownDescription: "Name of the `kafka_cluster` to copy to; must differ from `source`." + fixed,
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"topics": schema.SingleNestedAttribute{
				MarkdownDescription: "Which source topics to mirror. Internal topics (`__*`) are never mirrored.",
				Required:            true,
				Attributes:          selectorAttrs("topics", `LH\\..*`, true),
			},
			"groups": schema.SingleNestedAttribute{
				MarkdownDescription: "Which consumer groups of the source the mirror checkpoints: every `checkpoint_interval` the agent translates their committed offsets on the mirrored topics to exact target offsets and stores them on the target, where the groups resume from after a failover. Leave it out to checkpoint no group.",
				Optional:            true,
				Attributes:          selectorAttrs("consumer groups", `consumer-.*`, false),
			},
			"replication_policy": schema.StringAttribute{
				MarkdownDescription: "How a source topic is named on the target: `identity` keeps the name, `prefix` writes `<source>.<topic>`. One of " +
					quoted(agentapi.ReplicationPolicies) + ". Default `" + agentapi.ReplicationIdentity + "`." + renamed,
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString(agentapi.ReplicationIdentity),
				Validators:    []validator.String{stringvalidator.OneOf(agentapi.ReplicationPolicies...)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"start_from": schema.StringAttribute{
				MarkdownDescription: "Where partitions the mirror has never copied start: `earliest` copies the whole log, `latest` copies records with a timestamp from the mirror's creation on. One of " +
					quoted(agentapi.StartFroms) + ". Default `" + agentapi.StartEarliest + "`.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(agentapi.StartEarliest),
				Validators: []validator.String{stringvalidator.OneOf(agentapi.StartFroms...)},
			},
			"replication_factor": schema.Int64Attribute{
				MarkdownDescription: "Replication factor of the topics the mirror creates on the target. Default `0`: the target cluster's default.",
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(0),
				Validators:          []validator.Int64{int64validator.Between(0, 32767)},
			},
			"sync_topic_configs": schema.BoolAttribute{
				MarkdownDescription: "Keep the target topics' configs the source topics' configs: each config set on a source topic is set on its target topic within `refresh_interval`, and one the source no longer sets is reset to the target's default. Configs that belong to one cluster are left alone on both sides: `min.insync.replicas`, `unclean.leader.election.enable` and the replication throttles. Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"refresh_interval": schema.StringAttribute{
				MarkdownDescription: "How soon the mirror picks up what appears on the source, as a Go duration from `1s` to `" + agentapi.ShortDuration(agentapi.MaxRefreshInterval) + "`: a new matching topic or partition is copying, and a new selected group has its first checkpoint, within `refresh_interval` of its creation or first commit (the agent looks at the source's topics and groups every quarter of it). Target topic configs and ACLs are synced every `refresh_interval`. Default `" + agentapi.DefaultRefreshInterval.String() + "`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(agentapi.DefaultRefreshInterval.String()),
				Validators:          []validator.String{durationBetween(time.Second, agentapi.MaxRefreshInterval)},
			},
			"tasks_max": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("How many tasks share the mirror's partitions, 1 to 1024. Default `%d`. ", agentapi.DefaultTasksMax) +
					"Changing it updates the mirror in place: each partition resumes where it stands under its new task, and nothing is copied twice.",
				Optional:   true,
				Computed:   true,
				Default:    int64default.StaticInt64(agentapi.DefaultTasksMax),
				Validators: []validator.Int64{int64validator.Between(1, 1024)},
			},
			"checkpoint_interval": schema.StringAttribute{
				MarkdownDescription: "How often the agent reads the committed offsets of the `groups` on the source, translates them to target offsets and stores them on the target, as a Go duration from `" +
					agentapi.ShortDuration(minCheckpointInterval) + "` to `" + agentapi.ShortDuration(maxCheckpointInterval) + "`. After a failover a group re-reads on the target what it committed on the source since its last checkpoint: " +
					"a shorter interval means fewer records read twice, at the cost of more offset requests to both clusters. Default `" +
					agentapi.ShortDuration(agentapi.DefaultCheckpointInterval) + "`.",
				Optional:   true,
				Computed:   true,
				Default:    stringdefault.StaticString(agentapi.DefaultCheckpointInterval.String()),
				Validators: []validator.String{durationBetween(minCheckpointInterval, maxCheckpointInterval)},
			},
			"sync_group_offsets": schema.BoolAttribute{
				MarkdownDescription: "Commit the translated offsets to the same consumer groups on the target, so that consumers started there resume where they stopped on the source. " +
					"Offsets are committed only to groups that are idle on the target: a group with live members there is never touched, and a group's offset moves backwards only when the group itself was moved back on the source (a deliberate reset, which the target follows), never on the agent's own account. " +
					"With `false` the checkpoints are still stored on the target, and the groups there are left alone. Default `true`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
			},
			"sync_acls": schema.BoolAttribute{
				MarkdownDescription: "Copy the source's ACLs of the mirrored topics (literal and prefixed, topic names mapped by `replication_policy`) and of the selected groups to the target, every `refresh_interval`; an ACL removed on the source is removed on the target. " +
					"Read, Describe and group ACLs apply on the target at once; Write and the other mutating operations (Create, Delete, Alter, AlterConfigs, IdempotentWrite, All) are held by the agent and applied by a failover to the target before the flip, so the standby takes no application writes until it is active. " +
					"The agent records the ACLs it made in its state topic and changes only those: ACLs made on the target by hand are left alone, and the agent's own fence ACLs are never copied. " +
					"The agent's user needs Describe on the cluster of the source and Describe and Alter on the cluster of the target; what fails is reported per ACL in the mirror's status and never stops the mirror. Default `true`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the agent created the mirror (RFC 3339). `start_from = \"latest\"` counts from here.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"state": schema.StringAttribute{
				MarkdownDescription: "The mirror's state as last refreshed: `" + agentapi.MirrorStarting + "`, `" + agentapi.MirrorRunning + "`, `" + agentapi.MirrorFailed + "` or `" + agentapi.MirrorStopped + "` (a failover stopped it).",
				Computed:            true,
			},
			"lag_records": schema.Int64Attribute{
				MarkdownDescription: "Records produced on the source and not yet mirrored, summed over partitions, as last refreshed.",
				Computed:            true,
			},
		},
	}
}

func (r *MirrorResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig refuses a mirror from a cluster to itself as soon as both
// names are known, before the agent is asked.
func (r *MirrorResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var source, target types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("source"), &source)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("target"), &target)...)
	if resp.Diagnostics.HasError() || source.IsNull() || source.IsUnknown() || target.IsNull() || target.IsUnknown() {
		return
	}
	if source.ValueString() == target.ValueString() {
		resp.Diagnostics.AddAttributeError(path.Root("target"), "Mirror Target Is Its Source",
			fmt.Sprintf("source and target are both the cluster %q: a mirror copies from one cluster to another. Set target to the name of the standby cluster the records are copied to.", source.ValueString()))
	}
}

// ModifyPlan refuses at plan time a source or target cluster that does not
// exist, and a replacement the agent would refuse only after the old mirror
// is deleted: a mirror created again under the same name into the same
// target resumes from the offset syncs the old one left there, which fit
// only the same source and replication policy.
func (r *MirrorResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, state mirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	created := req.State.Raw.IsNull()
	if !created {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	declare(r.client, mirrorKind, plan.Name, struct{}{})
	if changed(plan.Source, state.Source, created) {
		mustExist(ctx, r.client, clusterKind, plan.Source.ValueString(), path.Root("source"), &resp.Diagnostics)
	}
	if changed(plan.Target, state.Target, created) {
		mustExist(ctx, r.client, clusterKind, plan.Target.ValueString(), path.Root("target"), &resp.Diagnostics)
	}
	if created || !plan.Name.Equal(state.Name) || !plan.Target.Equal(state.Target) {
		return
	}
	for _, c := range []struct {
		attr    string
		was, is types.String
	}{{"source", state.Source, plan.Source}, {"replication_policy", state.ReplicationPolicy, plan.ReplicationPolicy}} {
		if c.is.IsUnknown() || c.is.Equal(c.was) {
			continue
		}
		resp.Diagnostics.AddAttributeError(path.Root(c.attr), "Mirror Needs A New Name",
			fmt.Sprintf("Changing %s replaces mirror %s. The mirror created again under the same name into %s would resume from the offset syncs the old one left there, which describe its copy with %s %s, so the agent refuses it (409) after the old mirror is deleted. Give the mirror a new name in the same change.",
				c.attr, state.Name.ValueString(), state.Target.ValueString(), c.attr, c.was.ValueString()))
	}
}

func (r *MirrorResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m mirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	r.put(ctx, m, &resp.Diagnostics, func(v mirrorModel) diag.Diagnostics { return resp.State.Set(ctx, v) }, "create")
}

func (r *MirrorResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m mirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	r.put(ctx, m, &resp.Diagnostics, func(v mirrorModel) diag.Diagnostics { return resp.State.Set(ctx, v) }, "update")
}

func (r *MirrorResource) put(ctx context.Context, m mirrorModel, diags *diag.Diagnostics, set func(mirrorModel) diag.Diagnostics, verb string) {
	stored, err := r.client.PutMirror(ctx, mirrorToAPI(m))
	if err != nil {
		agentDiag(diags, fmt.Sprintf("%s mirror %q", verb, m.Name.ValueString()), err, mirrorAttrs, nil)
		return
	}
	st, err := r.client.MirrorStatus(ctx, stored.Name)
	if err != nil {
		// The mirror is stored; its status shows on the next refresh.
		st = agentapi.MirrorStatus{State: agentapi.MirrorStarting}
	}
	diags.Append(set(mirrorFromAPI(stored, st, m))...)
}

func (r *MirrorResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m mirrorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	name := m.Name.ValueString()
	stored, err := r.client.GetMirror(ctx, name)
	if agentclient.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read mirror %q", name), err, mirrorAttrs, nil)
		return
	}
	st, err := r.client.MirrorStatus(ctx, name)
	if err != nil && !agentclient.IsNotFound(err) {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read the status of mirror %q", name), err, mirrorAttrs, nil)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, mirrorFromAPI(stored, st, m))...)
}

func (r *MirrorResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m mirrorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	err := r.client.DeleteMirror(ctx, m.Name.ValueString())
	if err != nil && !agentclient.IsNotFound(err) {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("delete mirror %q", m.Name.ValueString()), err, mirrorAttrs, nil)
	}
}

func (r *MirrorResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}

// mirrorToAPI is the body of PUT /v1/mirrors/{name}.
func mirrorToAPI(m mirrorModel) agentapi.Mirror {
	out := agentapi.Mirror{
		Name:               m.Name.ValueString(),
		Source:             m.Source.ValueString(),
		Target:             m.Target.ValueString(),
		ReplicationPolicy:  m.ReplicationPolicy.ValueString(),
		StartFrom:          m.StartFrom.ValueString(),
		ReplicationFactor:  int16(m.ReplicationFactor.ValueInt64()),
		SyncTopicConfigs:   m.SyncTopicConfigs.ValueBool(),
		RefreshInterval:    m.RefreshInterval.ValueString(),
		TasksMax:           int(m.TasksMax.ValueInt64()),
		CheckpointInterval: m.CheckpointInterval.ValueString(),
	}
	if !m.SyncGroupOffsets.IsNull() && !m.SyncGroupOffsets.IsUnknown() {
		sync := m.SyncGroupOffsets.ValueBool()
		out.SyncGroupOffsets = &sync
	}
	if !m.SyncACLs.IsNull() && !m.SyncACLs.IsUnknown() {
		sync := m.SyncACLs.ValueBool()
		out.SyncACLs = &sync
	}
	if m.Topics != nil {
		out.Topics = agentapi.Selector{Include: stringsOf(m.Topics.Include), Exclude: stringsOf(m.Topics.Exclude)}
	}
	if m.Groups != nil {
		out.Groups = agentapi.Selector{Include: stringsOf(m.Groups.Include), Exclude: stringsOf(m.Groups.Exclude)}
	}
	return out
}

// mirrorFromAPI is the state of a mirror as the agent answers it; prior
// (the plan or the previous state) only decides between null and empty.
func mirrorFromAPI(a agentapi.Mirror, st agentapi.MirrorStatus, prior mirrorModel) mirrorModel {
	m := mirrorModel{
		Name:               types.StringValue(a.Name),
		Source:             types.StringValue(a.Source),
		Target:             types.StringValue(a.Target),
		Topics:             selectorFromAPI(a.Topics, prior.Topics, true),
		Groups:             selectorFromAPI(a.Groups, prior.Groups, false),
		ReplicationPolicy:  types.StringValue(a.ReplicationPolicy),
		StartFrom:          types.StringValue(a.StartFrom),
		ReplicationFactor:  types.Int64Value(int64(a.ReplicationFactor)),
		SyncTopicConfigs:   types.BoolValue(a.SyncTopicConfigs),
		RefreshInterval:    types.StringValue(a.RefreshInterval),
		TasksMax:           types.Int64Value(int64(a.TasksMax)),
		CheckpointInterval: types.StringValue(a.CheckpointInterval),
		SyncGroupOffsets:   types.BoolValue(a.SyncGroupOffsets == nil || *a.SyncGroupOffsets),
		SyncACLs:           types.BoolValue(a.SyncACLs == nil || *a.SyncACLs),
		CreatedAt:          types.StringValue(a.CreatedAt.UTC().Format(time.RFC3339Nano)),
		State:              types.StringValue(st.State),
		LagRecords:         types.Int64Value(st.LagRecords),
	}
	if st.State == "" {
		m.State = types.StringValue(agentapi.MirrorStarting)
	}
	// The agent fills in its defaults; an answer without them means them too.
	if a.CheckpointInterval == "" {
		m.CheckpointInterval = types.StringValue(agentapi.DefaultCheckpointInterval.String())
	}
	return m
}

// selectorFromAPI keeps an optional selector null when the agent answers it
// empty and the configuration left it out.
func selectorFromAPI(s agentapi.Selector, prior *selectorModel, required bool) *selectorModel {
	if !required && prior == nil && len(s.Include) == 0 && len(s.Exclude) == 0 {
		return nil
	}
	var pInc, pExc types.List
	if prior != nil {
		pInc, pExc = prior.Include, prior.Exclude
	} else {
		pInc, pExc = types.ListNull(types.StringType), types.ListNull(types.StringType)
	}
	return &selectorModel{Include: listOf(s.Include, pInc), Exclude: listOf(s.Exclude, pExc)}
}
