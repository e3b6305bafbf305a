package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func TestDevClusterKeepsItsDataAcrossRestarts(t *testing.T) {
	d := startDevCluster(t, "north-america")
	kafkatest.CreateTopic(t, d.addrs(), "LH.ORDERS", 2, nil)
	kafkatest.NewProducer(t, d.addrs()).Produce(t, "LH.ORDERS", 2, 250)
	before := kafkatest.ReadAll(t, d.addrs(), "LH.ORDERS")

	// SIGTERM, as an operator stops it, then the same flags again.
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	_ = d.cmd.Wait()
	d.cmd = nil
	d.start(t)
	after := kafkatest.ReadAll(t, d.addrs(), "LH.ORDERS")
	for p, recs := range before {
		if len(after[p]) != len(recs) {
			t.Fatalf("LH.ORDERS[%d]: %d records before the restart, %d after", p, len(recs), len(after[p]))
		}
		for i := range recs {
			if !recs[i].Equal(after[p][i]) {
				t.Fatalf("LH.ORDERS[%d] record %d changed across the restart", p, i)
			}
		}
	}
}

func TestDevClusterRunsTheBrokersItIsAskedFor(t *testing.T) {
	addr := kafkatest.FreePorts(t, 3)
	host, port, _ := net.SplitHostPort(addr)
	d := &devClusterProc{bootstrap: addr, logPath: filepath.Join(t.TempDir(), "dev.log"),
		args: []string{"dev-cluster", "--name", "europe", "--listen", addr, "--brokers", "3"}}
	d.start(t)
	t.Cleanup(d.kill9)
	brokers, err := kadm.NewClient(kafkatest.Client(t, d.addrs())).ListBrokers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(brokers) != 3 {
		t.Fatalf("dev-cluster --brokers 3 on %s runs %d brokers", addr, len(brokers))
	}
	for _, b := range brokers {
		if b.Host != host {
			t.Fatalf("broker %d advertises %s, want %s (port %s and the next ones)", b.NodeID, b.Host, host, port)
		}
	}
}

func TestEveryRunFlagAlsoComesFromTheEnvironment(t *testing.T) {
	env := map[string]string{
		"KFO_LISTEN": "127.0.0.1:9999", "KFO_STATE_BOOTSTRAP": "eu-1:9092,eu-2:9092", "KFO_TOKEN_FILE": "/run/token",
		"KFO_SECRET_KEY_FILE": "/run/key", "KFO_TLS_CERT_FILE": "/run/crt", "KFO_TLS_KEY_FILE": "/run/tls-key",
		"KFO_SESSION_TIMEOUT": "7s", "KFO_AGENT_ID": "eu-agent-1",
		"KFO_STATE_SASL_MECHANISM": "SCRAM-SHA-512", "KFO_STATE_SASL_USERNAME": "agent", "KFO_STATE_SASL_PASSWORD_FILE": "/run/state-pw",
		"KFO_STATE_TLS_CA_FILE": "/run/ca.pem", "KFO_STATE_TLS_CERT_FILE": "/run/state.crt", "KFO_STATE_TLS_KEY_FILE": "/run/state.key",
		"KFO_STATE_TLS_INSECURE_SKIP_VERIFY": "true",
	}
	f, err := parseAgentFlags(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	st := f.state
	got := []string{f.listen, f.stateBootstrap, f.tokenFile, f.secretKeyFile, f.tlsCert, f.tlsKey, f.sessionTimeout.String(), f.agentID,
		st.saslMechanism, st.saslUsername, st.saslPasswordFile, st.tlsCAFile, st.tlsCertFile, st.tlsKeyFile, fmt.Sprint(st.tlsInsecure, st.tls)}
	want := []string{"127.0.0.1:9999", "eu-1:9092,eu-2:9092", "/run/token", "/run/key", "/run/crt", "/run/tls-key", "7s", "eu-agent-1",
		"SCRAM-SHA-512", "agent", "/run/state-pw", "/run/ca.pem", "/run/state.crt", "/run/state.key", "true true"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("flags from the environment: %v, want %v", got, want)
	}
	// A flag wins over its variable.
	f, _ = parseAgentFlags([]string{"--listen", "127.0.0.1:1"}, func(k string) string { return env[k] })
	if f.listen != "127.0.0.1:1" {
		t.Fatalf("--listen did not win over KFO_LISTEN: %s", f.listen)
	}
	// A missing required setting names the flag and the variable.
	if _, err := parseAgentFlags(nil, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "KFO_STATE_BOOTSTRAP") {
		t.Fatalf("missing --state-bootstrap: %v", err)
	}
}

func TestStateConnectionFlagsThatDoNotGoTogetherAreRefusedNamingTheFlag(t *testing.T) {
	base := []string{"--state-bootstrap", "eu-1:9092", "--token-file", "/run/token"}
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"--state-sasl-mechanism", "GSSAPI", "--state-sasl-username", "u", "--state-sasl-password-file", "/f"}, "--state-sasl-mechanism"},
		{[]string{"--state-sasl-mechanism", "SCRAM-SHA-512", "--state-sasl-username", "u"}, "--state-sasl-password-file"},
		{[]string{"--state-sasl-username", "u", "--state-sasl-password-file", "/f"}, "--state-sasl-mechanism"},
		{[]string{"--state-tls-cert-file", "/c"}, "--state-tls-key-file"},
	} {
		_, err := parseAgentFlags(append(base, tc.args...), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%v: err %v; want one naming %s", tc.args, err, tc.mention)
		}
	}
	if _, err := parseAgentFlags(base, func(k string) string { return map[string]string{"KFO_STATE_TLS": "yes please"}[k] }); err == nil || !strings.Contains(err.Error(), "KFO_STATE_TLS") {
		t.Errorf("KFO_STATE_TLS=yes please: err %v; want one naming KFO_STATE_TLS", err)
	}
	// A CA file that holds no certificate fails at start, naming the flags.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(ca, []byte("not a certificate"), 0o600)
	f, err := parseAgentFlags(append(base, "--state-tls-ca-file", ca), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.state.conn(f.stateBootstrap); err == nil || !strings.Contains(err.Error(), "--state-tls") {
		t.Errorf("a CA file without a certificate: err %v; want one naming --state-tls-*", err)
	}
}

func TestTheAPIServesTLSWhenGivenACertificate(t *testing.T) {
	state := kafkatest.Cluster(t, "europe")
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	crt, key := filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key")
	_ = os.WriteFile(crt, certPEM, 0o600)
	_ = os.WriteFile(key, keyPEM, 0o600)
	a := &agentProc{t: t, logPath: filepath.Join(dir, "agent.log")}
	addr := kafkatest.FreeAddr(t)
	token := filepath.Join(dir, "token")
	_ = os.WriteFile(token, []byte(testToken), 0o600)
	a.args = []string{"run", "--listen", addr, "--state-bootstrap", state.BootstrapString(), "--token-file", token, "--tls-cert-file", crt, "--tls-key-file", key}
	a.url = "https://" + addr
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	saved := http.DefaultClient
	http.DefaultClient = client // the harness's readiness probe speaks TLS too
	t.Cleanup(func() { http.DefaultClient = saved })
	a.start()
	t.Cleanup(a.stop)
	resp, err := client.Get(a.url + "/healthz")
	if err != nil {
		t.Fatalf("GET https://%s/healthz: %v", addr, err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.StatusCode != 200 {
		t.Fatalf("healthz over TLS: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		// Plain HTTP to a TLS listener gets a 400 page or a reset, never the API.
		r, _ := saved.Get("http://" + addr + "/healthz")
		if r != nil && r.StatusCode == 200 {
			t.Fatal("the API answered plain HTTP although it serves TLS")
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kafka-failover-agent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// TestTheAgentSaysTheVersionItWasBuiltWith builds the agent the way a release
// does (-X main.version) and asks it, both ways an operator would.
func TestTheAgentSaysTheVersionItWasBuiltWith(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kafka-failover-agent")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=9.8.7-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, arg, err, out)
		}
		if got, want := strings.TrimSpace(string(out)), "kafka-failover-agent 9.8.7-test"; got != want {
			t.Errorf("%s answers %q, want %q", arg, got, want)
		}
	}
}
