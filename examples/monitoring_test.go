// Package examples holds the tests of the example files: the monitoring
// rules, the Kubernetes manifests and the DNS redirection configuration.
package examples

import (
	"os"
	"os/exec"
	"testing"
)

// The alerting rules are valid Prometheus rules and do what their unit
// tests (alerts_test.yml) say, per promtool.
func TestMonitoringAlertsPassPromtoolCheckAndUnitTests(t *testing.T) {
	promtool := os.Getenv("KFO_PROMTOOL")
	if promtool == "" {
		t.Skip("KFO_PROMTOOL is unset: run make test, which installs promtool (Debian package prometheus) through scripts/ensure-tools.sh")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "monitoring"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
