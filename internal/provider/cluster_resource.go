package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

var (
	_ resource.ResourceWithConfigure   = &ClusterResource{}
	_ resource.ResourceWithImportState = &ClusterResource{}
	_ resource.ResourceWithModifyPlan  = &ClusterResource{}
)

// ClusterResource is a Kafka cluster the agent can reach.
type ClusterResource struct {
	client *agentclient.Client
}

// NewClusterResource is the kafka_cluster resource factory.
func NewClusterResource() resource.Resource { return &ClusterResource{} }

type clusterModel struct {
	Name             types.String `tfsdk:"name"`
	BootstrapServers types.List   `tfsdk:"bootstrap_servers"`
	SASL             *saslModel   `tfsdk:"sasl"`
	TLS              *tlsModel    `tfsdk:"tls"`
}

type saslModel struct {
	Mechanism         types.String `tfsdk:"mechanism"`
	Username          types.String `tfsdk:"username"`
	Password          types.String `tfsdk:"password"`
	PasswordWO        types.String `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
}

type tlsModel struct {
	CAPEM              types.String `tfsdk:"ca_pem"`
	CertPEM            types.String `tfsdk:"cert_pem"`
	KeyPEM             types.String `tfsdk:"key_pem"`
	KeyPEMWO           types.String `tfsdk:"key_pem_wo"`
	KeyPEMWOVersion    types.Int64  `tfsdk:"key_pem_wo_version"`
	InsecureSkipVerify types.Bool   `tfsdk:"insecure_skip_verify"`
}

func (r *ClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (r *ClusterResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = clusterSchema()
}

// clusterAttrs are the top-level attributes an agent error may name.
var clusterAttrs = map[string]bool{"name": true, "bootstrap_servers": true, "sasl": true, "tls": true}

func clusterSchema() schema.Schema {
	mechanisms := "`" + strings.Join(agentapi.SASLMechanisms, "`, `") + "`"
	return schema.Schema{
		MarkdownDescription: "A Kafka cluster the agent can reach: its brokers and how to authenticate. " +
			"Mirrors name clusters as their `source` and `target`. Secrets are sent to the agent, which stores them encrypted and never returns them.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				MarkdownDescription: "The cluster's name, used by mirrors. Letters, digits, `.`, `_` and `-`, at most 100. Changing it replaces the cluster.",
				Required:            true,
				Validators:          []validator.String{validName()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"bootstrap_servers": schema.ListAttribute{
				MarkdownDescription: "Broker addresses as `host:port`, at least one, for example `[\"kafka-1:9092\", \"kafka-2:9092\"]`.",
				Required:            true,
				ElementType:         types.StringType,
				Validators: []validator.List{
					listvalidator.SizeAtLeast(1),
					listvalidator.ValueStringsAre(hostPort()),
				},
			},
			"sasl": schema.SingleNestedAttribute{
				MarkdownDescription: "SASL authentication. Give the password with `password_wo` (Terraform 1.11 and later: never stored in state) or, failing that, `password` (stored in state, marked sensitive).",
				Optional:            true,
				Validators:          []validator.Object{saslPassword{}},
				Attributes: map[string]schema.Attribute{
					"mechanism": schema.StringAttribute{
						MarkdownDescription: "The SASL mechanism: one of " + mechanisms + ".",
						Required:            true,
						Validators:          []validator.String{stringvalidator.OneOf(agentapi.SASLMechanisms...)},
					},
					"username": schema.StringAttribute{
						MarkdownDescription: "The user the agent authenticates as.",
						Required:            true,
						Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"password": schema.StringAttribute{
						MarkdownDescription: "The user's password. It is kept in Terraform state (marked sensitive); prefer `password_wo`.",
						Optional:            true,
						Sensitive:           true,
					},
					"password_wo": schema.StringAttribute{
						MarkdownDescription: "The user's password, write-only: sent to the agent and never stored in Terraform state (Terraform 1.11 and later). " +
							"Terraform cannot see a change of a write-only value: raise `password_wo_version` to send a new password.",
						Optional:   true,
						Sensitive:  true,
						WriteOnly:  true,
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"password_wo_version": schema.Int64Attribute{
						MarkdownDescription: "Any number; change it to send the current `password_wo` to the agent.",
						Optional:            true,
					},
				},
			},
			"tls": schema.SingleNestedAttribute{
				MarkdownDescription: "Connect to the brokers over TLS. An empty block (`tls = {}`) uses TLS with the system's CAs. Give a client key with `key_pem_wo` (Terraform 1.11 and later: never stored in state) or, failing that, `key_pem` (stored in state, marked sensitive).",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"ca_pem": schema.StringAttribute{
						MarkdownDescription: "PEM CA certificate(s) to trust instead of the system's: the text from `-----BEGIN CERTIFICATE-----` to `-----END CERTIFICATE-----`, for example `file(\"ca.crt\")`.",
						Optional:            true,
						Validators:          []validator.String{pemCertificates("ca_pem", "the CA certificate", "ca.crt", "")},
					},
					"cert_pem": schema.StringAttribute{
						MarkdownDescription: "PEM client certificate, for mutual TLS: the text from `-----BEGIN CERTIFICATE-----` to `-----END CERTIFICATE-----`, optionally followed by its intermediate CA certificates.",
						Optional:            true,
						Validators: []validator.String{pemCertificates("cert_pem", "the client certificate", "client.crt",
							"; the client key goes in key_pem, which is sensitive")},
					},
					"key_pem": schema.StringAttribute{
						MarkdownDescription: "Unencrypted PEM private key of `cert_pem`: `-----BEGIN PRIVATE KEY-----` (PKCS #8), `RSA PRIVATE KEY` or `EC PRIVATE KEY`. Sent to the agent, which never returns it; kept in Terraform state, marked sensitive: prefer `key_pem_wo`.",
						Optional:            true,
						Sensitive:           true,
						Validators: []validator.String{
							stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("cert_pem")),
							stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("key_pem_wo")),
							pemPrivateKey("key_pem", "client.key"),
						},
					},
					"key_pem_wo": schema.StringAttribute{
						MarkdownDescription: "The private key of `cert_pem` as in `key_pem`, write-only: sent to the agent on every create and update and never stored in Terraform state (Terraform 1.11 and later). " +
							"Terraform cannot see a change of a write-only value: raise `key_pem_wo_version` to send a new key. It may come from an ephemeral resource or variable, or from `file(\"client.key\")`.",
						Optional:  true,
						Sensitive: true,
						WriteOnly: true,
						Validators: []validator.String{
							stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("cert_pem")),
							pemPrivateKey("key_pem_wo", "client.key"),
						},
					},
					"key_pem_wo_version": schema.Int64Attribute{
						MarkdownDescription: "Any number; change it to send the current `key_pem_wo` to the agent.",
						Optional:            true,
					},
					"insecure_skip_verify": schema.BoolAttribute{
						MarkdownDescription: "Do not verify the brokers' certificates. For tests only. Default `false`.",
						Optional:            true,
						Computed:            true,
						Default:             booldefault.StaticBool(false),
					},
				},
			},
		},
	}
}

// saslPassword asks a sasl block for exactly one of password_wo and
// password, saying so in words.
type saslPassword struct{}

func (saslPassword) Description(context.Context) string {
	return "needs exactly one of password_wo and password"
}

func (v saslPassword) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (saslPassword) ValidateObject(_ context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	pw, wo := req.ConfigValue.Attributes()["password"], req.ConfigValue.Attributes()["password_wo"]
	if pw == nil || wo == nil || pw.IsUnknown() || wo.IsUnknown() {
		return
	}
	switch {
	case pw.IsNull() && wo.IsNull():
		resp.Diagnostics.AddAttributeError(req.Path, "Missing SASL Password",
			"sasl needs the user's password: set sasl.password_wo (write-only, Terraform 1.11 and later) with sasl.password_wo_version, or sasl.password (kept in state, marked sensitive).")
	case !pw.IsNull() && !wo.IsNull():
		resp.Diagnostics.AddAttributeError(req.Path, "Two SASL Passwords",
			"set only one of sasl.password_wo and sasl.password: the write-only password_wo keeps it out of state.")
	}
}

func (r *ClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan records the cluster's name, so that resources planned after it
// that name it do not take it for unknown.
func (r *ClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var name types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("name"), &name)...)
	declare(r.client, clusterKind, name, struct{}{})
}

func (r *ClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.put(ctx, req.Plan, req.Config, &resp.State, &resp.Diagnostics, "create")
}

func (r *ClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.put(ctx, req.Plan, req.Config, &resp.State, &resp.Diagnostics, "update")
}

// put sends the planned cluster, with the write-only password from the
// configuration, and stores the agent's answer.
func (r *ClusterResource) put(ctx context.Context, plan tfsdk.Plan, config tfsdk.Config, state *tfsdk.State, diags *diag.Diagnostics, verb string) {
	var m, cfg clusterModel
	diags.Append(plan.Get(ctx, &m)...)
	diags.Append(config.Get(ctx, &cfg)...)
	if diags.HasError() || !ready(r.client, diags) {
		return
	}
	c := clusterToAPI(m)
	rename := map[string]string{}
	if cfg.SASL != nil && !cfg.SASL.PasswordWO.IsNull() {
		c.SASL.Password = cfg.SASL.PasswordWO.ValueString()
		rename["sasl.password"] = "sasl.password_wo"
	}
	if cfg.TLS != nil && !cfg.TLS.KeyPEMWO.IsNull() {
		c.TLS.KeyPEM = cfg.TLS.KeyPEMWO.ValueString()
		rename["tls.key_pem"] = "tls.key_pem_wo"
	}
	stored, err := r.client.PutCluster(ctx, c)
	if err != nil {
		agentDiag(diags, fmt.Sprintf("%s cluster %q", verb, c.Name), err, clusterAttrs, rename)
		return
	}
	diags.Append(state.Set(ctx, clusterFromAPI(stored, m))...)
}

func (r *ClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	stored, err := r.client.GetCluster(ctx, m.Name.ValueString())
	if agentclient.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("read cluster %q", m.Name.ValueString()), err, clusterAttrs, nil)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, clusterFromAPI(stored, m))...)
}

func (r *ClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !ready(r.client, &resp.Diagnostics) {
		return
	}
	err := r.client.DeleteCluster(ctx, m.Name.ValueString())
	if err != nil && !agentclient.IsNotFound(err) {
		agentDiag(&resp.Diagnostics, fmt.Sprintf("delete cluster %q", m.Name.ValueString()), err, clusterAttrs, nil)
	}
}

func (r *ClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}

// clusterToAPI is the body of PUT /v1/clusters/{name}, without the
// write-only password.
func clusterToAPI(m clusterModel) agentapi.Cluster {
	c := agentapi.Cluster{Name: m.Name.ValueString(), BootstrapServers: stringsOf(m.BootstrapServers)}
	if m.SASL != nil {
		c.SASL = &agentapi.SASL{Mechanism: m.SASL.Mechanism.ValueString(), Username: m.SASL.Username.ValueString(), Password: m.SASL.Password.ValueString()}
	}
	if m.TLS != nil {
		c.TLS = &agentapi.TLS{
			CAPEM:              m.TLS.CAPEM.ValueString(),
			CertPEM:            m.TLS.CertPEM.ValueString(),
			KeyPEM:             m.TLS.KeyPEM.ValueString(),
			InsecureSkipVerify: m.TLS.InsecureSkipVerify.ValueBool(),
		}
	}
	return c
}

// clusterFromAPI is the state of a cluster as the agent answers it. The
// agent never returns secrets, so password and key_pem come from prior
// (the plan or the previous state); password_wo and key_pem_wo are never kept.
func clusterFromAPI(c agentapi.Cluster, prior clusterModel) clusterModel {
	m := clusterModel{Name: types.StringValue(c.Name), BootstrapServers: listOf(c.BootstrapServers, prior.BootstrapServers)}
	if c.SASL != nil {
		m.SASL = &saslModel{
			Mechanism:         types.StringValue(c.SASL.Mechanism),
			Username:          types.StringValue(c.SASL.Username),
			Password:          types.StringNull(),
			PasswordWO:        types.StringNull(),
			PasswordWOVersion: types.Int64Null(),
		}
		if prior.SASL != nil {
			m.SASL.Password = prior.SASL.Password
			m.SASL.PasswordWOVersion = prior.SASL.PasswordWOVersion
		}
	}
	if c.TLS != nil {
		m.TLS = &tlsModel{
			CAPEM:              optionalString(c.TLS.CAPEM, nullOr(prior.TLS, func(t *tlsModel) types.String { return t.CAPEM })),
			CertPEM:            optionalString(c.TLS.CertPEM, nullOr(prior.TLS, func(t *tlsModel) types.String { return t.CertPEM })),
			KeyPEM:             nullOr(prior.TLS, func(t *tlsModel) types.String { return t.KeyPEM }),
			KeyPEMWO:           types.StringNull(),
			KeyPEMWOVersion:    types.Int64Null(),
			InsecureSkipVerify: types.BoolValue(c.TLS.InsecureSkipVerify),
		}
		if prior.TLS != nil {
			m.TLS.KeyPEMWOVersion = prior.TLS.KeyPEMWOVersion
		}
	}
	return m
}

func nullOr[T any](v *T, get func(*T) types.String) types.String {
	if v == nil {
		return types.StringNull()
	}
	return get(v)
}
