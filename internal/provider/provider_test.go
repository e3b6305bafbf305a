package provider

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/kafka-failover/kafka-failover/internal/agent"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
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
	os.Exit(m.Run())
}

// skipUnlessAcc skips before any cluster starts; resource.Test would skip
// too, but only after the test paid for its set-up.
func skipUnlessAcc(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 and TF_ACC_TERRAFORM_PATH to a terraform or tofu binary (make testacc does both)")
	}
}

// accEnv is a real agent beside a target cluster, and a source cluster.
type accEnv struct {
	url, token     string
	source, target *devcluster.Cluster
	client         *agentclient.Client
}

// providerBlock configures the provider for the test's agent.
func (e *accEnv) providerBlock() string {
	return fmt.Sprintf("provider \"kafka\" {\n  agent_url = %q\n  token     = %q\n  retry_max = 2\n}\n", e.url, e.token)
}

// startEnv starts two development clusters on loopback and an agent on the
// target one; all stop when the test ends.
func startEnv(t *testing.T) *accEnv {
	t.Helper()
	skipUnlessAcc(t)
	e := &accEnv{token: "acceptance-test-token-0123456789"}
	e.source = kafkatest.Cluster(t, "north-america")
	e.target = kafkatest.Cluster(t, "europe")
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(keyFile, []byte("acceptance-test-secret-key-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{
			Listen:         "127.0.0.1:0",
			State:          kafkaconn.Conn{BootstrapServers: e.target.Bootstrap()},
			Token:          e.token,
			SecretKeyFile:  keyFile,
			AgentID:        "acc-" + t.Name(),
			SessionTimeout: 3 * time.Second,
			Ready:          func(url string) { urls <- url },
		}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	select {
	case e.url = <-urls:
	case err := <-done:
		t.Fatalf("agent stopped before listening: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("agent did not listen within 90s")
	}
	var err error
	if e.client, err = agentclient.New(agentclient.Config{BaseURL: e.url, Token: e.token}); err != nil {
		t.Fatal(err)
	}
	return e
}
