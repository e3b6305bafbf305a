package kafkatest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

// BuildAgent builds the agent binary from pkg (a path such as "../../agent")
// into a temporary directory and answers its path; flags go to go build
// (for example "-tags", "kfo_pprof").
func BuildAgent(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kafka-failover-agent")
	args := append(append([]string{"build", "-o", bin}, flags...), pkg)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("build the agent: %v\n%s", err, out)
	}
	return bin
}

// DevClusterProcess is a dev cluster in a process of its own: a benchmark's
// own heap and CPU then hold only the agent side, and a test can kill it the
// way a region is lost.
type DevClusterProcess struct {
	cmd       *exec.Cmd
	Bootstrap []string
}

// StartDevClusterProcess runs `bin dev-cluster` on a free loopback port; it
// is killed when the test ends.
func StartDevClusterProcess(t testing.TB, bin, name string) *DevClusterProcess {
	t.Helper()
	cmd := exec.Command(bin, "dev-cluster", "--name", name, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GODEBUG="+keepFreedMemory(os.Getenv("GODEBUG")))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &DevClusterProcess{cmd: cmd}
	t.Cleanup(d.Kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dev-cluster %s: %v", name, err)
	}
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "bootstrap ")
	if !ok {
		t.Fatalf("dev-cluster %s printed %q", name, line)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	d.Bootstrap = strings.Split(addr, ",")
	return d
}

// keepFreedMemory adds madvdontneed=0 to a GODEBUG value. kfake keeps every
// record in its heap, which grows and shrinks by hundreds of MB while a
// benchmark runs; by default Go hands freed pages back to the kernel at once
// and faults them in again later. On the VMs this project runs on, that
// stalled every process on the machine for 100-300 ms at a time (the lag
// benchmark's no-copy reference read its own source at p99 113-243 ms; with
// MADV_FREE, 7-36 ms). The clusters stand in for brokers that would not
// share the agent's machine.
func keepFreedMemory(godebug string) string {
	if godebug == "" {
		return "madvdontneed=0"
	}
	return godebug + ",madvdontneed=0"
}

// Kill ends the process with SIGKILL: no shutdown.
func (d *DevClusterProcess) Kill() { killProcess(&d.cmd) }

// killProcess ends *cmd with SIGKILL, waits for it, and forgets it.
func killProcess(cmd **exec.Cmd) {
	if *cmd == nil {
		return
	}
	_ = (*cmd).Process.Kill()
	_ = (*cmd).Wait()
	*cmd = nil
}

// AwaitReady waits until the agent at url (https, its certificate signed by
// caPEM) answers /readyz. A value on exited, the agent process's end, fails
// the test at once; it is put back for the test's cleanup to read.
func AwaitReady(t testing.TB, url, caPEM string, exited chan error) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caPEM))
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	Eventually(t, 90*time.Second, "the agent answers "+url+"/readyz", func() (bool, string) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the agent ended before it was ready: %v", err)
		default:
		}
		resp, err := hc.Get(url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// dumpStart begins the goroutine dump the Go runtime writes on SIGQUIT.
var dumpStart = []byte("\nSIGQUIT: quit")

// beforeDump is an agent's own log, without the goroutine dump after it.
func beforeDump(logs []byte) []byte {
	if i := bytes.Index(logs, dumpStart); i >= 0 {
		return logs[:i+1]
	}
	return logs
}

// LogFailedAgent reports a failed test's agent log at logPath (written by an
// agent sent SIGQUIT, with GOTRACEBACK=all): where it is kept whole, its last
// tailBytes before the goroutine dump, and the dump's goroutines in this
// project's code.
func LogFailedAgent(t testing.TB, logPath string, tailBytes int) {
	t.Helper()
	logs, _ := os.ReadFile(logPath)
	own := beforeDump(logs)
	t.Logf("agent log %s, kept whole with its goroutine dump at %s (last %d bytes before the dump):\n%s\nits goroutines in this project's code:\n%s",
		logPath, keepLog(t, logs), tailBytes, own[max(0, len(own)-tailBytes):], taskStacks(logs, 24<<10))
}

// keepLog copies a failed test's agent log where it outlives the test
// (KFO_TEST_ARTIFACTS, else the system's temporary directory).
func keepLog(t testing.TB, logs []byte) string {
	dir := os.Getenv("KFO_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "kfo-test-logs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "(not kept: " + err.Error() + ")"
	}
	f, err := os.CreateTemp(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-*.log")
	if err != nil {
		return "(not kept: " + err.Error() + ")"
	}
	defer f.Close()
	_, _ = f.Write(logs)
	return f.Name()
}

// taskStacks answers the goroutines of a goroutine dump (what the Go runtime
// writes on SIGQUIT) that run this project's internal packages, at most limit
// bytes: what a failed test prints, so that a stall in CI shows where the
// agent waited even when the kept log is out of reach.
func taskStacks(logs []byte, limit int) string {
	i := bytes.Index(logs, dumpStart)
	if i < 0 {
		return ""
	}
	var out bytes.Buffer
	for _, g := range bytes.Split(logs[i:], []byte("\n\ngoroutine ")) {
		if !bytes.Contains(g, []byte("kafka-failover/internal/")) || bytes.Contains(g, dumpStart[1:]) {
			continue
		}
		if out.Len()+len(g) > limit {
			out.WriteString("goroutine … (more in the kept log)\n")
			break
		}
		out.WriteString("goroutine ")
		out.Write(g)
		out.WriteString("\n\n")
	}
	return out.String()
}

// Freeze stops the process with SIGSTOP: its sockets stay open and nothing
// answers, as when a region's network is cut. Thaw resumes it with its
// data, so that a benchmark can lose a region and bring it back.
func (d *DevClusterProcess) Freeze() { d.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process.
func (d *DevClusterProcess) Thaw() { d.signal(syscall.SIGCONT) }

func (d *DevClusterProcess) signal(s os.Signal) {
	if d.cmd != nil {
		_ = d.cmd.Process.Signal(s)
	}
}

// AgentProcess is the built agent binary running in a process of its own,
// for a benchmark in a package that cannot start the agent in-process (the
// agent imports it). API is its HTTP API, through the provider's client.
type AgentProcess struct {
	cmd     *exec.Cmd
	URL     string
	API     *agentclient.Client
	logPath string
}

// AgentToken is the bearer token of every AgentProcess.
const AgentToken = "bench-token-0123456789abcdef"

// StartAgentProcess runs `bin run` on a free loopback port beside the state
// cluster, and waits until it answers /readyz; it is killed when the test
// ends, and its log reported if the test failed.
func StartAgentProcess(t testing.TB, bin string, state []string) *AgentProcess {
	t.Helper()
	dir := t.TempDir()
	token, key := filepath.Join(dir, "token"), filepath.Join(dir, "secret.key")
	if err := os.WriteFile(token, []byte(AgentToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef-bench-key"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	a := &AgentProcess{URL: "http://" + addr, logPath: filepath.Join(dir, "agent.log")}
	logf, err := os.Create(a.logPath)
	if err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command(bin, "run", "--listen", addr, "--state-bootstrap", strings.Join(state, ","),
		"--token-file", token, "--secret-key-file", key, "--session-timeout", "3s")
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Kill()
		logf.Close()
		if t.Failed() {
			LogFailedAgent(t, a.logPath, 8<<10)
		}
	})
	if a.API, err = agentclient.New(agentclient.Config{BaseURL: a.URL, Token: AgentToken}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 90*time.Second, "the agent answers "+a.URL+"/readyz", func() (bool, string) {
		resp, err := http.Get(a.URL + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return a
}

// Kill ends the agent with SIGKILL.
func (a *AgentProcess) Kill() { killProcess(&a.cmd) }
