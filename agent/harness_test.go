package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
)

// The test binary doubles as the agent: with KFO_TEST_AGENT_ARGS set it runs
// the agent's run() and nothing else, so tests can kill a real agent process.
func TestMain(m *testing.M) {
	if args := os.Getenv("KFO_TEST_AGENT_ARGS"); args != "" {
		if n := os.Getenv("KFO_TEST_NOFILE"); n != "" {
			limitOpenFiles(n) // this child process only, never the test binary's own
		}
		if step := os.Getenv("KFO_TEST_HALT_FAILOVER_AFTER"); step != "" {
			failoverStep = func(policy, s string) {
				if s == step {
					fmt.Println(haltedMarker(policy, step))
					select {} // until the test kills this agent
				}
			}
		}
		if n, err := strconv.Atoi(os.Getenv(readsFormatEnv)); err == nil {
			recordformat.Reads = n // this agent stands for a build that reads up to n
		}
		if n, err := strconv.Atoi(os.Getenv("KFO_TEST_SNAPSHOT_FLOOR")); err == nil {
			mirrorHooks.SnapshotFloor = n
		}
		if step := os.Getenv("KFO_TEST_HALT_MIRROR_AT"); step != "" {
			mirrorHooks.Step = func(mirror, s string) {
				if s == step {
					fmt.Println(mirrorHaltedMarker(mirror, step))
					select {} // until the test kills this agent
				}
			}
		}
		ctx, stop := signalContext()
		defer stop()
		if err := run(ctx, strings.Split(args, "\x1f"), os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if code == 0 {
		if err := writeBenchMM2(); err != nil { // with KFO_BENCH_WRITE=1 only
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// limitOpenFiles lowers the process's file descriptor limit to n, as a
// small container or systemd unit would.
func limitOpenFiles(n string) {
	v, err := strconv.ParseUint(n, 10, 64)
	if err == nil {
		err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: v, Max: v})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "KFO_TEST_NOFILE:", err)
		os.Exit(1)
	}
}

const testToken = "test-token-0123456789abcdef"

// testSecretKey is the text of every test agent's secret key file.
const testSecretKey = "0123456789abcdef0123456789abcdef-test-key"

// haltedMarker is the line an agent started with haltAfter prints when its
// failover reaches the step and stops there.
func haltedMarker(policy, step string) string {
	return "test: failover of policy " + policy + " halted after step " + step
}

// mirrorHaltedMarker is the line an agent started with
// KFO_TEST_HALT_MIRROR_AT prints when a mirror reaches the step (one of
// mirror.Step*) and stops there.
func mirrorHaltedMarker(mirror, step string) string {
	return "test: mirror " + mirror + " halted at " + step
}

// agentProc is one agent process under test.
type agentProc struct {
	t       testing.TB
	url     string
	args    []string
	logPath string
	env     []string // added to the agent's environment on start
	// exe is the agent binary to run; empty: this test binary, which
	// doubles as the agent. A benchmark that reads the agent's memory
	// runs the binary, holding no test code.
	exe string
	cmd *exec.Cmd
}

// startAgent runs an agent beside the state cluster on a free loopback port;
// extra are more flags of run.
func startAgent(t testing.TB, stateBootstrap string, extra ...string) *agentProc {
	t.Helper()
	return startAgentWith(t, stateBootstrap, nil, extra...)
}

// startAgentBeside runs an agent whose state cluster is c, reached the way
// the test's own clients reach it (SASL_SSL when c is secure).
func startAgentBeside(t testing.TB, c kafkatest.Kafka, extra ...string) *agentProc {
	t.Helper()
	return startAgent(t, strings.Join(c.Bootstrap(), ","), append(stateConnFlags(t, c.Declared()), extra...)...)
}

// stateConnFlags writes c's secrets to files and answers the flags that make
// the agent's state connection use them; none for a cluster without SASL.
func stateConnFlags(t testing.TB, c agentapi.Cluster) []string {
	if c.SASL == nil {
		return nil
	}
	dir := t.TempDir()
	files := map[string]string{
		"--state-sasl-password-file": c.SASL.Password,
		"--state-tls-ca-file":        c.TLS.CAPEM,
		"--state-tls-cert-file":      c.TLS.CertPEM,
		"--state-tls-key-file":       c.TLS.KeyPEM,
	}
	args := []string{"--state-sasl-mechanism", c.SASL.Mechanism, "--state-sasl-username", c.SASL.Username}
	for flag, text := range files {
		path := filepath.Join(dir, strings.TrimPrefix(flag, "--state-"))
		if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, flag, path)
	}
	return args
}

// declare stores c in the agent under name.
func (a *agentProc) declare(name string, c kafkatest.Kafka) {
	a.t.Helper()
	d := c.Declared()
	d.Name = name
	a.mustPut("/v1/clusters/"+name, d)
}

// startAgentWith is startAgent with variables added to the agent's
// environment, e.g. KFO_TEST_HALT_FAILOVER_AFTER.
func startAgentWith(t testing.TB, stateBootstrap string, env []string, extra ...string) *agentProc {
	t.Helper()
	a := newAgentProc(t, stateBootstrap, env, extra...)
	a.start()
	return a
}

// newAgentProc prepares an agent beside the state cluster and stops it when
// the test ends; start runs it.
func newAgentProc(t testing.TB, stateBootstrap string, env []string, extra ...string) *agentProc {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	key := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(token, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte(testSecretKey), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := kafkatest.FreeAddr(t)
	a := &agentProc{
		t:       t,
		url:     "http://" + addr,
		logPath: filepath.Join(dir, "agent.log"),
		env:     env,
		args:    []string{"run", "--listen", addr, "--state-bootstrap", stateBootstrap, "--token-file", token, "--secret-key-file", key, "--session-timeout", "3s"},
	}
	a.args = append(a.args, extra...)
	t.Cleanup(func() {
		if t.Failed() {
			a.dumpGoroutines()
		}
		a.stop()
		if t.Failed() {
			n := 8 << 10
			if v, err := strconv.Atoi(os.Getenv("KFO_TEST_LOG_TAIL")); err == nil {
				n = v // bytes of the agent log to show on failure
			}
			kafkatest.LogFailedAgent(t, a.logPath, n)
		}
	})
	return a
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (a *agentProc) start() {
	a.t.Helper()
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		a.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), a.env...), "KFO_TEST_AGENT_ARGS="+strings.Join(a.args, "\x1f"))
	if a.exe != "" {
		cmd = exec.Command(a.exe, a.args...)
		cmd.Env = append(os.Environ(), a.env...)
	}
	cmd.Env = append(cmd.Env, "GOTRACEBACK=all") // every goroutine in dumpGoroutines
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	logf.Close()
	a.cmd = cmd
	kafkatest.Eventually(a.t, 30*time.Second, "agent answers /readyz", func() (bool, string) {
		resp, err := http.Get(a.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

// waitLogged waits until a line of the agent's log holds every fragment.
func (a *agentProc) waitLogged(t testing.TB, timeout time.Duration, fragments ...string) {
	t.Helper()
	kafkatest.Eventually(t, timeout, fmt.Sprintf("the agent logs a line with %q", fragments), func() (bool, string) {
		logs, err := os.ReadFile(a.logPath)
		if err != nil {
			return false, err.Error()
		}
		for line := range bytes.Lines(logs) {
			if !slices.ContainsFunc(fragments, func(f string) bool { return !bytes.Contains(line, []byte(f)) }) {
				return true, ""
			}
		}
		return false, string(tail(logs, 1000))
	})
}

// agentIDOf is the id the agent reports in status: hostname/listen address.
func agentIDOf(a *agentProc) string {
	host, _ := os.Hostname()
	return host + "/" + strings.TrimPrefix(a.url, "http://")
}

// signal sends sig to the agent process, e.g. SIGSTOP to freeze it.
func (a *agentProc) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// kill9 kills the agent with SIGKILL: no shutdown, no leaving the group.
func (a *agentProc) kill9() {
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	_ = a.cmd.Wait()
	a.cmd = nil
}

func (a *agentProc) stop() {
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		a.t.Errorf("agent did not stop within 20s of SIGTERM")
		a.kill9()
	}
	a.cmd = nil
}

// call sends a request to the API with the token and decodes a JSON answer.
func (a *agentProc) call(method, path string, body any, out any) int {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, a.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s answered %d with %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// mustPut PUTs an object and fails the test unless it is stored.
func (a *agentProc) mustPut(path string, body any) {
	a.t.Helper()
	var e agentapi.Error
	if code := a.call("PUT", path, body, &e); code != 200 && code != 201 {
		a.t.Fatalf("PUT %s: %d %+v", path, code, e.Error)
	}
}

// statusOf answers a mirror's status.
func (a *agentProc) statusOf(mirror string) agentapi.MirrorStatus { return a.status(mirror) }

// status answers a mirror's status.
func (a *agentProc) status(mirror string) agentapi.MirrorStatus {
	var st agentapi.MirrorStatus
	a.call("GET", "/v1/mirrors/"+mirror+"/status", nil, &st)
	return st
}

// devClusterProc is a dev cluster running in its own process, so that a
// test can kill it the way a region is lost.
type devClusterProc struct {
	cmd       *exec.Cmd
	args      []string
	bootstrap string
	logPath   string
}

// startDevCluster runs `dev-cluster` in a process of its own on a fixed
// port and data dir, so that it can be killed and started again.
func startDevCluster(t testing.TB, name string) *devClusterProc {
	t.Helper()
	dir := t.TempDir()
	d := &devClusterProc{
		bootstrap: kafkatest.FreeAddr(t),
		logPath:   filepath.Join(dir, name+".log"),
	}
	d.args = []string{"dev-cluster", "--name", name, "--listen", d.bootstrap, "--data-dir", filepath.Join(dir, "data")}
	d.start(t)
	t.Cleanup(d.kill9)
	return d
}

func (d *devClusterProc) start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KFO_TEST_AGENT_ARGS="+strings.Join(d.args, "\x1f"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.cmd = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Process.Signal(syscall.Signal(0)); _, _ = cmd.Process.Wait(); close(exited) }()
	kafkatest.Eventually(t, 30*time.Second, "dev cluster listens on "+d.bootstrap, func() (bool, string) {
		select {
		case <-exited:
			out, _ := os.ReadFile(d.logPath)
			t.Fatalf("dev-cluster %v exited: %s", d.args, out)
		default:
		}
		c, err := net.DialTimeout("tcp", d.bootstrap, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// kill9 loses the cluster at once, as a region is lost.
func (d *devClusterProc) kill9() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	_ = d.cmd.Wait()
	d.cmd = nil
}

func (d *devClusterProc) addrs() []string { return []string{d.bootstrap} }

func jsonRoundTrip(v any) ([]byte, error) { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// dumpGoroutines asks a running agent for its goroutines (SIGQUIT: the Go
// runtime writes them to the log and exits), so that a test that failed
// on a stall shows where the agent was stuck.
func (a *agentProc) dumpGoroutines() {
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-done
	}
	a.cmd = nil
}
