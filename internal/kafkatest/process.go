package kafkatest

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BuildAgent builds the agent binary from pkg (a path such as "../../agent")
// into a temporary directory and answers its path.
func BuildAgent(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kafka-failover-agent")
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
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

// Kill ends the process with SIGKILL: no shutdown.
func (d *DevClusterProcess) Kill() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
	d.cmd = nil
}
