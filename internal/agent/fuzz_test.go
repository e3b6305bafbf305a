package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/failover"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// The fuzz targets send every endpoint that takes a body whatever the fuzzer
// makes of a name and a body, through the API's handler and a real store
// on a dev cluster: no panic, no 5xx, a 4xx in the error shape for anything
// malformed, and nothing stored from a refused request. `make test` runs
// the seeds and a short fuzzing run of each; `make fuzz` runs longer.

const fuzzToken = "fuzz-token-0123456789abcdef"

// fuzzAPI is the API's handler over a store holding clusters src and dst,
// mirror m from src to dst and policy p of both.
type fuzzAPI struct {
	h  http.Handler
	st *store.Store
}

// idleMirrors is a mirror engine that runs nothing: the fuzz targets test
// the API's checks, not mirroring.
type idleMirrors struct{}

func (idleMirrors) StatusOf(string) agentapi.MirrorStatus          { return agentapi.MirrorStatus{} }
func (idleMirrors) LastSeen(string) []agentapi.PartitionStatus     { return nil }
func (idleMirrors) Checkpoints(string) []agentapi.GroupCheckpoints { return nil }
func (idleMirrors) Running(string) (bool, <-chan struct{})         { return false, nil }

func newFuzzAPI(f *testing.F) *fuzzAPI {
	f.Helper()
	c := kafkatest.Cluster(f, "state")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, kafkaconn.Conn{Name: "state", BootstrapServers: c.Bootstrap()}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(st.Close)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a := &fuzzAPI{st: st, h: NewServer(Deps{Store: st, Token: fuzzToken, Log: log, Registry: prometheus.NewRegistry(),
		Status:   func(string) agentapi.MirrorStatus { return agentapi.MirrorStatus{} },
		Groups:   func(string, string) (agentapi.GroupCheckpoints, bool) { return agentapi.GroupCheckpoints{}, false },
		Failover: &failover.Executor{Store: st, Mirrors: idleMirrors{}, AgentID: "fuzz", Log: log},
	})}
	for _, put := range []struct{ path, body string }{
		{"/v1/clusters/src", `{"bootstrap_servers":["` + c.BootstrapString() + `"]}`},
		{"/v1/clusters/dst", `{"bootstrap_servers":["` + c.BootstrapString() + `"]}`},
		{"/v1/mirrors/m", `{"source":"src","target":"dst","topics":{"include":["orders"]}}`},
		{"/v1/policies/p", `{"clusters":["src","dst"],"primary":"src","mirrors":["m"],"fencing":"none"}`},
	} {
		if code, raw := a.send("PUT", put.path, []byte(put.body)); code != http.StatusCreated {
			f.Fatalf("PUT %s: %d %s", put.path, code, raw)
		}
	}
	return a
}

func (a *fuzzAPI) send(method, path string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fuzzToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// check sends the request and holds the answer to the API's promises;
// state answers what a refused request must leave as it was.
func (a *fuzzAPI) check(t *testing.T, method, path string, body []byte, state func() any) {
	before := state()
	code, raw := a.send(method, path, body)
	if code >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, path, body, code, raw)
	}
	if code < 400 {
		return
	}
	var e agentapi.Error
	if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s %s %q: %d %s is not the error shape", method, path, body, code, raw)
	}
	if after := state(); !reflect.DeepEqual(before, after) {
		t.Fatalf("%s %s %q was refused (%d %s) but changed the state:\n before %+v\n after  %+v", method, path, body, code, raw, before, after)
	}
}

// stored answers an object, or its error, as state for check.
func stored[T any](get func(string) (T, error), name string) func() any {
	return func() any {
		v, err := get(name)
		if err != nil {
			return err.Error()
		}
		return v
	}
}

// policyState is the part of policy p a refused failover or reverse must
// leave alone.
func (a *fuzzAPI) policyState() any {
	st, _ := a.st.PolicyState("p")
	return []any{st.Active, st.Epoch, st.InProgress == nil, len(st.Diverged), len(st.Quarantines)}
}

// fuzzPut fuzzes PUT /v1/<kind>/{name} from seeds of a name and a body;
// state answers what a refused PUT of name must leave as it was.
func fuzzPut(f *testing.F, kind string, seeds [][2]string, state func(a *fuzzAPI, name string) func() any) {
	a := newFuzzAPI(f)
	for _, s := range seeds {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		a.check(t, "PUT", "/v1/"+kind+"/"+url.PathEscape(name), body, state(a, name))
	})
}

// fuzzPolicyPost fuzzes the body of a POST to policy p's endpoint.
func fuzzPolicyPost(f *testing.F, endpoint string, seeds []string) {
	a := newFuzzAPI(f)
	for _, body := range seeds {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a.check(t, "POST", "/v1/policies/p/"+endpoint, body, a.policyState)
	})
}

func FuzzPutCluster(f *testing.F) {
	fuzzPut(f, "clusters", [][2]string{
		{"src", `{"bootstrap_servers":["127.0.0.1:9092"]}`},
		{"new", `{"bootstrap_servers":["kafka-1:9092","kafka-2:9092"],"sasl":{"mechanism":"PLAIN","username":"u"}}`},
		{"tls", `{"bootstrap_servers":["kafka:9093"],"tls":{"ca_pem":"-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n"}}`},
		{"x", `{"bootstrap_servers":"kafka:9092"}`},
		{"x", `{"bootstrap_servers":["kafka:0"]}`},
		{"a/b", `{}`},
		{"x", `{"name":"y","bootstrap_servers":["k:1"]}`},
		{"x", `{"bootstrap_servers":["k:1"]} garbage`},
		{"x", ``},
	}, func(a *fuzzAPI, name string) func() any { return stored(a.st.GetCluster, name) })
}

func FuzzPutMirror(f *testing.F) {
	fuzzPut(f, "mirrors", [][2]string{
		{"m", `{"source":"src","target":"dst","topics":{"include":["orders"]},"tasks_max":2}`},
		{"n", `{"source":"src","target":"dst","topics":{"include":["LH\\..*"],"exclude":["("]}}`},
		{"n", `{"source":"src","target":"src","topics":{"include":["a"]}}`},
		{"n", `{"source":"src","target":"dst","topics":{"include":["a"]},"refresh_interval":"876000h"}`},
		{"n", `{"source":"src","target":"dst","topics":{"include":["a"]},"checkpoint_interval":"-1s","replication_policy":"prefix"}`},
		{"m", `{"source":"src","target":"dst","topics":{"include":["orders"]},"replication_policy":"prefix"}`},
		{"n", `{"source":"nowhere","target":"dst","topics":{"include":["a"]},"tasks_max":5000}`},
	}, func(a *fuzzAPI, name string) func() any { return stored(a.st.GetMirror, name) })
}

func FuzzPutPolicy(f *testing.F) {
	fuzzPut(f, "policies", [][2]string{
		{"p", `{"clusters":["src","dst"],"mirrors":["m"],"drain_timeout":"2m"}`},
		{"q", `{"clusters":["src","dst"],"primary":"dst","mirrors":["m"]}`},
		{"q", `{"clusters":["src","src"],"primary":"src","mirrors":["m"]}`},
		{"q", `{"clusters":["src","dst"],"primary":"src","mirrors":["m"],"drain_timeout":"24h","fencing":"acl"}`},
		{"p", `{"clusters":["dst","x"],"mirrors":["m"],"max_lag_records":-1}`},
		{"q", `{"clusters":["src","dst"],"primary":"src","mirrors":["m"],"epoch":3}`},
	}, func(a *fuzzAPI, name string) func() any {
		return func() any {
			p, err := a.st.GetPolicy(name)
			st, _ := a.st.PolicyState(name)
			return []any{p, errString(err), st.Epoch, st.Active}
		}
	})
}

func FuzzFailoverRequest(f *testing.F) {
	fuzzPolicyPost(f, "failover", []string{
		`{"to":"dst","mode":"forced"}`,
		`{"to":"dst","mode":"soon","request_id":"r"}`,
		`{"to":"src","mode":"forced","request_id":"r"}`,
		`{"to":"nowhere","mode":"planned","request_id":"r","expected_epoch":7}`,
		`{"to":"dst","mode":"planned","request_id":"r","expected_epoch":-1}`,
		`{"to":"dst","mode":"forced","request_id":"r","requested_by":7}`,
	})
}

func FuzzReverseRequest(f *testing.F) {
	fuzzPolicyPost(f, "reverse", []string{
		`{"request_id":"r"}`,
		`{"request_id":"r","cluster":"src"}`,
		`{"cluster":"dst"}`,
		`{"request_id":"","cluster":"nowhere"}`,
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
