package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// standIn takes the place of examples/dns-redirection/dns.tf, whose DNS
// provider cannot be installed here: the same records, built-in resources.
const standIn = `resource "terraform_data" "bootstrap" {
  for_each = local.bootstrap_records
  input    = { zone = var.zone, name = each.key, cname = each.value, ttl = var.ttl }
}

output "written" {
  value = { for k, r in terraform_data.bootstrap : k => r.output.cname }
}
`

// The DNS redirection example's wiring, applied with the real provider:
// the records point at the active cluster's hosts, and the apply that
// fails over to europe rewrites them to europe's.
func TestDNSRedirectionExampleRewritesTheRecordsInTheFailoverApply(t *testing.T) {
	tf := terraformWithProvider(t, "../examples/dns-redirection/main.tf")
	if err := os.WriteFile(filepath.Join(tf.dir, "standin.tf"), []byte(standIn), 0o644); err != nil {
		t.Fatal(err)
	}
	na := kafkatest.Cluster(t, "north-america")
	eu := kafkatest.Cluster(t, "europe")
	a := startAgent(t, eu.BootstrapString())
	// Two hosts that reach the two loopback clusters, so the records differ.
	naBootstrap := []string{strings.Replace(na.Bootstrap()[0], "127.0.0.1", "localhost", 1)}
	apply := func(active string) map[string]string {
		t.Helper()
		var outputs struct {
			Records struct{ Value map[string]string } `json:"bootstrap_records"`
			Written struct{ Value map[string]string } `json:"written"`
		}
		tf.apply(t, nil, &outputs, "agent_url="+a.url, "north_america_bootstrap="+hclList(naBootstrap),
			"europe_bootstrap="+hclList(eu.Bootstrap()), "active_cluster="+active)
		if len(outputs.Written.Value) != 3 || !maps.Equal(outputs.Written.Value, outputs.Records.Value) {
			t.Fatalf("active %s: the stand-in records %v, want the example's %v", active, outputs.Written.Value, outputs.Records.Value)
		}
		return outputs.Written.Value
	}
	for _, step := range []struct{ active, host string }{{"north-america", "localhost."}, {"europe", "127.0.0.1."}} {
		for name, cname := range apply(step.active) {
			if cname != step.host {
				t.Errorf("active %s: %s points at %s, want %s", step.active, name, cname, step.host)
			}
		}
	}
	var p struct{ Active string }
	if a.call("GET", "/v1/policies/loosehanger", nil, &p); p.Active != "europe" {
		t.Errorf("the agent's active cluster after the apply: %q, want europe", p.Active)
	}
}
