package provider

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestDevOverridesOfTheDocsWorkWithTheCLI takes the CLI configuration that
// docs/index.md gives for running the provider without a registry, points
// it at a freshly built provider, and validates a configuration that names
// the provider as users do (source = "kafka-failover/kafka") without
// terraform init. It runs with the CLI of TF_ACC_TERRAFORM_PATH (or
// terraform on the PATH): Terraform and OpenTofu expand that source to
// different registry hosts, and the docs must serve both.
func TestDevOverridesOfTheDocsWorkWithTheCLI(t *testing.T) {
	cli := cliOrSkip(t, "to check the docs' dev_overrides")
	docs, err := os.ReadFile("../../docs/index.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```hcl\n(# ~/.terraformrc[^`]*dev_overrides[^`]*)```").FindSubmatch(docs)
	if m == nil {
		t.Fatal("docs/index.md has no ```hcl block with the provider_installation of ~/.terraformrc")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(bin, "terraform-provider-kafka"), "../../provider").CombinedOutput(); err != nil {
		t.Fatalf("build the provider: %v\n%s", err, out)
	}
	rc := strings.ReplaceAll(string(m[1]), "/path/to/kafka-failover/bin", bin)
	writeFile(t, filepath.Join(tmp, "cli.tfrc"), rc)
	work := filepath.Join(tmp, "work")
	writeFile(t, filepath.Join(work, "main.tf"), `terraform {
  required_providers {
    kafka = { source = "kafka-failover/kafka" }
  }
}

provider "kafka" {
  agent_url = "https://agent.europe:8443"
}

resource "kafka_cluster" "europe" {
  name              = "europe"
  bootstrap_servers = ["kafka.europe:9093"]
}
`)
	cmd := exec.Command(cli, "validate", "-no-color")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(tmp, "cli.tfrc"), "CHECKPOINT_DISABLE=1", "TF_REATTACH_PROVIDERS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s validate with the docs' dev_overrides: %v\n%s", cli, err, out)
	}
}
