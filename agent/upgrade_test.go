package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// readsFormatEnv makes the test binary's agent stand for a build that reads
// record formats up to its value (recordformat.Reads).
const readsFormatEnv = "KFO_TEST_READS_FORMAT"

// formatStatus answers what an agent's /readyz says of record formats.
func formatStatus(t *testing.T, a *agentProc) (int, store.FormatStatus) {
	t.Helper()
	resp, err := http.Get(a.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var ready struct {
		Format store.FormatStatus `json:"record_format"`
	}
	_ = json.Unmarshal(body, &ready)
	return resp.StatusCode, ready.Format
}

// versionsOf answers, for each key of a topic, the format versions its
// records were written in ("" for none).
func versionsOf(t *testing.T, bootstrap []string, topic string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range kafkatest.ReadAll(t, bootstrap, topic)[0] {
		v := ""
		for _, h := range r.Headers {
			if h.Key == recordformat.Header {
				v = string(h.Value)
			}
		}
		out[string(r.Key)] = append(out[string(r.Key)], v)
	}
	return out
}

// A rolling upgrade to a newer record format: a replica that reads format 2,
// started beside one that reads only 1, keeps writing format 1 while that
// one is live;
// once that replica is upgraded too, the switch to 2 is recorded once in
// the state topic, naming both, and both write 2 from then on. (Format 2
// exists only as data here: the test binary's agent stands for a build
// that reads it.)
func TestANewerRecordFormatIsWrittenOnlyOnceEveryLiveReplicaReadsIt(t *testing.T) {
	state := kafkatest.Cluster(t, "europe")
	newer := []string{readsFormatEnv + "=2"}
	b := startAgentWith(t, state.Bootstrap()[0], nil, "--agent-id", "replica-b")
	kafkatest.Eventually(t, 30*time.Second, "replica-b announced", func() (bool, string) {
		return len(versionsOf(t, state.Bootstrap(), "__kfo_status")["\x00replica/replica-b"]) > 0, "not yet"
	})
	a := startAgentWith(t, state.Bootstrap()[0], newer, "--agent-id", "replica-a")

	kafkatest.Eventually(t, 30*time.Second, "replica-a decides with replica-b announcing format 1", func() (bool, string) {
		code, f := formatStatus(t, a)
		return code == 200 && f.Live["replica-b"] == 1 && f.Live["replica-a"] == 2, "not yet"
	})
	if _, f := formatStatus(t, a); f.Writes != 1 || f.Reads != 2 {
		t.Fatalf("replica-a: %+v, want it to write 1 while replica-b reads only 1", f)
	}
	for key := range versionsOf(t, state.Bootstrap(), "__kfo_state") {
		if strings.HasPrefix(key, "format/") {
			t.Fatalf("%s recorded while replica-b reads only format 1", key)
		}
	}

	b.stop()
	b.env = newer
	b.start()
	kafkatest.Eventually(t, 30*time.Second, "the switch to format 2 recorded", func() (bool, string) {
		_, fa := formatStatus(t, a)
		_, fb := formatStatus(t, b)
		return fa.Writes == 2 && fb.Writes == 2, "not yet"
	})
	state1 := versionsOf(t, state.Bootstrap(), "__kfo_state")
	for key := range state1 {
		if strings.HasPrefix(key, "format/") && key != "format/2" {
			t.Fatalf("switch %s recorded, want only format/2", key)
		}
	}
	if vs := state1["format/2"]; len(vs) == 0 || vs[0] != "1" {
		t.Fatalf("format/2 written in versions %v, want the switch itself in format 1, which every replica reads", vs)
	}
	var sw store.FormatSwitch
	for _, r := range kafkatest.ReadAll(t, state.Bootstrap(), "__kfo_state")[0] {
		if string(r.Key) == "format/2" {
			_ = json.Unmarshal(r.Value, &sw)
		}
	}
	if strings.Join(sw.Replicas, ",") != "replica-a,replica-b" {
		t.Fatalf("switch %+v, want it to name both live replicas", sw)
	}
	// Both announce again within recordformat.AnnounceEvery, now in format 2.
	kafkatest.Eventually(t, 30*time.Second, "both replicas announce in format 2", func() (bool, string) {
		vs := versionsOf(t, state.Bootstrap(), "__kfo_status")
		for _, id := range []string{"replica-a", "replica-b"} {
			got := vs["\x00replica/"+id]
			if len(got) == 0 || got[len(got)-1] != "2" {
				return false, id + " announced in versions " + strings.Join(got, ",")
			}
		}
		return true, ""
	})
	for _, p := range []*agentProc{a, b} {
		if code, _ := formatStatus(t, p); code != 200 {
			t.Fatalf("/readyz answered %d after the switch", code)
		}
	}
}
