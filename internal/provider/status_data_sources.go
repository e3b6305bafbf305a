package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

var (
	_ datasource.DataSourceWithConfigure = &FailoverStatusDataSource{}
	_ datasource.DataSourceWithConfigure = &GroupOffsetsDataSource{}
)

// FailoverStatusDataSource reads where a policy's applications connect now
// and whether each standby could take over.
type FailoverStatusDataSource struct {
	client *agentclient.Client
}

// NewFailoverStatusDataSource is the kafka_failover_status factory.
func NewFailoverStatusDataSource() datasource.DataSource { return &FailoverStatusDataSource{} }

type failoverStatusModel struct {
	Policy                 types.String   `tfsdk:"policy"`
	ActiveCluster          types.String   `tfsdk:"active_cluster"`
	ActiveBootstrapServers []types.String `tfsdk:"active_bootstrap_servers"`
	Epoch                  types.Int64    `tfsdk:"epoch"`
	Diverged               []types.String `tfsdk:"diverged"`
	Standbys               []standbyModel `tfsdk:"standbys"`
	LastFailover           types.Object   `tfsdk:"last_failover"`
}

type lastFailoverModel struct {
	From                 types.String `tfsdk:"from"`
	To                   types.String `tfsdk:"to"`
	Mode                 types.String `tfsdk:"mode"`
	Epoch                types.Int64  `tfsdk:"epoch"`
	CompletedAt          types.String `tfsdk:"completed_at"`
	RecordsLost          types.Int64  `tfsdk:"records_lost"`
	SourceLastContact    types.String `tfsdk:"source_last_contact"`
	RecordsFoundOnReturn types.Int64  `tfsdk:"records_found_on_return"`
}

var lastFailoverTypes = map[string]attr.Type{
	"from": types.StringType, "to": types.StringType, "mode": types.StringType, "epoch": types.Int64Type, "completed_at": types.StringType,
	"records_lost": types.Int64Type, "source_last_contact": types.StringType, "records_found_on_return": types.Int64Type,
}

// lastFailoverValue is the policy's last completed failover, with what its
// report knew then and what the quarantine found on return.
func lastFailoverValue(ctx context.Context, f *agentapi.Failover, diags *diag.Diagnostics) types.Object {
	if f == nil {
		return types.ObjectNull(lastFailoverTypes)
	}
	m := lastFailoverModel{From: types.StringValue(f.From), To: types.StringValue(f.To), Mode: types.StringValue(f.Mode),
		Epoch: types.Int64Value(f.Epoch), CompletedAt: timeValue(f.CompletedAt),
		RecordsLost: types.Int64Null(), SourceLastContact: types.StringNull(), RecordsFoundOnReturn: types.Int64Null()}
	if r := f.Report; r != nil {
		m.RecordsLost = types.Int64Value(r.RecordsLost)
		if r.SourceLastContact != nil {
			m.SourceLastContact = timeValue(*r.SourceLastContact)
		}
		if r.RecordsFoundOnReturn != nil {
			m.RecordsFoundOnReturn = types.Int64Value(*r.RecordsFoundOnReturn)
		}
	}
	v, d := types.ObjectValueFrom(ctx, lastFailoverTypes, m)
	diags.Append(d...)
	return v
}

type standbyModel struct {
	Cluster    types.String `tfsdk:"cluster"`
	Ready      types.Bool   `tfsdk:"ready"`
	LagRecords types.Int64  `tfsdk:"lag_records"`
	LagSeconds types.Int64  `tfsdk:"lag_seconds"`
	Reason     types.String `tfsdk:"reason"`
}

func (d *FailoverStatusDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_failover_status"
}

func (d *FailoverStatusDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Where a failover policy's applications connect now, and whether each standby could take over: the numbers to look at before changing `active_cluster` of a `kafka_failover`.\n\n" +
			"Terraform reads a data source during the plan, before the apply, so in the apply that fails over it would show the cluster active before the failover. " +
			"Add `depends_on = [kafka_failover.<name>]`: Terraform then reads it after the `kafka_failover` changed, and its values (and outputs made from them) are those after the failover. " +
			"`kafka_failover`'s own `active_bootstrap_servers`, `epoch` and `report` are fresh after the apply as well.",
		Attributes: map[string]schema.Attribute{
			"policy": schema.StringAttribute{
				MarkdownDescription: "Name of the `kafka_failover_policy`.",
				Required:            true,
				Validators:          []validator.String{validName()},
			},
			"active_cluster": schema.StringAttribute{
				MarkdownDescription: "The cluster applications use now.",
				Computed:            true,
			},
			"active_bootstrap_servers": schema.ListAttribute{
				MarkdownDescription: "Bootstrap servers of the active cluster: where producers and consumers connect now.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"epoch": schema.Int64Attribute{
				MarkdownDescription: "How many failovers the policy has been through.",
				Computed:            true,
			},
			"diverged": schema.ListAttribute{
				MarkdownDescription: "Clusters left behind by a forced failover: they may hold records that were never mirrored, nothing is mirrored into them and no failover can go back to them until those records are reconciled.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"standbys": schema.ListNestedAttribute{
				MarkdownDescription: "Per standby cluster: whether a planned failover to it would be accepted now.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"cluster":     schema.StringAttribute{MarkdownDescription: "The standby cluster.", Computed: true},
					"ready":       schema.BoolAttribute{MarkdownDescription: "The mirrors into it are running, their lag is within the policy's `max_lag_records` and `max_lag_seconds`, and their checkpoints are fresh.", Computed: true},
					"lag_records": schema.Int64Attribute{MarkdownDescription: "Records on the active cluster not yet mirrored into it: what a forced failover now would lose.", Computed: true},
					"lag_seconds": schema.Int64Attribute{MarkdownDescription: "Age in seconds of the oldest record not yet mirrored into it.", Computed: true},
					"reason":      schema.StringAttribute{MarkdownDescription: "Why it is not ready; empty when it is.", Computed: true},
				}},
			},
			"last_failover": schema.SingleNestedAttribute{
				MarkdownDescription: "The policy's last failover; null while it has never failed over.",
				Computed:            true,
				Attributes: map[string]schema.Attribute{
					"from":                    schema.StringAttribute{MarkdownDescription: "The cluster that was active before.", Computed: true},
					"to":                      schema.StringAttribute{MarkdownDescription: "The cluster that became active.", Computed: true},
					"mode":                    schema.StringAttribute{MarkdownDescription: "`planned` or `forced`.", Computed: true},
					"epoch":                   schema.Int64Attribute{MarkdownDescription: "The epoch the failover made.", Computed: true},
					"completed_at":            schema.StringAttribute{MarkdownDescription: "When it completed (RFC 3339).", Computed: true},
					"records_lost":            schema.Int64Attribute{MarkdownDescription: "Records known at the failover to be on the old active cluster and never mirrored: exact as of `source_last_contact`.", Computed: true},
					"source_last_contact":     schema.StringAttribute{MarkdownDescription: "When the old active cluster last answered the agent before the failover (RFC 3339).", Computed: true},
					"records_found_on_return": schema.Int64Attribute{MarkdownDescription: "After a forced failover: the records the old active cluster turned out to hold that were never mirrored, counted one by one when it returned and its tail was quarantined (`kafka_failover_reconciliation`). The final figure; null until then.", Computed: true},
				},
			},
		},
	}
}

func (d *FailoverStatusDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *FailoverStatusDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m failoverStatusModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(d.client, &resp.Diagnostics) {
		return
	}
	name := m.Policy.ValueString()
	p, err := d.client.GetPolicy(ctx, name)
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read failover policy %q", name), err, map[string]bool{"policy": true}, nil)
		return
	}
	m.ActiveCluster = types.StringValue(p.Active)
	m.ActiveBootstrapServers = stringValues(p.ActiveBootstrapServers)
	m.Epoch = types.Int64Value(p.Epoch)
	m.Diverged = stringValues(p.Diverged)
	m.Standbys = []standbyModel{}
	for _, s := range p.Standbys {
		m.Standbys = append(m.Standbys, standbyModel{
			Cluster: types.StringValue(s.Cluster), Ready: types.BoolValue(s.Ready), LagRecords: types.Int64Value(s.LagRecords),
			LagSeconds: types.Int64Value(s.LagSeconds), Reason: types.StringValue(terraformTerms(s.Reason)),
		})
	}
	m.LastFailover = lastFailoverValue(ctx, p.LastFailover, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func stringValues(vs []string) []types.String {
	out := make([]types.String, 0, len(vs))
	for _, v := range vs {
		out = append(out, types.StringValue(v))
	}
	return out
}

// GroupOffsetsDataSource reads a consumer group's translated offsets.
type GroupOffsetsDataSource struct {
	client *agentclient.Client
}

// NewGroupOffsetsDataSource is the kafka_consumer_group_offsets factory.
func NewGroupOffsetsDataSource() datasource.DataSource { return &GroupOffsetsDataSource{} }

type groupOffsetsModel struct {
	Mirror             types.String           `tfsdk:"mirror"`
	Group              types.String           `tfsdk:"group"`
	Checkpointed       types.Bool             `tfsdk:"checkpointed"`
	RecordsNotMirrored types.Int64            `tfsdk:"records_not_mirrored"`
	LastError          types.String           `tfsdk:"last_error"`
	Partitions         []groupPartitionOffset `tfsdk:"partitions"`
}

type groupPartitionOffset struct {
	Topic              types.String `tfsdk:"topic"`
	TargetTopic        types.String `tfsdk:"target_topic"`
	Partition          types.Int64  `tfsdk:"partition"`
	SourceOffset       types.Int64  `tfsdk:"source_offset"`
	TargetOffset       types.Int64  `tfsdk:"target_offset"`
	RecordsNotMirrored types.Int64  `tfsdk:"records_not_mirrored"`
	Exact              types.Bool   `tfsdk:"exact"`
	CheckpointedAt     types.String `tfsdk:"checkpointed_at"`
	Synced             types.Bool   `tfsdk:"synced"`
}

func (d *GroupOffsetsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_consumer_group_offsets"
}

func (d *GroupOffsetsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A consumer group's last checkpoint through a mirror: per partition, the offset it committed on the source, the exact offset where it resumes on the target after a failover, " +
			"and the records it has read that are not on the target yet (what it would miss after a failover now).",
		Attributes: map[string]schema.Attribute{
			"mirror": schema.StringAttribute{
				MarkdownDescription: "Name of the `kafka_mirror` whose `groups` include the group.",
				Required:            true,
				Validators:          []validator.String{validName()},
			},
			"group": schema.StringAttribute{
				MarkdownDescription: "The consumer group, as named on the source cluster.",
				Required:            true,
			},
			"checkpointed": schema.BoolAttribute{
				MarkdownDescription: "Whether the mirror has checkpointed the group. `false` is a normal state, not an error: before the group's first checkpoint (a new mirror, a group that has committed nothing yet on the mirrored topics), " +
					"after a mirror update and after a failover (the new active cluster is not mirrored yet); `partitions` is then empty and `last_error` says why.",
				Computed: true,
			},
			"records_not_mirrored": schema.Int64Attribute{
				MarkdownDescription: "Records the group has read on the source that are not on the target yet, summed over partitions.",
				Computed:            true,
			},
			"last_error": schema.StringAttribute{
				MarkdownDescription: "The last error checkpointing the group, retried every `checkpoint_interval`; empty when the last round worked. When `checkpointed` is false, why there is no checkpoint yet.",
				Computed:            true,
			},
			"partitions": schema.ListNestedAttribute{
				MarkdownDescription: "Per partition of the group on the mirrored topics.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"topic":                schema.StringAttribute{MarkdownDescription: "The topic on the source cluster.", Computed: true},
					"target_topic":         schema.StringAttribute{MarkdownDescription: "The topic on the target cluster.", Computed: true},
					"partition":            schema.Int64Attribute{MarkdownDescription: "The partition number.", Computed: true},
					"source_offset":        schema.Int64Attribute{MarkdownDescription: "The group's committed offset on the source: the next record it would read there.", Computed: true},
					"target_offset":        schema.Int64Attribute{MarkdownDescription: "Where the group resumes on the target to read exactly the records it has not read yet.", Computed: true},
					"records_not_mirrored": schema.Int64Attribute{MarkdownDescription: "Records the group read on the source that are not on the target yet.", Computed: true},
					"exact":                schema.BoolAttribute{MarkdownDescription: "`records_not_mirrored` is exact rather than an upper bound (offsets not yet mirrored may be transaction markers).", Computed: true},
					"checkpointed_at":      schema.StringAttribute{MarkdownDescription: "When the agent last confirmed this checkpoint (RFC 3339).", Computed: true},
					"synced":               schema.BoolAttribute{MarkdownDescription: "The translated offset is committed to the group on the target.", Computed: true},
				}},
			},
		},
	}
}

func (d *GroupOffsetsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *GroupOffsetsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m groupOffsetsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(d.client, &resp.Diagnostics) {
		return
	}
	mirror, group := m.Mirror.ValueString(), m.Group.ValueString()
	g, err := d.client.GroupCheckpoints(ctx, mirror, group)
	var ae *agentclient.Error
	if errors.As(err, &ae) && ae.Detail.Code == agentapi.CodeNotCheckpointed {
		m.Checkpointed, m.RecordsNotMirrored, m.LastError = types.BoolValue(false), types.Int64Value(0), types.StringValue(terraformTerms(ae.Detail.Message))
		m.Partitions = []groupPartitionOffset{}
		resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
		return
	}
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read the checkpoints of group %q through mirror %q", group, mirror), err, map[string]bool{"mirror": true, "group": true}, nil)
		return
	}
	m.Checkpointed = types.BoolValue(true)
	m.RecordsNotMirrored = types.Int64Value(g.RecordsNotMirrored)
	m.LastError = types.StringValue(g.LastError)
	m.Partitions = []groupPartitionOffset{}
	for _, p := range g.Partitions {
		m.Partitions = append(m.Partitions, groupPartitionOffset{
			Topic: types.StringValue(p.Topic), TargetTopic: types.StringValue(p.TargetTopic), Partition: types.Int64Value(int64(p.Partition)),
			SourceOffset: types.Int64Value(p.SourceOffset), TargetOffset: types.Int64Value(p.TargetOffset),
			RecordsNotMirrored: types.Int64Value(p.NotMirrored), Exact: types.BoolValue(p.Exact),
			CheckpointedAt: types.StringValue(p.CheckpointedAt.UTC().Format(time.RFC3339Nano)), Synced: types.BoolValue(p.Synced),
		})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}
