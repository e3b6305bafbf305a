//go:build !linux

package apachekafka

import "os/exec"

// dieWithTest does nothing where the kernel cannot tie a child's life to
// its parent's: cleanup still stops the nodes.
func dieWithTest(*exec.Cmd) {}
