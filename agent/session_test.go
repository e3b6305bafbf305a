package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// Apache Kafka's default floor for group sessions.
var kafkaSessionFloor = kafkatest.ClusterOptions{Secure: true, GroupMinSessionTimeout: 6 * time.Second}

// Apache Kafka refuses group sessions under group.min.session.timeout.ms
// (6 s by default): an agent started with a shorter --session-timeout never
// gets a task. Its mirror's status says so, instead of `starting` forever.
func TestMirrorStatusSaysWhyTheStateClusterRefusesTheAgentsSessionTimeout(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		// One cluster is source, target and state: the session is all
		// this test looks at.
		c := kafkatest.NewClusterOfKind(t, kind, "europe", kafkaSessionFloor)
		a := startAgentBeside(t, c, "--session-timeout", "3s")
		a.declare("north-america", c)
		a.declare("europe", c)
		putMirrorAndWaitRefused(t, a)
		t.Logf("status: %s", a.status("na-to-eu").Reason)
	})
}

// Dev clusters only: Apache Kafka reads group.min.session.timeout.ms at
// start only (see package devcluster).
func TestMirrorStatusDropsTheRefusalOnceTheStateClusterTakesTheSession(t *testing.T) {
	if kafkatest.Kind() == kafkatest.Apache {
		t.Skip("Apache Kafka cannot lower group.min.session.timeout.ms while it runs, and this test needs that")
	}
	src := kafkatest.NewCluster(t, "north-america", kafkatest.ClusterOptions{Secure: true})
	dst := kafkatest.NewCluster(t, "europe", kafkaSessionFloor)
	kafkatest.CreateTopic(t, src.Bootstrap(), "LH.ORDERS", 1, nil, src.ClientOpts()...)
	kafkatest.NewProducer(t, src.Bootstrap(), src.ClientOpts()...).Produce(t, "LH.ORDERS", 1, 10)
	a := startAgentBeside(t, dst, "--session-timeout", "3s")
	a.declare("north-america", src)
	a.declare("europe", dst)
	putMirrorAndWaitRefused(t, a)

	floor := "3000"
	resp, err := kadm.NewClient(kafkatest.ClientOf(t, dst)).AlterBrokerConfigs(context.Background(),
		[]kadm.AlterConfig{{Name: "group.min.session.timeout.ms", Value: &floor}})
	if err == nil {
		err = resp[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	waitMirrored(t, a, map[string]map[int32]int64{"LH.ORDERS": {0: 10}}, time.Minute)
	kafkatest.Eventually(t, 10*time.Second, "the agent joined and copies; the status drops the refusal", func() (bool, string) {
		st := a.status("na-to-eu")
		return st.State == agentapi.MirrorRunning && st.Reason == "", fmt.Sprintf("%s: %q", st.State, st.Reason)
	})
}

// putMirrorAndWaitRefused declares a mirror and waits until its status says
// the state cluster refuses the agent's session timeout of 3s.
func putMirrorAndWaitRefused(t *testing.T, a *agentProc) {
	t.Helper()
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
	kafkatest.Eventually(t, time.Minute, "the status says the brokers refuse the session timeout", func() (bool, string) {
		st := a.status("na-to-eu")
		return st.State == agentapi.MirrorFailed && strings.Contains(st.Reason, "INVALID_SESSION_TIMEOUT") &&
			strings.Contains(st.Reason, "--session-timeout 3s") && strings.Contains(st.Reason, "group.min.session.timeout.ms"), fmt.Sprintf("%+v", st)
	})
}
