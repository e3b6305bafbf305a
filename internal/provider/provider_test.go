package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentclient"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

var testProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"kafka": providerserver.NewProtocol6WithError(New("test")()),
}

// TestMain names the provider registry.terraform.io/kafka-failover/kafka in
// the tests' configurations, as users do. terraform-plugin-testing's default
// namespace "-" is accepted by Terraform but refused by OpenTofu.
func TestMain(m *testing.M) {
	if os.Getenv("TF_ACC_PROVIDER_NAMESPACE") == "" {
		os.Setenv("TF_ACC_PROVIDER_NAMESPACE", "kafka-failover")
	}
	code := m.Run()
	if agentBin.dir != "" {
		os.RemoveAll(agentBin.dir)
	}
	os.Exit(code)
}

// skipUnlessAcc skips before any cluster starts; resource.Test would skip
// too, but only after the test paid for its set-up.
func skipUnlessAcc(t testing.TB) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 and TF_ACC_TERRAFORM_PATH to a terraform or tofu binary (make testacc does both)")
	}
}

// accEnv is a real agent process beside a target cluster, and a source
// cluster. Every connection is secure: the provider reaches the agent over
// HTTPS, and the agent reaches both clusters and its state (the target)
// with SASL_SSL and a client certificate.
type accEnv struct {
	url, token     string
	caPEM          string // of the agent's HTTPS certificate
	source, target kafkatest.Kafka
	client         *agentclient.Client
	// writeOnly says the CLI under test takes write-only attributes
	// (Terraform 1.11+); the clusters' passwords and client keys are given
	// as password_wo and key_pem_wo then, as the sensitive password and
	// key_pem otherwise (OpenTofu, older Terraform).
	writeOnly bool
}

// providerBlock configures the provider for the test's agent.
func (e *accEnv) providerBlock() string {
	return fmt.Sprintf("provider \"kafka\" {\n  agent_url = %q\n  token     = %q\n  ca_pem    = %q\n  retry_max = 2\n}\n", e.url, e.token, e.caPEM)
}

// clusterBlock declares c as the kafka_cluster res named name, with the
// SASL user, password and TLS material the agent connects with.
func (e *accEnv) clusterBlock(res, name string, c kafkatest.Kafka) string {
	d := c.Declared()
	var b strings.Builder
	fmt.Fprintf(&b, "resource \"kafka_cluster\" %q {\n  name              = %q\n  bootstrap_servers = %s\n", res, name, hclList(c.Bootstrap()))
	if d.SASL != nil {
		password := fmt.Sprintf("password = %q", d.SASL.Password)
		if e.writeOnly {
			password = fmt.Sprintf("password_wo = %q\n    password_wo_version = 1", d.SASL.Password)
		}
		fmt.Fprintf(&b, "  sasl = {\n    mechanism = %q\n    username  = %q\n    %s\n  }\n", d.SASL.Mechanism, d.SASL.Username, password)
	}
	if d.TLS != nil {
		key := fmt.Sprintf("key_pem  = %q", d.TLS.KeyPEM)
		if e.writeOnly {
			key = fmt.Sprintf("key_pem_wo = %q\n    key_pem_wo_version = 1", d.TLS.KeyPEM)
		}
		fmt.Fprintf(&b, "  tls = {\n    ca_pem   = %q\n    cert_pem = %q\n    %s\n  }\n", d.TLS.CAPEM, d.TLS.CertPEM, key)
	}
	b.WriteString("}\n")
	return b.String()
}

// sourceOpts and targetOpts connect the test's own clients to the clusters.
func (e *accEnv) sourceOpts() []kgo.Opt { return e.source.ClientOpts() }
func (e *accEnv) targetOpts() []kgo.Opt { return e.target.ClientOpts() }

// startEnv starts two secure clusters of the kind KFO_TEST_KAFKA selects,
// on loopback, and an agent on the target one; all stop when the test ends.
func startEnv(t testing.TB) *accEnv {
	t.Helper()
	return startEnvOfKind(t, kafkatest.Kind())
}

// startEnvOfKind is startEnv on clusters of kind, for the short set
// (kafkatest.EachKind).
func startEnvOfKind(t testing.TB, kind string) *accEnv {
	t.Helper()
	skipUnlessAcc(t)
	e := &accEnv{token: "acceptance-test-token-0123456789", writeOnly: cliTakesWriteOnly(t)}
	secure := kafkatest.ClusterOptions{Secure: true}
	e.source = kafkatest.NewClusterOfKind(t, kind, "north-america", secure)
	e.target = kafkatest.NewClusterOfKind(t, kind, "europe", secure)
	certs, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	e.caPEM = certs.CAPEM
	dir := t.TempDir()
	file := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	state := e.target.Declared()
	addr := kafkatest.FreeAddr(t)
	e.url = "https://" + addr
	args := []string{"run", "--listen", addr, "--state-bootstrap", strings.Join(state.BootstrapServers, ","),
		"--token-file", file("token", e.token), "--secret-key-file", file("secret.key", "acceptance-test-secret-key-0123456789abcdef"),
		"--tls-cert-file", file("agent.crt", certs.ServerCertPEM), "--tls-key-file", file("agent.key", certs.ServerKeyPEM),
		"--agent-id", "acc-" + t.Name(), "--session-timeout", "3s",
		"--state-sasl-mechanism", state.SASL.Mechanism, "--state-sasl-username", state.SASL.Username,
		"--state-sasl-password-file", file("state-password", state.SASL.Password),
		"--state-tls-ca-file", file("state-ca.crt", state.TLS.CAPEM),
		"--state-tls-cert-file", file("state.crt", state.TLS.CertPEM), "--state-tls-key-file", file("state.key", state.TLS.KeyPEM)}
	startAgentProcess(t, filepath.Join(dir, "agent.log"), e.url, e.caPEM, args)
	if e.client, err = agentclient.New(agentclient.Config{BaseURL: e.url, Token: e.token, CAPEM: e.caPEM}); err != nil {
		t.Fatal(err)
	}
	return e
}

// agentBin is the agent binary, built once for the package's tests.
var agentBin struct {
	once      sync.Once
	dir, path string
	err       error
}

func buildAgent(t testing.TB) string {
	t.Helper()
	agentBin.once.Do(func() {
		if agentBin.dir, agentBin.err = os.MkdirTemp("", "kfo-provider-test-"); agentBin.err != nil {
			return
		}
		agentBin.path = filepath.Join(agentBin.dir, "kafka-failover-agent")
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", agentBin.path, "../../agent").CombinedOutput()
		if err != nil {
			agentBin.err = fmt.Errorf("build the agent: %v\n%s", err, out)
		}
	})
	if agentBin.err != nil {
		t.Fatal(agentBin.err)
	}
	return agentBin.path
}

// startAgentProcess runs the agent binary with args until the test ends,
// its output in logPath (shown when the test fails), and waits until its
// HTTPS API at url, signed by caPEM, answers /readyz.
func startAgentProcess(t testing.TB, logPath, url, caPEM string, args []string) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(buildAgent(t), args...)
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all") // every goroutine in the dump
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// A failed test's agent is asked for its goroutines (SIGQUIT), so
		// that a stall shows where the agent waited.
		failed := t.Failed()
		sig := syscall.SIGTERM
		if failed {
			sig = syscall.SIGQUIT
		}
		_ = cmd.Process.Signal(sig)
		select {
		case err := <-exited:
			if err != nil && !failed {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("agent did not stop within 20s of %v", sig)
			_ = cmd.Process.Kill()
			<-exited
		}
		if failed {
			kafkatest.LogFailedAgent(t, logPath, 8<<10)
		}
	})
	kafkatest.AwaitReady(t, url, caPEM, exited)
}

// cliTakesWriteOnly says whether the CLI under test is Terraform 1.11 or
// later, which takes write-only attributes.
func cliTakesWriteOnly(t testing.TB) bool {
	t.Helper()
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if cli == "" {
		cli = "terraform" // terraform-plugin-testing looks it up on the PATH
	}
	v, err := exec.Command(cli, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", cli, err)
	}
	return writeOnlyAware(string(v))
}

// hclList writes addresses as an HCL list of strings.
func hclList(addrs []string) string {
	q := make([]string, len(addrs))
	for i, a := range addrs {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
