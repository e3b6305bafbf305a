package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAccExampleBesideMongeyKafka checks examples/with-mongey-kafka, where
// this provider has the local name kfo because Mongey/kafka has kafka.
// Mongey/kafka cannot be installed here, so the whole example is checked
// with terraform fmt -check, and its half that uses this provider
// (variables.tf and failover.tf) is validated and applied against the test's
// agent and clusters: an override file gives their addresses, credentials
// and the agent's token. The plan after the apply is empty.
func TestAccExampleBesideMongeyKafka(t *testing.T) {
	e := startEnv(t)
	tf := newTerraformCLI(t)
	example, err := filepath.Abs("../../examples/with-mongey-kafka")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := tf.try("fmt", "-check", "-diff", "-recursive", example); err != nil {
		t.Errorf("terraform fmt -check %s: %v\n%s", example, err, out)
	}

	writeExample(t, e, tf, example, "kfo", "variables.tf", "failover.tf")
	tf.run("init", "-input=false")
	tf.run("validate")
	tf.run("apply", "-input=false", "-auto-approve")
	if out, err := tf.try("plan", "-input=false", "-detailed-exitcode"); err != nil {
		t.Errorf("the plan after the apply is not empty: %v\n%s", err, out)
	}
	if out := tf.run("output", "epoch"); strings.TrimSpace(out) != "0" {
		t.Errorf("output epoch = %q, want 0", out)
	}
	a, err := e.client.Active(context.Background(), "loosehanger")
	if err != nil || a.Cluster != "north-america" {
		t.Errorf("discovery answers %+v, %v; want north-america", a, err)
	}
}

// writeExample copies files of the example directory into tf's directory,
// with the provider under local name, and an override file that points the
// example's kafka_cluster north_america and europe at the test's clusters
// and its provider block at the test's agent.
func writeExample(t testing.TB, e *accEnv, tf *terraformCLI, example, local string, files ...string) {
	t.Helper()
	out := map[string]string{
		"providers.tf": strings.Replace(cliHeader, "kafka = ", local+" = ", 1),
		// Override files merge into the example's blocks of the same name.
		"test_override.tf": strings.Replace(e.providerBlock(), `provider "kafka"`, `provider "`+local+`"`, 1) +
			e.clusterBlock("north_america", "north-america", e.source) + e.clusterBlock("europe", "europe", e.target),
	}
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(example, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(b)
	}
	for name, text := range out {
		if err := os.WriteFile(filepath.Join(tf.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkNoOpPlanOfTheReferenceConfiguration applies
// examples/three-region-failover against the benchmark's clusters and agent
// and times terraform plan when nothing changed (the refresh reads every
// object and the failover's forecasts); the goal is under a second. It
// fails if the plan is not empty. `make bench` runs it with the CLI that
// scripts/ensure-tools.sh found.
func BenchmarkNoOpPlanOfTheReferenceConfiguration(b *testing.B) {
	e := startEnv(b)
	tf := newTerraformCLI(b)
	example, err := filepath.Abs("../../examples/three-region-failover")
	if err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(example, "main.tf"))
	if err != nil {
		b.Fatal(err)
	}
	// Its terraform block names the provider by the short source; the
	// benchmark's providers.tf names it by the address the tests serve.
	main := regexp.MustCompile(`(?s)^.*?\nterraform \{.*?\n\}\n`).ReplaceAllString(string(src), "")
	if err := os.WriteFile(filepath.Join(tf.dir, "main.tf"), []byte(main), 0o600); err != nil {
		b.Fatal(err)
	}
	writeExample(b, e, tf, example, "kafka")
	tf.run("init", "-input=false")
	tf.run("apply", "-input=false", "-auto-approve")
	b.ResetTimer()
	for b.Loop() {
		if out, err := tf.try("plan", "-input=false", "-detailed-exitcode"); err != nil {
			b.Fatalf("the plan after the apply is not empty: %v\n%s", err, out)
		}
	}
	b.StopTimer()
	perPlan := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(perPlan.Seconds()*1000, "ms/plan")
	fmt.Printf("no-op plan of examples/three-region-failover with %s: %d ms (goal: under 1000 ms)\n", filepath.Base(tf.bin), perPlan.Milliseconds())
}
