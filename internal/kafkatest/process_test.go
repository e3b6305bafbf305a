package kafkatest

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// blockedInKafkatest is what the child process of
// TestTaskStacksShowsWhereTheProjectsGoroutinesWait waits in.
func blockedInKafkatest(ready *os.File) {
	ready.WriteString("blocked\n")
	select {}
}

func TestTaskStacksShowsWhereTheProjectsGoroutinesWait(t *testing.T) {
	if os.Getenv("KFO_TEST_BLOCK") == "1" {
		go blockedInKafkatest(os.Stdout)
		select {}
	}
	log := t.TempDir() + "/child.log"
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTaskStacksShowsWhereTheProjectsGoroutinesWait$")
	cmd.Env = append(os.Environ(), "KFO_TEST_BLOCK=1", "GOTRACEBACK=all")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, "the child blocks", func() (bool, string) {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "blocked\n"), string(b)
	})
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	_ = cmd.Wait()
	logs, _ := os.ReadFile(log)

	got := taskStacks(logs, 1<<20)
	if !strings.Contains(got, "kafkatest.blockedInKafkatest") {
		t.Fatalf("the blocked goroutine is not among the stacks:\n%s\nwhole log:\n%s", got, logs)
	}
	if strings.Contains(got, "SIGQUIT: quit") {
		t.Errorf("the stacks carry the dump's header:\n%s", got)
	}
	if short := taskStacks(logs, 10); !strings.Contains(short, "more in the kept log") || len(short) > 100 {
		t.Errorf("a limit of 10 bytes gave %d bytes: %q", len(short), short)
	}
	if beforeDump(logs) == nil || strings.Contains(string(beforeDump(logs)), "goroutine ") {
		t.Errorf("beforeDump kept the dump: %q", beforeDump(logs))
	}
}
