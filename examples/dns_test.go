package examples

import (
	"os"
	"os/exec"
	"testing"
)

// The DNS redirection example is in terraform's canonical format.
func TestDNSRedirectionExampleIsFormatted(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is unset: `make test` sets it (scripts/ensure-tools.sh)")
	}
	cmd := exec.Command(tf, "fmt", "-check", "-diff", "-recursive", "dns-redirection")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out)
	}
}
