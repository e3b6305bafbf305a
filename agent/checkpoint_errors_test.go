package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func TestAGroupThatCannotBeSyncedIsReportedAndRetriedWithoutStoppingTheOthers(t *testing.T) {
	na := kafkatest.Cluster(t, "north-america")
	eu := kafkatest.Cluster(t, "europe") // the agent's state cluster
	asia, admin, _ := kafkatest.ACLCluster(t, "asia")
	a := startAgent(t, eu.BootstrapString())
	a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: na.Bootstrap()})
	a.mustPut("/v1/clusters/asia", agentapi.Cluster{BootstrapServers: asia,
		SASL: &agentapi.SASL{Mechanism: "SCRAM-SHA-512", Username: "app", Password: "app-secret-pw"}})

	// The agent's user on asia may not commit for consumer-denied.
	deny := kadm.NewACLs().Groups("consumer-denied").ResourcePatternType(kadm.ACLPatternLiteral).
		Deny("User:app").DenyHosts("*").Operations(kadm.OpRead)
	adm := kadm.NewClient(kafkatest.Client(t, asia, admin...))
	if _, err := adm.CreateACLs(context.Background(), deny); err != nil {
		t.Fatal(err)
	}

	kafkatest.CreateTopic(t, na.Bootstrap(), "LH.ORDERS", 2, nil)
	kafkatest.NewProducer(t, na.Bootstrap()).Produce(t, "LH.ORDERS", 2, 100)
	a.mustPut("/v1/mirrors/na-to-asia", agentapi.Mirror{Source: "north-america", Target: "asia",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, Groups: agentapi.Selector{Include: []string{`consumer-.*`}},
		RefreshInterval: "1s", CheckpointInterval: "500ms"})
	consumeAndCommit(t, na.Bootstrap(), "consumer-denied", "LH.ORDERS", map[int32]int{0: 10, 1: 20})
	consumeAndCommit(t, na.Bootstrap(), "consumer-ok", "LH.ORDERS", map[int32]int{0: 30, 1: 40})

	group := func(g string) agentapi.GroupCheckpoints {
		var cps agentapi.GroupCheckpoints
		a.call("GET", "/v1/mirrors/na-to-asia/groups/"+g, nil, &cps)
		return cps
	}
	synced := func(cps agentapi.GroupCheckpoints) bool {
		n := 0
		for _, p := range cps.Partitions {
			if p.Synced {
				n++
			}
		}
		return n == 2
	}
	kafkatest.Eventually(t, time.Minute, "consumer-ok synced while consumer-denied fails", func() (bool, string) {
		ok, denied := group("consumer-ok"), group("consumer-denied")
		return synced(ok) && strings.Contains(denied.LastError, "GROUP_AUTHORIZATION_FAILED"),
			fmt.Sprintf("ok synced %v; denied error %q", synced(ok), denied.LastError)
	})
	// The failing group shows in the metrics; the healthy one stays fresh.
	kafkatest.Eventually(t, 10*time.Second, "checkpoint metrics", func() (bool, string) {
		m := metricsText(t, a)
		return strings.Contains(m, `kfo_checkpoint_sync_errors_total{group="consumer-denied",mirror="na-to-asia"}`) &&
			strings.Contains(m, `kfo_checkpoint_age_seconds{group="consumer-ok",mirror="na-to-asia"}`) &&
			strings.Contains(m, `kfo_checkpoint_partitions_synced_total{mirror="na-to-asia"}`), "series missing"
	})
	if age := group("consumer-ok").Partitions[0].AgeMillis; age > 5000 {
		t.Fatalf("consumer-ok's checkpoint is %d ms old while another group fails", age)
	}

	// Lift the denial: the next rounds retry and sync the group.
	if _, err := adm.DeleteACLs(context.Background(), deny); err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 30*time.Second, "consumer-denied synced after the ACL is lifted", func() (bool, string) {
		cps := group("consumer-denied")
		return synced(cps) && cps.LastError == "", fmt.Sprintf("%+v", cps)
	})
}

// metricsText answers the agent's /metrics page.
func metricsText(t *testing.T, a *agentProc) string {
	t.Helper()
	req, _ := http.NewRequest("GET", a.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
