package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func TestMirrorReadsFromASASLClusterWithTheStoredPasswordAndNeverShowsIt(t *testing.T) {
	const password = "scram-pw-3f9c1e7a"
	src, auth := kafkatest.SASLCluster(t, "north-america", "mirror", password)
	srcBoot := src.ListenAddrs()
	dst := kafkatest.Cluster(t, "europe")
	a := startAgent(t, dst.BootstrapString())
	kafkatest.CreateTopic(t, srcBoot, "LH.ORDERS", 2, nil, auth...)
	prod := kafkatest.NewProducer(t, srcBoot, auth...)
	prod.Produce(t, "LH.ORDERS", 2, 1000)

	var stored agentapi.Cluster
	code := a.call("PUT", "/v1/clusters/north-america", agentapi.Cluster{
		BootstrapServers: srcBoot,
		SASL:             &agentapi.SASL{Mechanism: "SCRAM-SHA-512", Username: "mirror", Password: password},
	}, &stored)
	if code != 201 || stored.SASL == nil || !stored.SASL.PasswordSet || stored.SASL.Password != "" {
		t.Fatalf("PUT cluster with a password: %d %+v; want 201 (created), password_set and no password", code, stored.SASL)
	}
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: dst.Bootstrap()})
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
	waitMirrored(t, a, map[string]map[int32]int64{"LH.ORDERS": {0: 1000, 1: 1000}}, time.Minute)

	srcRecs := kafkatest.ReadAll(t, srcBoot, "LH.ORDERS", auth...)
	dstRecs := kafkatest.ReadAll(t, dst.Bootstrap(), "LH.ORDERS")
	for p := range srcRecs {
		if len(srcRecs[p]) != len(dstRecs[p]) {
			t.Fatalf("LH.ORDERS[%d]: %d records on the source, %d on the target", p, len(srcRecs[p]), len(dstRecs[p]))
		}
		for i := range srcRecs[p] {
			if !srcRecs[p][i].Equal(dstRecs[p][i]) {
				t.Fatalf("LH.ORDERS[%d] record %d differs", p, i)
			}
		}
	}
	// The password reached Kafka and nowhere else readable.
	raw, _ := os.ReadFile(a.logPath)
	if strings.Contains(string(raw), password) {
		t.Fatal("the agent's log holds the SASL password")
	}
	for _, rec := range kafkatest.ReadAll(t, dst.Bootstrap(), "__kfo_state")[0] {
		if strings.Contains(string(rec.Value), password) {
			t.Fatalf("the state topic holds the SASL password in clear: %s", rec.Key)
		}
	}
}
