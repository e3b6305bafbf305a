package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

func TestMirrorCopiesExactlyOnceOverSASLSSLOnApacheKafka(t *testing.T) {
	mirrorExactlyOnceOverSASLSSL(t, kafkatest.Apache)
}

func TestMirrorCopiesExactlyOnceOverSASLSSLOnDevClusters(t *testing.T) {
	mirrorExactlyOnceOverSASLSSL(t, kafkatest.Dev)
}

// mirrorExactlyOnceOverSASLSSL mirrors between two clusters that take TLS
// and SCRAM-SHA-512 only (with a client certificate), the target also being
// the agent's state cluster, reached through the --state-* flags. It kills
// the agent with SIGKILL while it copies, and finds the target holding
// every source record once, in order.
func mirrorExactlyOnceOverSASLSSL(t *testing.T, kind string) {
	src := kafkatest.NewClusterOfKind(t, kind, "north-america", kafkatest.ClusterOptions{Secure: true})
	dst := kafkatest.NewClusterOfKind(t, kind, "europe", kafkatest.ClusterOptions{Secure: true})
	a := startAgent(t, strings.Join(dst.Bootstrap(), ","), stateConnFlags(t, dst.Declared())...)
	a.mustPut("/v1/clusters/north-america", src.Declared())
	a.mustPut("/v1/clusters/europe", dst.Declared())
	const partitions = 3
	kafkatest.CreateTopic(t, src.Bootstrap(), "LH.ORDERS", partitions, nil, src.ClientOpts()...)
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
	prod := kafkatest.NewProducer(t, src.Bootstrap(), src.ClientOpts()...)
	stop := backgroundProducer(t, prod, "LH.ORDERS", partitions, 100, 20, 20*time.Millisecond)

	kafkatest.Eventually(t, time.Minute, "mirroring makes progress over SASL_SSL", func() (bool, string) {
		st := a.status("na-to-eu")
		n := mirroredSoFar(a, "LH.ORDERS")
		return n > 0, fmt.Sprintf("%d mirrored, state %s %s", n, st.State, st.Reason)
	})
	a.kill9()
	a.start()

	stopAndWaitMirrored(t, stop, prod, partitions, a)
	n := assertSameRecordsWith(t, src.Bootstrap(), src.ClientOpts(), dst.Bootstrap(), dst.ClientOpts(), "LH.ORDERS", "LH.ORDERS")
	t.Logf("the target holds each of the %d source records once, in order", n)
	if logs, _ := os.ReadFile(a.logPath); strings.Contains(string(logs), dst.Declared().SASL.Password) {
		t.Fatal("the agent's log holds the state cluster's SASL password")
	}
}

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
