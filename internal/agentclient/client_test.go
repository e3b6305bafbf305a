package agentclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

const testToken = "test-token-0123456789"

func newClient(t *testing.T, url string, retryMax int) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: url, Token: testToken, RetryMax: retryMax, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeErr(w http.ResponseWriter, status int, code, field, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(agentapi.Error{Error: agentapi.ErrorDetail{Code: code, Field: field, Message: msg}})
}

func TestPutClusterSendsTokenAndBodyAndDecodesAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != "/v1/clusters/europe" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("Authorization = %q", got)
		}
		var c agentapi.Cluster
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			t.Error(err)
		}
		c.SASL.Password, c.SASL.PasswordSet = "", true
		_ = json.NewEncoder(w).Encode(c)
	}))
	defer srv.Close()
	got, err := newClient(t, srv.URL, 0).PutCluster(context.Background(), agentapi.Cluster{
		Name: "europe", BootstrapServers: []string{"eu:9092"},
		SASL: &agentapi.SASL{Mechanism: "PLAIN", Username: "u", Password: "p"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "europe" || !got.SASL.PasswordSet || got.SASL.Password != "" {
		t.Fatalf("answer = %+v", got)
	}
}

func TestRetries5xxThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			writeErr(w, http.StatusServiceUnavailable, agentapi.CodeUnavailable, "", "state cluster busy")
			return
		}
		_ = json.NewEncoder(w).Encode(agentapi.Mirror{Name: "m", TasksMax: 4})
	}))
	defer srv.Close()
	m, err := newClient(t, srv.URL, 4).GetMirror(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	if m.TasksMax != 4 || calls.Load() != 3 {
		t.Fatalf("mirror %+v after %d calls, want tasks_max 4 after 3", m, calls.Load())
	}
}

func TestNeverRetries4xxAndKeepsTheFieldPath(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeErr(w, http.StatusBadRequest, agentapi.CodeInvalidField, "bootstrap_servers[1]", `"x" is not host:port`)
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL, 4).PutCluster(context.Background(), agentapi.Cluster{Name: "c"})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls, want 1: a 4xx must not be retried", calls.Load())
	}
	if e.StatusCode != 400 || e.Detail.Field != "bootstrap_servers[1]" || e.Detail.Code != agentapi.CodeInvalidField {
		t.Fatalf("error = %+v", e)
	}
	if IsNotFound(err) {
		t.Fatal("a 400 is not a 404")
	}
}

func TestLast5xxAnswerReachesTheCallerAfterRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeErr(w, http.StatusServiceUnavailable, agentapi.CodeUnavailable, "", "the state cluster does not answer")
	}))
	defer srv.Close()
	err := newClient(t, srv.URL, 2).DeleteMirror(context.Background(), "m")
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 503 || !strings.Contains(e.Error(), "the state cluster does not answer") {
		t.Fatalf("err = %v, want the agent's 503 message", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 1 + 2 retries", calls.Load())
	}
}

func TestNotFound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, agentapi.CodeNotFound, "", `no cluster named "x"`)
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL, 4).GetCluster(context.Background(), "x")
	if !IsNotFound(err) {
		t.Fatalf("err = %v, want not found", err)
	}
}

func TestRetriesConnectionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every attempt is refused
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	_, err = newClient(t, "http://"+addr, 2).MirrorStatus(ctx, "m")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v, want connection refused", err)
	}
	if n := strings.Count(buf.String(), "retrying request"); n != 2 {
		t.Fatalf("logged %d retries, want 2:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), `"@module":"kafka.agent_client"`) && !strings.Contains(buf.String(), `agent_client`) {
		t.Fatalf("logs are not in the agent_client subsystem:\n%s", buf.String())
	}
}

func TestTokenIsMaskedInLogs(t *testing.T) {
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	c := newClient(t, "http://127.0.0.1:1", 0)
	ctx = c.logContext(ctx)
	LeveledLogger{ctx: ctx}.Debug("request with "+testToken, "Authorization", "Bearer "+testToken, "url", "http://x/?t="+testToken)
	if strings.Contains(buf.String(), testToken) {
		t.Fatalf("token in logs:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "request with ***") {
		t.Fatalf("log line missing or not masked:\n%s", buf.String())
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "agent:8080", Token: testToken},
		{BaseURL: "ftp://agent", Token: testToken},
		{BaseURL: "http://agent:8080"},
		{BaseURL: "https://agent:8443", Token: testToken, CAPEM: "not a certificate"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestPolicyCallsUseTheirPaths(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.RequestURI())
		switch {
		case strings.HasSuffix(r.URL.Path, "/active"):
			_ = json.NewEncoder(w).Encode(agentapi.Active{Policy: "lh", Cluster: "europe", Epoch: 2})
		case strings.HasSuffix(r.URL.Path, "/forecast"):
			_ = json.NewEncoder(w).Encode(agentapi.Forecast{Policy: "lh", To: r.URL.Query().Get("to"), Report: agentapi.FailoverReport{RecordsLost: 7}})
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			_ = json.NewEncoder(w).Encode(agentapi.Policy{Name: "lh", Active: "north-america", Epoch: 0})
		}
	}))
	defer srv.Close()
	c, ctx := newClient(t, srv.URL, 0), context.Background()
	if p, err := c.PutPolicy(ctx, agentapi.Policy{Name: "lh", Clusters: []string{"a", "b"}}); err != nil || p.Active != "north-america" {
		t.Fatalf("PutPolicy = %+v, %v", p, err)
	}
	if _, err := c.GetPolicy(ctx, "lh"); err != nil {
		t.Fatal(err)
	}
	if a, err := c.Active(ctx, "lh"); err != nil || a.Cluster != "europe" || a.Epoch != 2 {
		t.Fatalf("Active = %+v, %v", a, err)
	}
	if fc, err := c.Forecast(ctx, "lh", "eu rope&x"); err != nil || fc.To != "eu rope&x" || fc.Report.RecordsLost != 7 {
		t.Fatalf("Forecast = %+v, %v", fc, err)
	}
	if err := c.DeletePolicy(ctx, "lh", false); err != nil {
		t.Fatal(err)
	}
	want := []string{"PUT /v1/policies/lh", "GET /v1/policies/lh", "GET /v1/policies/lh/active", "GET /v1/policies/lh/forecast?to=eu+rope%26x", "DELETE /v1/policies/lh"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A failover retried after a 5xx resends the same request_id, which the
// agent makes idempotent; a failover without one is never sent.
func TestFailoverRetriesOnlyWithTheSameRequestID(t *testing.T) {
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req agentapi.FailoverRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		ids = append(ids, req.RequestID)
		if len(ids) == 1 {
			writeErr(w, http.StatusServiceUnavailable, agentapi.CodeUnavailable, "", "state cluster busy")
			return
		}
		_ = json.NewEncoder(w).Encode(agentapi.Failover{RequestID: req.RequestID, To: req.To, Epoch: 1, Outcome: agentapi.OutcomeCompleted})
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, 3)
	epoch := int64(0)
	f, err := c.Failover(context.Background(), "lh", agentapi.FailoverRequest{To: "europe", Mode: "forced", RequestID: "id-1", ExpectedEpoch: &epoch}, time.Minute)
	if err != nil || f.Epoch != 1 {
		t.Fatalf("Failover = %+v, %v", f, err)
	}
	if strings.Join(ids, ",") != "id-1,id-1" {
		t.Fatalf("request ids sent: %v", ids)
	}
	if _, err := c.Failover(context.Background(), "lh", agentapi.FailoverRequest{To: "europe", Mode: "forced"}, time.Minute); !errors.Is(err, ErrNoRequestID) || len(ids) != 2 {
		t.Fatalf("without a request id: %v after %d requests", err, len(ids))
	}
}

// A failover outlives the client's request timeout (2s here) and is bounded
// by its own; running out of it is not retried.
func TestFailoverHasItsOwnTimeoutAndIsNotRetriedAfterIt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(2500 * time.Millisecond)
		_ = json.NewEncoder(w).Encode(agentapi.Failover{Epoch: 1})
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, 3)
	req := agentapi.FailoverRequest{To: "europe", Mode: "planned", RequestID: "id-2"}
	if f, err := c.Failover(context.Background(), "lh", req, 10*time.Second); err != nil || f.Epoch != 1 {
		t.Fatalf("Failover = %+v, %v", f, err)
	}
	if _, err := c.Failover(context.Background(), "lh", req, 500*time.Millisecond); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want 2 (no retry after the timeout)", calls.Load())
	}
}
