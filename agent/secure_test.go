package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

func TestMirrorStatusSaysWhyATLSSourceCannotBeRead(t *testing.T) {
	src := kafkatest.NewClusterOfKind(t, kafkatest.Dev, "north-america", kafkatest.ClusterOptions{Secure: true})
	dst := kafkatest.Cluster(t, "europe")
	a := startAgent(t, dst.BootstrapString())
	other, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	declared := src.Declared()
	declared.TLS.CAPEM = other.CAPEM // not the CA that signed the brokers
	a.mustPut("/v1/clusters/north-america", declared)
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: dst.Bootstrap()})
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
	kafkatest.Eventually(t, 30*time.Second, "the status says the source's certificate is not trusted", func() (bool, string) {
		st := a.status("na-to-eu")
		return st.State == agentapi.MirrorFailed && strings.Contains(st.Reason, "certificate"), fmt.Sprintf("%+v", st)
	})
}
