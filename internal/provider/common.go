package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

// clientFrom takes the agent client out of the provider's data.
func clientFrom(data any, diags *diag.Diagnostics) *agentclient.Client {
	if data == nil { // the provider is not configured yet
		return nil
	}
	c, ok := data.(*agentclient.Client)
	if !ok {
		diags.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *agentclient.Client, got %T. This is a bug in the provider; please report it.", data))
	}
	return c
}

// ready says whether the client is there, with a diagnostic if not.
func ready(c *agentclient.Client, diags *diag.Diagnostics) bool {
	if c == nil {
		diags.AddError("Provider Not Configured",
			"The provider's agent_url or token is not known yet. Set them to values known at plan time and apply again.")
		return false
	}
	return true
}

// stringsOf answers a known list of strings as a slice.
func stringsOf(l types.List) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	out := make([]string, 0, len(l.Elements()))
	for _, e := range l.Elements() {
		out = append(out, e.(types.String).ValueString())
	}
	return out
}

// listOf answers vs as a list; an empty answer stays an empty list when
// prior was one and is null otherwise, so that both round-trip.
func listOf(vs []string, prior types.List) types.List {
	if len(vs) == 0 && (prior.IsNull() || prior.IsUnknown() || len(prior.Elements()) > 0) {
		return types.ListNull(types.StringType)
	}
	elems := make([]attr.Value, len(vs))
	for i, v := range vs {
		elems[i] = types.StringValue(v)
	}
	return types.ListValueMust(types.StringType, elems)
}

// optionalString answers s, or null when the agent left it empty and prior
// was null (an empty string the user wrote stays empty).
func optionalString(s string, prior types.String) types.String {
	if s == "" && prior.IsNull() {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// positiveTimeouts refuses a zero or negative duration in the timeouts
// block: the timeouts package takes any Go duration, and such a deadline
// would fail the apply at once.
func positiveTimeouts(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics, names ...string) {
	for _, n := range names {
		var v types.String
		p := path.Root("timeouts").AtName(n)
		if d := config.GetAttribute(ctx, p, &v); d.HasError() || v.IsNull() || v.IsUnknown() {
			continue
		}
		if d, err := time.ParseDuration(v.ValueString()); err == nil && d <= 0 {
			diags.AddAttributeError(p, "Invalid Timeout", fmt.Sprintf("timeouts.%s is %q: give a positive duration such as \"10m\".", n, v.ValueString()))
		}
	}
}
