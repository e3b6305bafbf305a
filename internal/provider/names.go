package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

// The kinds of names resources refer to, each with its resource type.
type nameKind struct{ word, resource string }

var (
	clusterKind = nameKind{"cluster", "kafka_cluster"}
	mirrorKind  = nameKind{"mirror", "kafka_mirror"}
	policyKind  = nameKind{"failover policy", "kafka_failover_policy"}
)

// declareHint says how to make a name exist in Terraform's terms; name may
// be a regexp template such as "$1".
func declareHint(k nameKind, name string) string {
	return fmt.Sprintf(`declare a %s with name = "%s" and refer to it (%s.<label>.name), so that Terraform creates it first`, k.resource, name, k.resource)
}

// declared remembers the names each provider instance's plan declares:
// Terraform plans a resource after those it refers to, so a name created in
// the same apply is here before any resource naming it is planned.
var declared sync.Map // declaredKey -> plannedPolicy for a policy, struct{} otherwise

type declaredKey struct {
	client *agentclient.Client
	kind   nameKind
	name   string
}

// plannedPolicy is a policy as the plan declares it.
type plannedPolicy struct {
	clusters []string // nil while not known
	primary  string   // "" while not known
	// anew says the plan creates the policy, or replaces it: its primary is
	// then its active cluster, at epoch 0.
	anew bool
}

// declare records a planned name; v is a plannedPolicy for a policy.
func declare(c *agentclient.Client, k nameKind, name types.String, v any) {
	if c != nil && !name.IsNull() && !name.IsUnknown() {
		declared.Store(declaredKey{c, k, name.ValueString()}, v)
	}
}

// declaredPolicy answers policy name as this plan declares it.
func declaredPolicy(c *agentclient.Client, name string) (plannedPolicy, bool) {
	v, ok := declared.Load(declaredKey{c, policyKind, name})
	if !ok {
		return plannedPolicy{}, false
	}
	p, ok := v.(plannedPolicy)
	return p, ok
}

// changed says whether a reference attribute needs checking: known in the
// plan, and new or different from the state (a no-op plan asks nothing).
func changed(plan, state types.String, created bool) bool {
	return !plan.IsUnknown() && !plan.IsNull() && (created || !plan.Equal(state))
}

// mustExist refuses at plan time a name that the plan does not declare and
// the agent does not have. An agent that cannot answer refuses nothing: the
// apply will say.
func mustExist(ctx context.Context, c *agentclient.Client, k nameKind, name string, at path.Path, diags *diag.Diagnostics) {
	if c == nil {
		return
	}
	if _, ok := declared.Load(declaredKey{c, k, name}); ok {
		return
	}
	var err error
	switch k {
	case clusterKind:
		_, err = c.GetCluster(ctx, name)
	case mirrorKind:
		_, err = c.GetMirror(ctx, name)
	case policyKind:
		_, err = c.GetPolicy(ctx, name)
	}
	if agentclient.IsNotFound(err) {
		diags.AddAttributeError(at, "Unknown "+titleCase(k.word),
			fmt.Sprintf("no %s named %q: %s. Neither the agent nor this plan has a %s of that name.", k.word, name, declareHint(k, name), k.resource))
	}
}

// mustExistAll is mustExist for the known elements of a list attribute
// that are new to it.
func mustExistAll(ctx context.Context, c *agentclient.Client, k nameKind, attr string, plan, state types.List, diags *diag.Diagnostics) {
	if plan.IsNull() || plan.IsUnknown() {
		return
	}
	had := stringsOf(state)
	for i, e := range plan.Elements() {
		n, ok := e.(types.String)
		if ok && !n.IsUnknown() && !n.IsNull() && !slices.Contains(had, n.ValueString()) {
			mustExist(ctx, c, k, n.ValueString(), path.Root(attr).AtListIndex(i), diags)
		}
	}
}

// policyClusters answers the clusters of policy name as this plan declares
// them, or else as the agent has them; ok is false when neither can tell
// (unknown yet, or the agent does not answer), with a diagnostic on at when
// the policy does not exist.
func policyClusters(ctx context.Context, c *agentclient.Client, name string, at path.Path, diags *diag.Diagnostics) (clusters []string, ok bool) {
	if c == nil {
		return nil, false
	}
	if p, ok := declaredPolicy(c, name); ok {
		return p.clusters, p.clusters != nil
	}
	p, err := c.GetPolicy(ctx, name)
	if err != nil {
		mustExist(ctx, c, policyKind, name, at, diags)
		return nil, false
	}
	return p.Clusters, true
}

// mustBeInPolicy refuses, on the attribute attr, a cluster that is not one
// of policy's.
func mustBeInPolicy(ctx context.Context, c *agentclient.Client, policy, cluster types.String, attr string, diags *diag.Diagnostics) {
	if policy.IsUnknown() || cluster.IsUnknown() {
		return
	}
	clusters, ok := policyClusters(ctx, c, policy.ValueString(), path.Root("policy"), diags)
	if !ok || slices.Contains(clusters, cluster.ValueString()) {
		return
	}
	diags.AddAttributeError(path.Root(attr), "Cluster Not In The Policy",
		fmt.Sprintf("%q is not one of the clusters of policy %q (%s): set %s to one of them, or add it to the policy's clusters.",
			cluster.ValueString(), policy.ValueString(), strings.Join(clusters, ", "), attr))
}

func titleCase(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
