package provider

import (
	"context"
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
func writeExample(t *testing.T, e *accEnv, tf *terraformCLI, example, local string, files ...string) {
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

// TestAccNoOpPlanOfTheReferenceConfigurationTakesUnderASecond applies
// examples/three-region-failover against the test's clusters and agent and
// times terraform plan when nothing changed: the best of three stays under
// a second (the refresh reads every object and the failover's forecasts).
func TestAccNoOpPlanOfTheReferenceConfigurationTakesUnderASecond(t *testing.T) {
	e := startEnv(t)
	tf := newTerraformCLI(t)
	example, err := filepath.Abs("../../examples/three-region-failover")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(example, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	// Its terraform block names the provider by the short source; the test's
	// providers.tf names it by the address the tests serve.
	main := regexp.MustCompile(`(?s)^.*?\nterraform \{.*?\n\}\n`).ReplaceAllString(string(b), "")
	if err := os.WriteFile(filepath.Join(tf.dir, "main.tf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	writeExample(t, e, tf, example, "kafka")
	tf.run("init", "-input=false")
	tf.run("apply", "-input=false", "-auto-approve")
	best := time.Hour
	for range 3 {
		start := time.Now()
		if out, err := tf.try("plan", "-input=false", "-detailed-exitcode"); err != nil {
			t.Fatalf("the plan after the apply is not empty: %v\n%s", err, out)
		}
		took := time.Since(start)
		t.Logf("no-op plan took %s", took.Round(time.Millisecond))
		best = min(best, took)
	}
	if best >= time.Second {
		t.Errorf("the best no-op plan of three took %s, want under 1s", best)
	}
}
