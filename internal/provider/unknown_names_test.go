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
	const header = "terraform {\n  required_providers {\n    kafka = { source = \"kafka-failover/kafka\" }\n  }\n}\n"
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
		tf.write(header + c.config)
		out, err := tf.try("apply", "-input=false", "-auto-approve")
		// terraform wraps the detail at any space
		if err == nil || !regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`)).MatchString(out) || strings.Contains(out, "/v1/") {
			t.Errorf("apply: %v, want an error matching %s and no HTTP request of the agent:\n%s", err, c.want, out)
		}
	}
}
