package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// Apache Kafka refuses group sessions under group.min.session.timeout.ms
// (6 s by default): an agent started with a shorter --session-timeout never
// gets a task. Its mirror's status says so, instead of `starting` forever.
func TestMirrorStatusSaysWhyTheStateClusterRefusesTheAgentsSessionTimeout(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		// One cluster is source, target and state: the session is all
		// this test looks at.
		c := kafkatest.NewClusterOfKind(t, kind, "europe", kafkatest.ClusterOptions{Secure: true, GroupMinSessionTimeout: 6 * time.Second})
		a := startAgentBeside(t, c, "--session-timeout", "3s")
		a.declare("north-america", c)
		a.declare("europe", c)
		a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
			Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
		kafkatest.Eventually(t, time.Minute, "the status says the brokers refuse the session timeout", func() (bool, string) {
			st := a.status("na-to-eu")
			return st.State == agentapi.MirrorFailed && strings.Contains(st.Reason, "INVALID_SESSION_TIMEOUT") &&
				strings.Contains(st.Reason, "--session-timeout 3s") && strings.Contains(st.Reason, "group.min.session.timeout.ms"), fmt.Sprintf("%+v", st)
		})
		t.Logf("status: %s", a.status("na-to-eu").Reason)
	})
}
