package provider

import (
	"regexp"
	"strings"
	"testing"
)

// TestAccUnknownNamesAreRefusedOnTheAttributeInTerraformTerms applies, with
// the terraform CLI, a mirror from a cluster nobody declared and a policy
// naming a mirror nobody declared: each apply fails on the attribute that
// names it, saying what to declare in Terraform, not which HTTP request the
// agent wants.
func TestAccUnknownNamesAreRefusedOnTheAttributeInTerraformTerms(t *testing.T) {
	e := startEnv(t)
	tf := newTerraformCLI(t)
	for _, c := range []struct{ config, want string }{
		{
			config: mirrorConfig(e, `"mars"`, `  topics = { include = ["LH\\..*"] }`),
			want:   `(?s)with kafka_mirror.na_to_eu,.*source = "mars".*no cluster named "mars": declare a kafka_cluster with name = "mars"`,
		},
		{
			config: mirrorConfig(e, "kafka_cluster.na.name", `  topics = { include = ["LH\\..*"] }`) + `
resource "kafka_failover_policy" "lh" {
  name     = "loosehanger"
  clusters = [kafka_cluster.na.name, kafka_cluster.eu.name]
  primary  = kafka_cluster.na.name
  mirrors  = ["na-to-mars"]
}
`,
			want: `(?s)with kafka_failover_policy.lh,.*mirrors.*no mirror named "na-to-mars": declare a kafka_mirror with name = "na-to-mars"`,
		},
	} {
		tf.write(cliHeader + c.config)
		out, err := tf.try("apply", "-input=false", "-auto-approve")
		// terraform wraps the detail at any space
		if err == nil || !regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`)).MatchString(out) || strings.Contains(out, "/v1/") {
			t.Errorf("apply: %v, want an error matching %s and no HTTP request of the agent:\n%s", err, c.want, out)
		}
	}
}

// TestAccUnknownNamesAreRefusedAtPlanTime plans, with the terraform CLI,
// resources that name a cluster, mirror or policy neither the agent nor the
// configuration has, on top of an applied configuration that created every
// name it uses in one apply (so a name created in the same apply is not
// unknown). Each plan fails on the attribute, saying what to declare. A name
// not known at plan time (terraform_data's output) passes the plan and is
// refused at apply, on the attribute.
func TestAccUnknownNamesAreRefusedAtPlanTime(t *testing.T) {
	e := startEnv(t)
	tf := newTerraformCLI(t)
	base := cliHeader + failoverConfig(e, "north-america", "planned")
	tf.write(base)
	tf.run("apply", "-input=false", "-auto-approve")
	matches := func(out, want string) bool {
		return regexp.MustCompile(strings.ReplaceAll(want, " ", `\s+`)).MatchString(out) // terraform wraps the detail at any space
	}
	for _, c := range []struct{ config, want string }{
		{`
resource "kafka_mirror" "bad" {
  name   = "na-to-mars"
  source = kafka_cluster.na.name
  target = "mars"
  topics = { include = ["LH\\..*"] }
}`, `(?s)with kafka_mirror.bad,.*target = "mars".*no cluster named "mars": declare a kafka_cluster with name = "mars"`},
		{`
resource "kafka_failover_policy" "bad" {
  name     = "other"
  clusters = [kafka_cluster.na.name, "mars"]
  primary  = kafka_cluster.na.name
  mirrors  = [kafka_mirror.na_to_eu.name]
}`, `(?s)with kafka_failover_policy.bad,.*clusters.*no cluster named "mars": declare a kafka_cluster with name = "mars"`},
		{`
resource "kafka_failover_policy" "bad" {
  name     = "other"
  clusters = [kafka_cluster.na.name, kafka_cluster.eu.name]
  primary  = kafka_cluster.na.name
  mirrors  = [kafka_mirror.na_to_eu.name, "na-to-mars"]
}`, `(?s)with kafka_failover_policy.bad,.*mirrors.*no mirror named "na-to-mars": declare a kafka_mirror with name = "na-to-mars"`},
		{`
resource "kafka_failover" "bad" {
  policy         = "nope"
  active_cluster = kafka_cluster.na.name
}`, `(?s)with kafka_failover.bad,.*policy = "nope".*no failover policy named "nope": declare a kafka_failover_policy with name = "nope"`},
		{`
resource "kafka_failover" "bad" {
  policy         = kafka_failover_policy.lh.name
  active_cluster = "mars"
}`, `(?s)with kafka_failover.bad,.*active_cluster = "mars".*"mars" is not one of the clusters of policy "loosehanger" \(north-america, europe\)`},
		{`
resource "kafka_failover_reconciliation" "bad" {
  policy  = kafka_failover_policy.lh.name
  cluster = "mars"
}`, `(?s)with kafka_failover_reconciliation.bad,.*cluster = "mars".*"mars" is not one of the clusters of policy "loosehanger" \(north-america, europe\)`},
	} {
		tf.write(base + c.config)
		out, err := tf.try("plan", "-input=false")
		if err == nil || !matches(out, c.want) || strings.Contains(out, "/v1/") {
			t.Errorf("plan: %v, want an error matching %s:\n%s", err, c.want, out)
		}
	}

	// Unknown at plan time: the plan cannot tell, the apply refuses it.
	tf.write(base + `
resource "terraform_data" "later" {
  input = "mars"
}

resource "kafka_mirror" "later" {
  name   = "later-to-eu"
  source = terraform_data.later.output
  target = kafka_cluster.eu.name
  topics = { include = ["LH\\..*"] }
}`)
	tf.run("plan", "-input=false")
	out, err := tf.try("apply", "-input=false", "-auto-approve")
	if want := `(?s)with kafka_mirror.later,.*source.*no cluster named "mars": declare a kafka_cluster with name = "mars"`; err == nil || !matches(out, want) {
		t.Errorf("apply: %v, want an error matching %s:\n%s", err, want, out)
	}
}
