// Package provider is the kafka-failover Terraform provider: its
// configuration, resources, validators and plan modifiers.
//
// Schema versions: every resource's schema is at Version 0, and users'
// state files hold what it wrote (testdata/state-v0.tfstate and
// testdata/state-v0-reconciliation.tfstate, which
// TestAccStateOfSchemaVersion0PlansEmpty and
// TestAccReconciliationStateOfSchemaVersion0PlansEmpty plan empty with the
// terraform binary, and whose attributes
// TestEveryAttributeOfAStateFixtureIsInItsSchemaOrUpgraded finds in the
// schemas). A change to a schema that alters what state holds (an
// attribute removed, renamed or retyped, a value stored differently)
// raises that schema's Version and adds an UpgradeState with a
// StateUpgrader from every earlier version, keeps the earlier fixtures and
// their tests, and adds fixtures of the new version written by
// TestAccWriteStateFixture and TestAccWriteReconciliationStateFixture.
// Adding an optional or computed attribute needs no new version.
package provider

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

// Environment variables read when the provider block leaves a setting out.
const (
	EnvAgentURL       = "KAFKA_FAILOVER_AGENT_URL"
	EnvToken          = "KAFKA_FAILOVER_TOKEN"
	EnvCAPEM          = "KAFKA_FAILOVER_CA_PEM"
	EnvRetryMax       = "KAFKA_FAILOVER_RETRY_MAX"
	EnvRequestTimeout = "KAFKA_FAILOVER_REQUEST_TIMEOUT"
)

var _ provider.Provider = &KafkaProvider{}

// KafkaProvider drives a kafka-failover agent.
type KafkaProvider struct {
	version string
}

// New returns the provider factory providerserver.Serve expects.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &KafkaProvider{version: version} }
}

type providerModel struct {
	AgentURL       types.String `tfsdk:"agent_url"`
	Token          types.String `tfsdk:"token"`
	CAPEM          types.String `tfsdk:"ca_pem"`
	RetryMax       types.Int64  `tfsdk:"retry_max"`
	RequestTimeout types.String `tfsdk:"request_timeout"`
}

func (p *KafkaProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "kafka"
	resp.Version = p.version
}

func (p *KafkaProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Drives a kafka-failover agent: the Kafka clusters it can reach, the mirrors it runs between them, the failover policies over them and the active cluster of each.",
		Attributes: map[string]schema.Attribute{
			"agent_url": schema.StringAttribute{
				MarkdownDescription: "Base URL of the agent's HTTP API, for example `https://agent.europe:8443`. Defaults to the `" + EnvAgentURL + "` environment variable.",
				Optional:            true,
			},
			"token": schema.StringAttribute{
				MarkdownDescription: "The agent's bearer token (the content of its `--token-file`). Defaults to the `" + EnvToken + "` environment variable, which keeps it out of the configuration.",
				Optional:            true,
				Sensitive:           true,
			},
			"ca_pem": schema.StringAttribute{
				MarkdownDescription: "PEM CA certificate that signed the agent's TLS certificate, for an `https://` agent whose certificate the system does not trust. Defaults to the `" + EnvCAPEM + "` environment variable.",
				Optional:            true,
				Validators:          []validator.String{pemCertificates("ca_pem", "the agent's CA certificate", "agent-ca.crt", "")},
			},
			"retry_max": schema.Int64Attribute{
				MarkdownDescription: "How many times a request is retried after a connection error or a 5xx answer, with exponential backoff. A 4xx answer is never retried. `0` sends each request once. Defaults to the `" + EnvRetryMax + "` environment variable, else `4`.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(0, 100)},
			},
			"request_timeout": schema.StringAttribute{
				MarkdownDescription: "Time limit of each request to the agent, as a Go duration such as `30s` or `1m`. Defaults to the `" + EnvRequestTimeout + "` environment variable, else `30s`.",
				Optional:            true,
				Validators:          []validator.String{durationAtLeast(time.Second)},
			},
		},
	}
}

func (p *KafkaProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A value known only after another resource is applied: Terraform
	// configures the provider again once it is known.
	if cfg.AgentURL.IsUnknown() || cfg.Token.IsUnknown() || cfg.CAPEM.IsUnknown() || cfg.RetryMax.IsUnknown() || cfg.RequestTimeout.IsUnknown() {
		tflog.Debug(ctx, "provider configuration has unknown values; not configuring the agent client yet")
		return
	}
	url := stringOr(cfg.AgentURL, os.Getenv(EnvAgentURL))
	token := stringOr(cfg.Token, os.Getenv(EnvToken))
	if url == "" {
		resp.Diagnostics.AddAttributeError(path.Root("agent_url"), "Missing Agent URL",
			"Set agent_url in the provider block or the "+EnvAgentURL+" environment variable to the agent's base URL, for example https://agent.europe:8443.")
	}
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "Missing Agent Token",
			"Set token in the provider block or the "+EnvToken+" environment variable to the agent's bearer token (the content of its --token-file).")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	ccfg := agentclient.Config{BaseURL: url, Token: token, CAPEM: cfg.CAPEM.ValueString()}
	if ccfg.CAPEM == "" {
		ccfg.CAPEM = fromEnv(EnvCAPEM, pemCertificates("ca_pem", "the agent's CA certificate", "agent-ca.crt", ""), &resp.Diagnostics)
	}
	retries := cfg.RetryMax.ValueInt64()
	if cfg.RetryMax.IsNull() {
		retries = -1 // not set: the client's default
		if s := fromEnv(EnvRetryMax, int64Between(0, 100), &resp.Diagnostics); s != "" {
			retries, _ = strconv.ParseInt(s, 10, 64)
		}
	}
	switch {
	case retries < 0:
	case retries == 0:
		ccfg.RetryMax = -1 // the client's word for never
	default:
		ccfg.RetryMax = int(retries)
	}
	timeout := cfg.RequestTimeout.ValueString()
	if timeout == "" {
		timeout = fromEnv(EnvRequestTimeout, durationAtLeast(time.Second), &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if timeout != "" {
		d, err := time.ParseDuration(timeout)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("request_timeout"), "Invalid Request Timeout", "Write request_timeout as a Go duration such as \"30s\". "+err.Error())
			return
		}
		ccfg.RequestTimeout = d
	}
	client, err := agentclient.New(ccfg)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Provider Configuration", "Fix the provider block or its environment variables: "+err.Error())
		return
	}
	ctx = tflog.MaskAllFieldValuesStrings(ctx, token)
	tflog.Info(ctx, "agent client configured", map[string]any{"agent_url": url, "provider_version": p.version})
	resp.ResourceData = client
	resp.DataSourceData = client
}

func (p *KafkaProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewClusterResource, NewMirrorResource, NewPolicyResource, NewFailoverResource, NewReconciliationResource}
}

func (p *KafkaProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewFailoverStatusDataSource, NewGroupOffsetsDataSource}
}

// fromEnv answers environment variable env, checked as the attribute it
// stands for would be; a bad value is an error naming the variable.
func fromEnv(env string, v validator.String, diags *diag.Diagnostics) string {
	s := os.Getenv(env)
	if s == "" {
		return ""
	}
	if why := v.(stringCheck).check(s); why != "" {
		diags.AddError("Invalid Environment Variable", fmt.Sprintf("The %s environment variable %s", env, why))
	}
	return s
}

// stringOr answers v's value, or def when v is null or empty.
func stringOr(v types.String, def string) string {
	if s := v.ValueString(); s != "" {
		return s
	}
	return def
}
