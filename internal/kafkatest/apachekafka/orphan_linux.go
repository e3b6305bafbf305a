package apachekafka

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill a node when the test process dies (a
// test binary killed at its -timeout runs no cleanup), so no JVM outlives
// the test on a shared machine.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
