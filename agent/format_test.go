package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// A record of a format version the agent does not read, in any of its
// internal topics, is refused: not applied, counted per topic, logged, and
// /readyz fails naming a topic, the offset and the version, where an
// undecodable record only counts (see the test above it in
// undecodable_test.go). Records written by today's agents carry version 1.
func TestRecordsOfAnUnknownFormatVersionAreRefusedAndTheAgentIsNotReady(t *testing.T) {
	const topic = "LH.ORDERS"
	s, _ := mirroredSetup(t, topic, 1, 10)

	newer := map[string]*kgo.Record{ // topic -> a record its readers read, as an agent of version 2 would write it
		"__kfo_offset_syncs.na-to-eu": {Key: []byte("LH.ORDERS/0/10"), Value: []byte(`{"topic":"LH.ORDERS","partition":0,"runs":[{"source":10,"target":10,"count":1}],"source_next":11,"target_topic":"LH.ORDERS"}`)},
		"__kfo_checkpoints.na-to-eu":  {Key: []byte("consumer-x\x00LH.ORDERS\x000"), Value: []byte(`{"group":"consumer-x","topic":"LH.ORDERS","partition":0,"source_offset":1,"target_offset":1}`)},
		"__kfo_status":                {Key: []byte("na-to-eu/LH.ORDERS/9"), Value: []byte(`{"topic":"LH.ORDERS","partition":9}`)},
		"__kfo_state":                 {Key: []byte("mirror/newer"), Value: []byte(`{"name":"newer","source":"na","target":"eu"}`)},
	}
	cl := kafkatest.Client(t, s.eu.Bootstrap(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, tp := range []string{"__kfo_offset_syncs.na-to-eu", "__kfo_checkpoints.na-to-eu", "__kfo_status", "__kfo_state"} {
		r := newer[tp]
		r.Topic, r.Headers = tp, []kgo.RecordHeader{{Key: "kfo.v", Value: []byte("2")}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatalf("write to %s: %v", tp, err)
		}
	}
	kafkatest.Eventually(t, 30*time.Second, "every record refused", func() (bool, string) {
		m := metricsText(t, s.agent)
		for tp := range newer {
			if !strings.Contains(m, fmt.Sprintf(`kfo_records_refused_total{topic=%q}`, tp)) {
				return false, "no refusal counted for " + tp
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
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "version 2") || !strings.Contains(string(body), "offset") {
		t.Fatalf("/readyz: HTTP %d %s; want 503 naming the topic, offset and version", resp.StatusCode, body)
	}
	s.agent.waitLogged(t, 10*time.Second, "not applied", `"topic":"__kfo_state"`, "version 2")
}
