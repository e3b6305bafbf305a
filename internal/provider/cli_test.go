package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// terraformCLI runs the terraform binary of the acceptance tests in a
// directory of its own, against this provider served in the test process:
// what a person running terraform reads, which plan checks cannot see.
type terraformCLI struct {
	t        testing.TB
	bin, dir string
	env      []string
}

const providerAddress = "registry.terraform.io/kafka-failover/kafka"

// cliHeader names the provider in a configuration the terraform CLI runs,
// by its full address: OpenTofu reads "kafka-failover/kafka" as
// registry.opentofu.org/kafka-failover/kafka, which TF_REATTACH_PROVIDERS
// does not name.
const cliHeader = "terraform {\n  required_providers {\n    kafka = { source = \"" + providerAddress + "\" }\n  }\n}\n"

func newTerraformCLI(t testing.TB) *terraformCLI {
	t.Helper()
	skipUnlessAcc(t)
	bin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if bin == "" {
		t.Skip("set TF_ACC_TERRAFORM_PATH to a terraform or tofu binary")
	}
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	served := make(chan error, 1)
	// The provider's logs go where a test's do (TF_LOG, TF_LOG_PATH; none
	// by default), not to stderr at trace level: 36,000 lines of them
	// buried the failure itself in CI's output.
	go func() {
		served <- tf6server.Serve(providerAddress, providerserver.NewProtocol6(New("test")()),
			tf6server.WithDebug(ctx, reattach, closed), tf6server.WithoutLogStderrOverride(),
			tf6server.WithGoPluginLogger(hclog.NewNullLogger()), tf6server.WithLoggingSink(logSinkT{t}))
	}()
	var cfg *plugin.ReattachConfig
	select {
	case cfg = <-reattach:
	case err := <-served:
		cancel()
		t.Fatalf("serve the provider: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-closed
	})
	info, err := json.Marshal(map[string]any{providerAddress: map[string]any{
		"Protocol": string(cfg.Protocol), "ProtocolVersion": cfg.ProtocolVersion, "Pid": cfg.Pid, "Test": cfg.Test,
		"Addr": map[string]string{"Network": cfg.Addr.Network(), "String": cfg.Addr.String()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rc := filepath.Join(dir, ".terraformrc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return &terraformCLI{t: t, bin: bin, dir: dir,
		env: []string{"TF_REATTACH_PROVIDERS=" + string(info), "TF_CLI_CONFIG_FILE=" + rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_LOG="}}
}

// logSinkT lets a benchmark, as well as a test, be the provider's log sink:
// the sink's interface also asks for Parallel, which testing.TB lacks.
type logSinkT struct{ testing.TB }

func (logSinkT) Parallel() {}

// write puts main.tf in the directory, the first time with terraform init.
func (c *terraformCLI) write(config string) {
	c.t.Helper()
	_, statErr := os.Stat(filepath.Join(c.dir, "main.tf"))
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(config), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if os.IsNotExist(statErr) {
		c.run("init", "-input=false")
	}
}

// run runs terraform with args and answers its output; a failure fails the test.
func (c *terraformCLI) run(args ...string) string {
	c.t.Helper()
	out, err := c.try(args...)
	if err != nil {
		c.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// try runs terraform with args and answers its output and error.
func (c *terraformCLI) try(args ...string) (string, error) {
	cmd := exec.Command(c.bin, append([]string{args[0], "-no-color"}, args[1:]...)...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), c.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
