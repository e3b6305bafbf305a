package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// policyConfig is two clusters, a mirror between them and a policy; extra
// goes into the policy block, more after it.
func policyConfig(e *accEnv, policy, more string) string {
	return mirrorConfig(e, "kafka_cluster.na.name", `  topics = { include = ["LH\\..*"] }
  groups = { include = ["consumer-.*"] }
  refresh_interval    = "1s"
  checkpoint_interval = "250ms"`) + fmt.Sprintf(`
resource "kafka_failover_policy" "lh" {
  name     = "loosehanger"
  clusters = [kafka_cluster.na.name, kafka_cluster.eu.name]
  primary  = kafka_cluster.na.name
  mirrors  = [kafka_mirror.na_to_eu.name]
%s
}
%s`, policy, more)
}

// TestAccFailoverPolicyCreateImportUpdate creates a policy on a real agent,
// imports it, updates it in place, and shows that active and epoch (set only
// by failovers) are known in the update plan and cause no diff: the plan is
// empty after every apply and in a separate plan-only step.
func TestAccFailoverPolicyCreateImportUpdate(t *testing.T) {
	e := startEnv(t)
	name := "kafka_failover_policy.lh"
	created := `  max_lag_records = 1000`
	updated := `  max_lag_records = 500
  max_lag_seconds = 10
  fencing         = "none"
  drain_timeout   = "2m"`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: policyConfig(e, created, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("active"), knownvalue.StringExact("north-america")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("epoch"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("max_lag_records"), knownvalue.Int64Exact(1000)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("max_lag_seconds"), knownvalue.Int64Exact(30)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("fencing"), knownvalue.StringExact("acl")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("drain_timeout"), knownvalue.StringExact("60s")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("created_at"), knownvalue.NotNull()),
				},
			},
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "loosehanger",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
			{
				Config: policyConfig(e, updated, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate),
						// Only failovers move them: an update plans them unchanged.
						plancheck.ExpectKnownValue(name, tfjsonpath.New("active"), knownvalue.StringExact("north-america")),
						plancheck.ExpectKnownValue(name, tfjsonpath.New("epoch"), knownvalue.Int64Exact(0)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("max_lag_records"), knownvalue.Int64Exact(500)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("max_lag_seconds"), knownvalue.Int64Exact(10)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("fencing"), knownvalue.StringExact("none")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("drain_timeout"), knownvalue.StringExact("2m")),
				},
			},
			// A plan of the same configuration, from a fresh refresh, is empty.
			{Config: policyConfig(e, updated, ""), PlanOnly: true},
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "loosehanger",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
			},
		},
	})
}

// TestAccFailoverBadValuesAreRejectedAtPlanTime shows each bad value of the
// policy and failover resources is refused by `terraform plan` with a
// message saying what is wrong, before the agent is asked anything.
func TestAccFailoverBadValuesAreRejectedAtPlanTime(t *testing.T) {
	skipUnlessAcc(t)
	provider := "provider \"kafka\" {\n  agent_url = \"http://127.0.0.1:1\"\n  token = \"unused-token-0123456789\"\n}\n"
	policy := func(body string) string {
		return provider + "resource \"kafka_failover_policy\" \"p\" {\n  name = \"p\"\n  mirrors = [\"m\"]\n" + body + "\n}\n"
	}
	two := "clusters = [\"a\", \"b\"]\nprimary = \"a\"\n"
	failover := func(body string) string {
		return provider + "resource \"kafka_failover\" \"f\" {\n  policy = \"p\"\n" + body + "\n}\n"
	}
	cases := []struct {
		config string
		want   string
	}{
		{policy(two + `fencing = "maybe"`), `fencing value must be one of: \["acl" "none"\]`},
		{policy(two + `drain_timeout = "soon"`), `"soon" is not a duration: write it like "1s" or "500ms"`},
		{policy(two + `drain_timeout = "500ms"`), `"500ms" is out of range: use 1s to 1h.`},
		{policy("clusters = [\"a\"]\nprimary = \"a\""), `Attribute clusters list must contain at least 2 elements`},
		{policy("clusters = [\"a\", \"a\"]\nprimary = \"a\""), `This attribute contains duplicate values of: "a"`},
		{policy("clusters = [\"a\", \"b\"]\nprimary = \"c\""), `(?s)Primary Is Not One Of The Clusters.*primary is "c", which is not in clusters \(.a., .b.\)`},
		{policy(two + `max_lag_records = 0`), `max_lag_records value must be at least 1`},
		{provider + "resource \"kafka_failover_policy\" \"p\" {\n  name = \"p\"\n  mirrors = []\n" + two + "}\n", `mirrors list must contain at least 1 elements`},
		{failover("active_cluster = \"europe\"\nmode = \"graceful\""), `mode value must be one of: \["planned" "forced"\]`},
		{failover("active_cluster = \"bad name\""), `"bad name" is not a valid name`},
		{failover("active_cluster = \"europe\"\ntimeouts {\n  update = \"soon\"\n}"), `"soon" must be a string containing a sequence of decimal numbers`},
	}
	steps := make([]resource.TestStep, len(cases))
	for i, c := range cases {
		// Terraform wraps diagnostics at 78 columns: any space may be a line break.
		want := strings.ReplaceAll(c.want, " ", `\s+`)
		steps[i] = resource.TestStep{Config: c.config, PlanOnly: true, ExpectError: regexp.MustCompile(want)}
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}
