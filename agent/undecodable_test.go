package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// A record that fails to decode in any of the agent's internal topics is
// counted per topic, in the metrics and in /readyz's body (which stays
// 200), and the agent keeps working.
func TestUndecodableRecordsOfInternalTopicsAreCountedAndTheAgentKeepsWorking(t *testing.T) {
	const topic = "LH.ORDERS"
	s, prod := mirroredSetup(t, topic, 1, 10)

	garbage := map[string]string{ // topic -> a key its readers decode
		"__kfo_state":                 "mirror/garbage",
		"__kfo_status":                "garbage",
		"__kfo_offset_syncs.na-to-eu": "garbage",
		"__kfo_checkpoints.na-to-eu":  "garbage",
	}
	cl := kafkatest.Client(t, s.eu.Bootstrap(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for tp, key := range garbage {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: tp, Key: []byte(key), Value: []byte("not json {")}).FirstErr(); err != nil {
			t.Fatalf("write to %s: %v", tp, err)
		}
	}
	kafkatest.Eventually(t, 30*time.Second, "every bad record counted", func() (bool, string) {
		m := metricsText(t, s.agent)
		for tp := range garbage {
			if !strings.Contains(m, fmt.Sprintf(`kfo_records_undecodable_total{topic=%q}`, tp)) {
				return false, "no count for " + tp
			}
		}
		return true, ""
	})
	resp, err := http.Get(s.agent.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ready struct {
		Status      string           `json:"status"`
		Undecodable map[string]int64 `json:"undecodable_records"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &ready) != nil || len(ready.Undecodable) != len(garbage) {
		t.Fatalf("/readyz: HTTP %d %s; want 200 with a count per topic", resp.StatusCode, body)
	}

	// The agent goes on: the mirror copies, the API stores, and a restarted
	// task reads its progress past the bad sync.
	prod.Produce(t, topic, 1, 10)
	waitMirroredTopic(t, s.agent, topic, 1, 20)
	s.agent.mustPut("/v1/clusters/asia", agentapi.Cluster{BootstrapServers: s.eu.Bootstrap()})
	s.agent.stop()
	s.agent.start()
	prod.Produce(t, topic, 1, 10)
	waitMirroredTopic(t, s.agent, topic, 1, 30)
	if n := assertSameRecords(t, s.na, s.eu, topic, topic); n != 30 {
		t.Fatalf("%d records compared, want 30", n)
	}
}
