package provider

import (
	"context"
	"strings"
	"testing"
)

// renameConfig is the reference configuration whose first cluster, the
// policy's primary and active one, is named na; every resource names it
// through kafka_cluster.na.name, as a configuration renaming it does.
func renameConfig(e *accEnv, na string) string {
	return cliHeader + e.providerBlock() + e.clusterBlock("na", na, e.source) + e.clusterBlock("eu", "europe", e.target) + `
resource "kafka_mirror" "na_to_eu" {
  name   = "${kafka_cluster.na.name}-to-eu"
  source = kafka_cluster.na.name
  target = kafka_cluster.eu.name
  topics = { include = ["LH\\..*"] }
}

resource "kafka_failover_policy" "lh" {
  name     = "loosehanger"
  clusters = [kafka_cluster.na.name, kafka_cluster.eu.name]
  primary  = kafka_cluster.na.name
  mirrors  = [kafka_mirror.na_to_eu.name]
  fencing  = "none"
}

resource "kafka_failover" "lh" {
  policy         = kafka_failover_policy.lh.name
  active_cluster = kafka_cluster.na.name
}
`
}

// TestAccRenamingTheActiveClusterConvergesInOneApply renames the policy's
// primary and active cluster. Terraform replaces the cluster, its mirror and
// the policy (primary cannot change in place), whose new incarnation makes
// the renamed cluster active at epoch 0; the kafka_failover, whose
// active_cluster follows the name, adopts that instead of asking the agent
// for a failover to the cluster that is already active. The plan says so
// rather than forecasting a failover, one apply converges, and the plan
// after it is empty.
func TestAccRenamingTheActiveClusterConvergesInOneApply(t *testing.T) {
	e := startEnv(t)
	tf := newTerraformCLI(t)
	tf.write(renameConfig(e, "north-america"))
	tf.run("apply", "-input=false", "-auto-approve")

	tf.write(renameConfig(e, "north-america-2"))
	out := tf.run("plan", "-input=false")
	for _, want := range []string{"kafka_failover_policy.lh must be replaced", "kafka_failover.lh will be updated in-place", "No Failover: The Policy Is Created Anew"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Failover Forecast Unavailable") {
		t.Errorf("plan forecasts a failover that will not happen:\n%s", out)
	}
	if out, err := tf.try("apply", "-input=false", "-auto-approve"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if out, err := tf.try("plan", "-input=false", "-detailed-exitcode"); err != nil {
		t.Errorf("the plan after the apply is not empty: %v\n%s", err, out)
	}
	state := tf.run("show")
	state = state[strings.Index(state, `resource "kafka_failover" "lh"`)+1:]
	for _, want := range []string{`active_cluster           = "north-america-2"`, `epoch                    = 0`} {
		if !strings.Contains(state, want) {
			t.Errorf("state does not say %s:\n%s", want, state)
		}
	}
	a, err := e.client.Active(context.Background(), "loosehanger")
	if err != nil || a.Cluster != "north-america-2" || a.Epoch != 0 {
		t.Errorf("discovery answers %+v, %v; want north-america-2 at epoch 0", a, err)
	}
}

// TestAccRenamingThePrimaryWhileItIsAStandbyIsRefusedAtPlan: after a
// failover to europe, renaming north-america (the primary, now a standby)
// replaces the policy, and a new policy makes its primary active at once:
// without a fence, a drain or a report, applications would be sent back to
// the cluster they left. The plan refuses it and says what to do; setting
// primary to the cluster that is active now is accepted.
func TestAccRenamingThePrimaryWhileItIsAStandbyIsRefusedAtPlan(t *testing.T) {
	e := startEnv(t)
	tf := newTerraformCLI(t)
	atEurope := func(na string) string {
		return strings.Replace(renameConfig(e, na), "active_cluster = kafka_cluster.na.name", "active_cluster = kafka_cluster.eu.name", 1)
	}
	tf.write(renameConfig(e, "north-america"))
	tf.run("apply", "-input=false", "-auto-approve")
	tf.write(atEurope("north-america"))
	tf.run("apply", "-input=false", "-auto-approve")

	tf.write(atEurope("north-america-2"))
	out, err := tf.try("plan", "-input=false")
	if err == nil {
		t.Fatalf("the plan accepts a policy replacement that makes north-america-2 active without a failover:\n%s", out)
	}
	for _, want := range []string{"europe", "is active now", "primary"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
	a, err := e.client.Active(context.Background(), "loosehanger")
	if err != nil || a.Cluster != "europe" || a.Epoch != 1 {
		t.Errorf("discovery answers %+v, %v; want europe at epoch 1, untouched", a, err)
	}

	// What the refusal says to do: the primary is the cluster active now.
	tf.write(strings.Replace(atEurope("north-america-2"), "primary  = kafka_cluster.na.name", "primary  = kafka_cluster.eu.name", 1))
	if out, err := tf.try("apply", "-input=false", "-auto-approve"); err != nil {
		t.Fatalf("apply with primary = europe: %v\n%s", err, out)
	}
	if a, err := e.client.Active(context.Background(), "loosehanger"); err != nil || a.Cluster != "europe" {
		t.Errorf("discovery answers %+v, %v after the rename; want europe", a, err)
	}
}
