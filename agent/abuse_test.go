package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// The tests in this file treat the API the way an attacker or a careless
// client would: too many connections, bodies too large, requests that can
// never succeed, and a state cluster that stops answering.

// answersWithin sends one request on a fresh connection and answers its
// status, or 0 and the error when none came within timeout.
func answersWithin(url, path, authorization string, timeout time.Duration) (int, error) {
	cl := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest("GET", url+path, nil)
	if err != nil {
		return 0, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestAFloodOfIdleConnectionsLeavesHealthzAndAuthorisedRequestsAnswering(t *testing.T) {
	t.Parallel()
	const nofile, flood = 300, 400 // the agent's descriptor limit, and more idle connections than it
	state := kafkatest.Cluster(t, "state")
	a := startAgentWith(t, state.BootstrapString(), []string{"KFO_TEST_NOFILE=300"})
	addr := a.url[len("http://"):]
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	// Connections that send nothing, or half a request head and no more:
	// each holds a descriptor of the agent until the agent closes it.
	for i := range flood {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(held), err)
		}
		held = append(held, c)
		if i%2 == 1 {
			_, _ = c.Write([]byte("GET /v1/clusters HTTP/1.1\r\nHost: agent\r\n"))
		}
	}
	// The agent gets to accept the whole flood before anything is asked.
	kafkatest.Eventually(t, 10*time.Second, "the agent accepted the flood", func() (bool, string) {
		n, err := openFiles(a)
		return err == nil && n >= nofile/2, "open files " + strconv.Itoa(n)
	})
	for i := range 3 {
		if code, err := answersWithin(a.url, "/healthz", "", 5*time.Second); code != http.StatusOK {
			t.Fatalf("GET /healthz %d under a flood of %d idle connections (fd limit %d): %d %v", i, flood, nofile, code, err)
		}
		if code, err := answersWithin(a.url, "/v1/clusters", "Bearer "+testToken, 5*time.Second); code != http.StatusOK {
			t.Fatalf("an authorised GET /v1/clusters %d under a flood of %d idle connections (fd limit %d): %d %v", i, flood, nofile, code, err)
		}
	}
	n, _ := openFiles(a)
	t.Logf("under a flood of %d idle and half-sent connections the agent holds %d files of its limit %d and answers", flood, n, nofile)
}

// openFiles counts the agent process's open file descriptors.
func openFiles(a *agentProc) (int, error) {
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(a.cmd.Process.Pid) + "/fd")
	return len(fds), err
}

// apiSend is apiDo with a Content-Type ("" for none).
func apiSend(t *testing.T, a *agentProc, method, path, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func TestABodyOverTheLimitIs413AndAWrongContentTypeIs415AndNothingIsStored(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	valid := `{"bootstrap_servers":["kafka-1:9092"]}`
	for _, c := range []struct {
		name, path, contentType, body string
		status                        int
		says                          string
	}{
		// A valid object, then spaces, then garbage past 1 MiB: cut at the
		// limit, it read as the valid object alone.
		{"valid object, 1 MiB of spaces, then garbage", "/v1/clusters/padded", "application/json", valid + strings.Repeat(" ", 1<<20) + "garbage", http.StatusRequestEntityTooLarge, "1048576"},
		{"a body of 2 MiB", "/v1/clusters/big", "application/json", `{"bootstrap_servers":["` + strings.Repeat("k", 2<<20) + `:9092"]}`, http.StatusRequestEntityTooLarge, "1048576"},
		{"a form", "/v1/clusters/form", "application/x-www-form-urlencoded", valid, http.StatusUnsupportedMediaType, "application/json"},
		{"text", "/v1/clusters/text", "text/plain", valid, http.StatusUnsupportedMediaType, "application/json"},
	} {
		code, raw := apiSend(t, a, "PUT", c.path, c.contentType, c.body)
		if code != c.status {
			t.Errorf("%s: HTTP %d %s, want %d", c.name, code, short(raw), c.status)
			continue
		}
		if e := apiErrorOf(t, c.name, raw); !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %+v does not say %q", c.name, e, c.says)
		}
		if code := apiGetStatus(a, c.path); code != http.StatusNotFound {
			t.Errorf("%s: GET %s after the refused PUT answers %d, want 404: it was stored", c.name, c.path, code)
		}
	}
	// JSON with a charset, and no Content-Type at all, are JSON.
	for _, ct := range []string{"application/json; charset=utf-8", ""} {
		if code, raw := apiSend(t, a, "PUT", "/v1/clusters/typed", ct, valid); code != http.StatusCreated && code != http.StatusOK {
			t.Errorf("PUT with Content-Type %q: HTTP %d %s, want it stored", ct, code, short(raw))
		}
	}
}

func TestTheBearerSchemeIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		if code, raw, _ := apiDo(t, a, "GET", "/v1/clusters", scheme+" "+testToken, ""); code != http.StatusOK {
			t.Errorf("Authorization: %s <token>: HTTP %d %s, want 200 (RFC 7235: the scheme is case-insensitive)", scheme, code, short(raw))
		}
	}
	for _, auth := range []string{"Basic " + testToken, "Bearer", "Bearer  " + testToken + "x", testToken} {
		if code, _, _ := apiDo(t, a, "GET", "/v1/clusters", auth, ""); code != http.StatusUnauthorized {
			t.Errorf("Authorization: %q: HTTP %d, want 401", auth, code)
		}
	}
}

func TestARequestThatCanNeverSucceedIsRefusedNamingTheLimitNotAnswered503(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	// A state topic that takes smaller records than Kafka's default.
	recordLimit := "50000"
	kafkatest.CreateTopic(t, state.Bootstrap(), store.StateTopic, 1, map[string]*string{"cleanup.policy": ptr("compact"), "max.message.bytes": &recordLimit})
	a := startAgent(t, state.BootstrapString())
	a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{"orders"}}})
	cert, _ := selfSignedPEM(t)
	bundle := strings.Repeat(cert, 60000/len(cert)) // within the 64 KiB of ca_pem, over the record limit
	mirror := func(change func(*agentapi.Mirror)) agentapi.Mirror {
		m := agentapi.Mirror{Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{"orders"}}}
		change(&m)
		return m
	}
	policy := func(drain string) agentapi.Policy {
		return agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america", Mirrors: []string{"na-to-eu"}, DrainTimeout: drain}
	}
	for _, c := range []struct {
		name, path string
		body       any
		status     int
		field      string
		says       string
	}{
		{"a 900 kB key_pem", "/v1/clusters/key", agentapi.Cluster{BootstrapServers: []string{"kafka:9092"}, TLS: &agentapi.TLS{CertPEM: cert, KeyPEM: strings.Repeat("k", 900_000)}}, http.StatusBadRequest, "tls.key_pem", "65536"},
		{"a cluster record over the state topic's max.message.bytes", "/v1/clusters/bundle", agentapi.Cluster{BootstrapServers: []string{"kafka:9092"}, TLS: &agentapi.TLS{CAPEM: bundle}}, http.StatusRequestEntityTooLarge, "", recordLimit},
		{"a refresh_interval of 100 years", "/v1/mirrors/slow", mirror(func(m *agentapi.Mirror) { m.RefreshInterval = "876000h" }), http.StatusBadRequest, "refresh_interval", "1h"},
		{"a drain_timeout of 100 years", "/v1/policies/forever", policy("876000h"), http.StatusBadRequest, "drain_timeout", "1h"},
		{"a drain_timeout of a day", "/v1/policies/day", policy("24h"), http.StatusBadRequest, "drain_timeout", "1h"},
	} {
		var e agentapi.Error
		code := a.call("PUT", c.path, c.body, &e)
		if code != c.status || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.says) {
			t.Errorf("%s: HTTP %d %+v; want %d on field %q naming %s", c.name, code, e.Error, c.status, c.field, c.says)
		}
		if code := apiGetStatus(a, c.path); code != http.StatusNotFound {
			t.Errorf("%s: GET %s after the refused PUT answers %d, want 404", c.name, c.path, code)
		}
	}
	// The longest durations allowed are stored.
	a.mustPut("/v1/mirrors/hourly", mirror(func(m *agentapi.Mirror) { m.Topics.Include = []string{"hourly"}; m.RefreshInterval = "1h" }))
	a.mustPut("/v1/policies/patient", policy("1h"))
}

func ptr[T any](v T) *T { return &v }

func TestOnePolicysDrainDoesNotHoldAnotherPolicysFailover(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingNone, DrainTimeout: "20s"})
	// loosehanger's planned failover drains until its drain_timeout.
	s.unmirrorableRecordAfter(t, 10)
	// Another business on two other clusters, with a policy of its own.
	asia, africa := kafkatest.Cluster(t, "asia"), kafkatest.Cluster(t, "africa")
	s.agent.mustPut("/v1/clusters/asia", agentapi.Cluster{BootstrapServers: asia.Bootstrap()})
	s.agent.mustPut("/v1/clusters/africa", agentapi.Cluster{BootstrapServers: africa.Bootstrap()})
	s.agent.mustPut("/v1/mirrors/asia-to-africa", agentapi.Mirror{Source: "asia", Target: "africa", Topics: agentapi.Selector{Include: []string{`OT\..*`}}, RefreshInterval: "1s"})
	s.agent.mustPut("/v1/policies/other", agentapi.Policy{Clusters: []string{"asia", "africa"}, Primary: "asia", Mirrors: []string{"asia-to-africa"}, Fencing: agentapi.FencingNone})

	drained := s.failoverUnderWay(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "draining"})
	start := time.Now()
	var res agentapi.Failover
	if code := s.agent.call("POST", "/v1/policies/other/failover", agentapi.FailoverRequest{To: "africa", Mode: agentapi.ModeForced, RequestID: "meanwhile"}, &res); code != http.StatusOK || res.Epoch != 1 {
		t.Fatalf("the other policy's failover while loosehanger drains: HTTP %d %+v, want 200 at epoch 1", code, res)
	}
	took := time.Since(start)
	var p agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
	if p.InProgress == nil {
		t.Fatalf("loosehanger's failover ended (%+v) before the other completed (after %s): the other waited for its drain", p.LastFailover, took)
	}
	t.Logf("the other policy failed over in %s while loosehanger drained", took.Round(time.Millisecond))
	if code := <-drained; code != http.StatusConflict {
		t.Fatalf("loosehanger's failover that cannot drain: HTTP %d, want 409 once its drain_timeout passed", code)
	}
}

func TestAPutDuringAStateClusterStallAnswers503WithinTheRequestTimeout(t *testing.T) {
	t.Parallel()
	state := startDevCluster(t, "state")
	a := startAgentWith(t, state.bootstrap, []string{"KFO_REQUEST_TIMEOUT=3s"})
	a.mustPut("/v1/clusters/before", agentapi.Cluster{BootstrapServers: []string{"kafka:9092"}})
	// The state cluster stalls: its process stops, its connections stay open.
	if err := state.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = state.cmd.Process.Signal(syscall.SIGCONT) }) // before the agent stops
	kafkatest.Eventually(t, 5*time.Second, "the state cluster's process is stopped", func() (bool, string) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(state.cmd.Process.Pid) + "/stat")
		// The state follows the command name in parentheses: T is stopped.
		_, after, _ := strings.Cut(string(stat), ") ")
		return err == nil && strings.HasPrefix(after, "T"), after
	})
	req, _ := http.NewRequest("PUT", a.url+"/v1/clusters/during", strings.NewReader(`{"bootstrap_servers":["kafka:9092"]}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	start := time.Now()
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("PUT during a state-cluster stall: no answer after %s: %v", took.Round(time.Millisecond), err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || took > 8*time.Second {
		t.Fatalf("PUT during a state-cluster stall: HTTP %d after %s %s; want 503 within the request timeout of 3s", resp.StatusCode, took.Round(time.Millisecond), short(raw))
	}
	if e := apiErrorOf(t, "PUT during a stall", raw); !strings.Contains(e.Message, "3s") {
		t.Errorf("the 503 does not name the request timeout: %+v", e)
	}
	t.Logf("503 after %s: %s", took.Round(time.Millisecond), short(raw))
}

func TestNoLogLineRepeatsMoreThanAFewKilobytesOfInput(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	// The most a request may send in one logged field: 100 bootstrap
	// servers of 261 bytes each.
	servers := make([]string, agentapi.MaxListItems)
	for i := range servers {
		servers[i] = fmt.Sprintf("%s%03d:9092", strings.Repeat("h", agentapi.MaxHostPortBytes-8), i)
	}
	a.mustPut("/v1/clusters/wide", agentapi.Cluster{BootstrapServers: servers})
	a.waitLogged(t, 10*time.Second, "cluster stored", `"cluster":"wide"`)
	logs, err := os.ReadFile(a.logPath)
	if err != nil {
		t.Fatal(err)
	}
	const maxLine = 8 << 10
	for line := range bytes.Lines(logs) {
		if len(line) > maxLine {
			t.Errorf("a log line of %d bytes, over %d: %s", len(line), maxLine, short(line))
		}
	}
}

func TestAnAgentOnLoopbackWithoutTLSDoesNotWarnAboutPlaintext(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	a.waitLogged(t, 10*time.Second, "agent listening")
	if logs, _ := os.ReadFile(a.logPath); bytes.Contains(logs, []byte("without TLS")) {
		t.Fatalf("an agent on 127.0.0.1 warns about plaintext: %s", logs)
	}
}
