package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

	files := map[string]string{
		"providers.tf": strings.Replace(cliHeader, "kafka = ", "kfo = ", 1),
		// Override files merge into the example's blocks of the same name.
		"test_override.tf": strings.Replace(e.providerBlock(), `provider "kafka"`, `provider "kfo"`, 1) +
			e.clusterBlock("north_america", "north-america", e.source) + e.clusterBlock("europe", "europe", e.target),
	}
	for _, name := range []string{"variables.tf", "failover.tf"} {
		b, err := os.ReadFile(filepath.Join(example, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(tf.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
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
