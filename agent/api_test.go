package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// The tests in this file drive a real agent process over HTTP. Each starts
// its own state cluster, so they run in parallel.

// apiDo sends a request with the given Authorization header ("" for none)
// and answers the status, the raw body and the headers. Raw bytes matter:
// the secrets tests must see exactly what went over the wire.
func apiDo(t *testing.T, a *agentProc, method, path, authorization, body string) (int, []byte, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, raw, resp.Header
}

// apiErrorOf decodes the agent's error shape strictly, so that an answer
// that is not an agentapi.Error fails the test.
func apiErrorOf(t *testing.T, what string, raw []byte) agentapi.ErrorDetail {
	t.Helper()
	var e agentapi.Error
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("%s: answer %q is not the JSON error shape: %v", what, raw, err)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s: error %q lacks a code or a message", what, raw)
	}
	return e.Error
}

// apiGetStatus answers only the status of a GET with the token.
func apiGetStatus(a *agentProc, path string) int {
	return a.call("GET", path, nil, nil)
}

// startAgentWithoutSecretKey starts an agent like startAgent does, but with
// no --secret-key-file. The harness's agentProc is built here by hand
// because startAgent always passes a key.
func startAgentWithoutSecretKey(t *testing.T, stateBootstrap string) *agentProc {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := kafkatest.FreeAddr(t)
	a := &agentProc{
		t:       t,
		url:     "http://" + addr,
		logPath: filepath.Join(dir, "agent.log"),
		args:    []string{"run", "--listen", addr, "--state-bootstrap", stateBootstrap, "--token-file", token, "--session-timeout", "3s"},
	}
	a.start()
	t.Cleanup(a.stop)
	return a
}

// selfSignedPEM makes a real certificate and its PKCS#8 key.
func selfSignedPEM(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "kfo-test-client"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
}

// secretNeedles are the substrings that must never leave the agent: the
// password, and the key PEM's header and every base64 line of its body.
// The lines are checked one by one because JSON turns the PEM's newlines
// into "\n", so the whole PEM would never match even if it leaked.
func secretNeedles(password, keyPEM string) []string {
	needles := []string{password, "PRIVATE KEY"}
	for _, line := range strings.Split(keyPEM, "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			needles = append(needles, line)
		}
	}
	return needles
}

func assertNoSecret(t *testing.T, where string, raw []byte, needles []string) {
	t.Helper()
	for _, n := range needles {
		if bytes.Contains(raw, []byte(n)) {
			t.Errorf("%s contains the secret text %q", where, n)
		}
	}
}

// assertNoSecretInJSON also looks inside every JSON string and its base64
// decoding: JSON writes []byte as base64, so a secret stored as plain bytes
// would not show in the raw record.
func assertNoSecretInJSON(t *testing.T, where string, raw []byte, needles []string) {
	t.Helper()
	assertNoSecret(t, where, raw, needles)
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			assertNoSecret(t, where+" "+path, []byte(v), needles)
			if dec, err := base64.StdEncoding.DecodeString(v); err == nil {
				assertNoSecret(t, where+" "+path+" (base64-decoded)", dec, needles)
			}
		}
	}
	walk("", v)
}

// short keeps failure messages readable when an answer is large.
func short(raw []byte) string {
	if len(raw) > 300 {
		return string(raw[:300]) + "..."
	}
	return string(raw)
}

func TestAPIRefusesEveryEndpointWithoutTheRightTokenButProbesNeedNone(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	cluster := `{"bootstrap_servers":["127.0.0.1:9092"]}`
	mirror := `{"source":"a","target":"b","topics":{"include":["x"]}}`

	// Every route of internal/agent/routes.go, plus one no route matches:
	// the catch-all must not tell an anonymous caller what exists.
	endpoints := []struct{ method, path, body string }{
		{"GET", "/metrics", ""},
		{"PUT", "/v1/clusters/c1", cluster},
		{"GET", "/v1/clusters/c1", ""},
		{"DELETE", "/v1/clusters/c1", ""},
		{"GET", "/v1/clusters", ""},
		{"PUT", "/v1/mirrors/m1", mirror},
		{"GET", "/v1/mirrors/m1", ""},
		{"DELETE", "/v1/mirrors/m1", ""},
		{"GET", "/v1/mirrors/m1/status", ""},
		{"GET", "/v1/mirrors", ""},
		{"GET", "/v1/no-such-endpoint", ""},
	}
	badAuth := []struct{ name, header string }{
		{"no header", ""},
		{"wrong token", "Bearer wrong-token-0123456789abcdef"},
		{"right token without the Bearer scheme", testToken},
		{"right token with a suffix", "Bearer " + testToken + "x"},
		{"right token as basic auth", "Basic " + testToken},
		{"empty bearer", "Bearer "},
	}
	for _, ep := range endpoints {
		for _, ba := range badAuth {
			what := fmt.Sprintf("%s %s with %s", ep.method, ep.path, ba.name)
			code, raw, hdr := apiDo(t, a, ep.method, ep.path, ba.header, ep.body)
			if code != http.StatusUnauthorized {
				t.Errorf("%s: answered %d %q, want 401", what, code, short(raw))
				continue
			}
			if e := apiErrorOf(t, what, raw); e.Code != agentapi.CodeUnauthorized {
				t.Errorf("%s: error code %q, want %q", what, e.Code, agentapi.CodeUnauthorized)
			}
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", what, hdr.Get("WWW-Authenticate"))
			}
		}
	}
	// The refused PUTs wrote nothing.
	if code := apiGetStatus(a, "/v1/clusters/c1"); code != http.StatusNotFound {
		t.Errorf("GET /v1/clusters/c1 after refused PUTs: %d, want 404", code)
	}
	if code := apiGetStatus(a, "/v1/mirrors/m1"); code != http.StatusNotFound {
		t.Errorf("GET /v1/mirrors/m1 after refused PUTs: %d, want 404", code)
	}
	// The same token is accepted, so the 401s above are about the token.
	if code, raw, _ := apiDo(t, a, "GET", "/v1/clusters", "Bearer "+testToken, ""); code != http.StatusOK {
		t.Errorf("GET /v1/clusters with the token: %d %q, want 200", code, raw)
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		if code, raw, _ := apiDo(t, a, "GET", probe, "", ""); code != http.StatusOK {
			t.Errorf("GET %s without a token: %d %q, want 200", probe, code, raw)
		}
	}
}

func TestAPIClusterPutIsIdempotentGetAnswersItAndDeleteRemovesIt(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())

	want := agentapi.Cluster{Name: "europe", BootstrapServers: state.Bootstrap()}
	var first, second, got agentapi.Cluster
	if code := a.call("PUT", "/v1/clusters/europe", agentapi.Cluster{BootstrapServers: state.Bootstrap()}, &first); code != http.StatusCreated {
		t.Fatalf("first PUT: %d, want 201", code)
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first PUT answered %+v, want the stored object %+v", first, want)
	}
	if code := a.call("PUT", "/v1/clusters/europe", agentapi.Cluster{BootstrapServers: state.Bootstrap()}, &second); code != http.StatusOK {
		t.Fatalf("second PUT: %d", code)
	}
	if !reflect.DeepEqual(second, first) {
		t.Errorf("the same PUT twice answered %+v then %+v", first, second)
	}
	if code := a.call("GET", "/v1/clusters/europe", nil, &got); code != http.StatusOK || !reflect.DeepEqual(got, first) {
		t.Errorf("GET answered %d %+v, want 200 %+v", code, got, first)
	}
	var list []agentapi.Cluster
	if code := a.call("GET", "/v1/clusters", nil, &list); code != http.StatusOK || !reflect.DeepEqual(list, []agentapi.Cluster{first}) {
		t.Errorf("GET /v1/clusters answered %d %+v, want exactly [%+v]", code, list, first)
	}

	// Unknown names are a 404 that says which name.
	code, raw, _ := apiDo(t, a, "GET", "/v1/clusters/atlantis", "Bearer "+testToken, "")
	if code != http.StatusNotFound {
		t.Fatalf("GET unknown cluster: %d %q, want 404", code, raw)
	}
	if e := apiErrorOf(t, "GET unknown cluster", raw); e.Code != agentapi.CodeNotFound || !strings.Contains(e.Message, "atlantis") {
		t.Errorf("GET unknown cluster: %+v, want code not_found and a message naming atlantis", e)
	}

	// A cluster a mirror uses cannot be deleted, as source or as target.
	a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{"none-such"}}})
	for _, used := range []string{"north-america", "europe"} {
		code, raw, _ := apiDo(t, a, "DELETE", "/v1/clusters/"+used, "Bearer "+testToken, "")
		if code != http.StatusConflict {
			t.Errorf("DELETE %s used by a mirror: %d %q, want 409", used, code, raw)
			continue
		}
		if e := apiErrorOf(t, "DELETE "+used, raw); e.Code != agentapi.CodeConflict || !strings.Contains(e.Message, `"na-to-eu"`) {
			t.Errorf("DELETE %s: %+v, want code conflict and a message naming mirror na-to-eu", used, e)
		}
		if code := apiGetStatus(a, "/v1/clusters/"+used); code != http.StatusOK {
			t.Errorf("GET %s after a refused DELETE: %d, want 200", used, code)
		}
	}

	// Once the mirror is gone the cluster can go.
	if code := a.call("DELETE", "/v1/mirrors/na-to-eu", nil, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE mirror: %d, want 204", code)
	}
	for _, path := range []string{"/v1/mirrors/na-to-eu", "/v1/mirrors/na-to-eu/status"} {
		code, raw, _ := apiDo(t, a, "GET", path, "Bearer "+testToken, "")
		if code != http.StatusNotFound {
			t.Errorf("GET %s after DELETE: %d %q, want 404", path, code, raw)
		} else if e := apiErrorOf(t, "GET "+path, raw); !strings.Contains(e.Message, "na-to-eu") {
			t.Errorf("GET %s: %+v, want a message naming na-to-eu", path, e)
		}
	}
	code, raw, _ = apiDo(t, a, "DELETE", "/v1/clusters/europe", "Bearer "+testToken, "")
	if code != http.StatusNoContent || len(raw) != 0 {
		t.Errorf("DELETE cluster: %d %q, want 204 with no body", code, raw)
	}
	if code := apiGetStatus(a, "/v1/clusters/europe"); code != http.StatusNotFound {
		t.Errorf("GET after DELETE: %d, want 404", code)
	}
	if code := apiGetStatus(a, "/v1/clusters/atlantis"); code != http.StatusNotFound {
		t.Errorf("GET never-stored cluster: %d, want 404", code)
	}
	if code := a.call("DELETE", "/v1/clusters/atlantis", nil, nil); code != http.StatusNotFound {
		t.Errorf("DELETE of an unknown cluster: %d, want 404", code)
	}
}

func TestAPISecretsAreWriteOnlyAbsentFromLogsAndEncryptedInTheStateTopic(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	const password = "s3cr3t-pw-XYZ"
	certPEM, keyPEM := selfSignedPEM(t)
	needles := secretNeedles(password, keyPEM)

	body := agentapi.Cluster{
		BootstrapServers: state.Bootstrap(),
		SASL:             &agentapi.SASL{Mechanism: "SCRAM-SHA-512", Username: "mirror-user", Password: password},
		TLS:              &agentapi.TLS{CAPEM: certPEM, CertPEM: certPEM, KeyPEM: keyPEM},
	}
	raw, _ := json.Marshal(body)
	code, putRaw, _ := apiDo(t, a, "PUT", "/v1/clusters/secure", "Bearer "+testToken, string(raw))
	if code != http.StatusCreated {
		t.Fatalf("PUT secure cluster: %d %q", code, putRaw)
	}
	code, getRaw, _ := apiDo(t, a, "GET", "/v1/clusters/secure", "Bearer "+testToken, "")
	if code != http.StatusOK {
		t.Fatalf("GET secure cluster: %d %q", code, getRaw)
	}
	_, listRaw, _ := apiDo(t, a, "GET", "/v1/clusters", "Bearer "+testToken, "")
	for what, raw := range map[string][]byte{"PUT answer": putRaw, "GET answer": getRaw, "GET /v1/clusters answer": listRaw} {
		assertNoSecretInJSON(t, what, raw, needles)
	}
	for what, raw := range map[string][]byte{"PUT answer": putRaw, "GET answer": getRaw} {
		var c agentapi.Cluster
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		if c.SASL == nil || !c.SASL.PasswordSet || c.SASL.Password != "" || c.SASL.Username != "mirror-user" {
			t.Errorf("%s sasl = %+v, want username kept, password_set true and no password", what, c.SASL)
		}
		if c.TLS == nil || !c.TLS.KeyPEMSet || c.TLS.KeyPEM != "" || c.TLS.CertPEM != certPEM || c.TLS.CAPEM != certPEM {
			t.Errorf("%s tls = %+v, want ca and cert kept, key_pem_set true and no key", what, c.TLS)
		}
	}

	// Re-applying the configuration without the secrets keeps them.
	var again agentapi.Cluster
	if code := a.call("PUT", "/v1/clusters/secure", agentapi.Cluster{
		BootstrapServers: state.Bootstrap(),
		SASL:             &agentapi.SASL{Mechanism: "SCRAM-SHA-512", Username: "mirror-user"},
		TLS:              &agentapi.TLS{CAPEM: certPEM, CertPEM: certPEM},
	}, &again); code != http.StatusOK {
		t.Fatalf("PUT without secrets: %d, want 200", code)
	}
	if again.SASL == nil || !again.SASL.PasswordSet || again.TLS == nil || !again.TLS.KeyPEMSet {
		t.Errorf("PUT without secrets answered %+v / %+v, want password_set and key_pem_set still true", again.SASL, again.TLS)
	}

	// Make the agent use the secrets: a mirror from the secure cluster
	// builds connections from the decrypted password and key, so any code
	// path that logs a connection would show up in the log below.
	a.mustPut("/v1/clusters/plain", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/mirrors/from-secure", agentapi.Mirror{Source: "secure", Target: "plain", Topics: agentapi.Selector{Include: []string{"orders"}}})
	kafkatest.Eventually(t, 20*time.Second, "the mirror from the secure cluster is started", func() (bool, string) {
		logs, _ := os.ReadFile(a.logPath)
		return bytes.Contains(logs, []byte(`"mirror started"`)), "no \"mirror started\" line yet"
	})
	a.stop() // flushes every log line, shutdown included
	logs, err := os.ReadFile(a.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(logs, []byte(`"cluster":"secure"`)) {
		t.Fatalf("the log never mentions cluster secure: is %s the agent's log?", a.logPath)
	}
	for i, line := range bytes.Split(logs, []byte("\n")) {
		assertNoSecretInJSON(t, fmt.Sprintf("agent log line %d", i+1), line, needles)
	}

	// At rest: no topic on the state cluster holds the secrets, and the
	// state topic's cluster record carries them sealed.
	topics, err := kadm.NewClient(kafkatest.Client(t, state.Bootstrap())).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sawSealed := false
	for _, topic := range topics.Names() {
		for p, records := range kafkatest.ReadAll(t, state.Bootstrap(), topic) {
			for _, r := range records {
				where := fmt.Sprintf("record %s[%d]@%d key %q", topic, p, r.Offset, r.Key)
				assertNoSecret(t, where, r.Key, needles)
				assertNoSecretInJSON(t, where, r.Value, needles)
				for _, h := range r.Headers {
					assertNoSecret(t, where+" header "+h.Key, h.Value, needles)
				}
				if topic == store.StateTopic && string(r.Key) == "cluster/secure" &&
					bytes.Contains(r.Value, []byte(`"sealed_password"`)) && bytes.Contains(r.Value, []byte(`"sealed_key_pem"`)) {
					sawSealed = true
				}
			}
		}
	}
	if !sawSealed {
		t.Errorf("found no record cluster/secure with sealed_password and sealed_key_pem in %s (topics: %v)", store.StateTopic, topics.Names())
	}
}

func TestAPIAgentWithoutASecretKeyRefusesSecretsButStoresClustersWithout(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgentWithoutSecretKey(t, state.BootstrapString())
	certPEM, keyPEM := selfSignedPEM(t)

	refused := map[string]agentapi.Cluster{
		"with-password": {BootstrapServers: state.Bootstrap(), SASL: &agentapi.SASL{Mechanism: "PLAIN", Username: "u", Password: "s3cr3t-pw-XYZ"}},
		"with-key":      {BootstrapServers: state.Bootstrap(), TLS: &agentapi.TLS{CertPEM: certPEM, KeyPEM: keyPEM}},
	}
	for name, c := range refused {
		raw, _ := json.Marshal(c)
		code, ans, _ := apiDo(t, a, "PUT", "/v1/clusters/"+name, "Bearer "+testToken, string(raw))
		if code != http.StatusBadRequest {
			t.Errorf("PUT %s on an agent without a secret key: %d %q, want 400", name, code, ans)
			continue
		}
		if e := apiErrorOf(t, "PUT "+name, ans); e.Code != agentapi.CodeInvalidField || !strings.Contains(e.Message, "--secret-key-file") {
			t.Errorf("PUT %s: %+v, want invalid_field telling to start the agent with --secret-key-file", name, e)
		}
		if code := apiGetStatus(a, "/v1/clusters/"+name); code != http.StatusNotFound {
			t.Errorf("GET %s after the refused PUT: %d, want 404", name, code)
		}
	}
	// Without secrets the same agent works, so the 400s are about the key.
	a.mustPut("/v1/clusters/open", agentapi.Cluster{BootstrapServers: state.Bootstrap(), TLS: &agentapi.TLS{CAPEM: certPEM}})
}

// validationCase is one PUT the agent must refuse, naming the field.
type validationCase struct {
	name    string
	path    string // escaped as sent
	body    string
	code    string // error code; invalid_field unless set
	field   string
	mention string // the message must contain this, when set
}

func TestAPIValidationRefusesBadPutsNamingTheFieldAndStoresNothing(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	a.mustPut("/v1/clusters/src", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/clusters/dst", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	okCluster := `"bootstrap_servers":["127.0.0.1:9092"]`
	okMirror := `"source":"src","target":"dst","topics":{"include":["orders"]}`

	cases := []validationCase{
		{name: "malformed JSON", path: "/v1/clusters/bad-json", body: `{"bootstrap_servers": [`, code: agentapi.CodeMalformedBody},
		{name: "empty body", path: "/v1/clusters/empty", body: ``, code: agentapi.CodeMalformedBody},
		{name: "two JSON values", path: "/v1/clusters/two", body: `{` + okCluster + `} {}`, code: agentapi.CodeMalformedBody},
		{name: "unknown cluster field", path: "/v1/clusters/unknown-field", body: `{` + okCluster + `,"bootstrap":"x:1"}`, field: "bootstrap", mention: "bootstrap"},
		{name: "cluster field of the wrong type", path: "/v1/clusters/wrong-type", body: `{"bootstrap_servers":"127.0.0.1:9092"}`, field: "bootstrap_servers"},
		{name: "no bootstrap servers", path: "/v1/clusters/no-brokers", body: `{"bootstrap_servers":[]}`, field: "bootstrap_servers"},
		{name: "bootstrap server without a port", path: "/v1/clusters/bad-broker", body: `{"bootstrap_servers":["127.0.0.1:9092","kafka-2"]}`, field: "bootstrap_servers[1]", mention: "kafka-2"},
		// A port must be a number a broker can listen on, or the cluster is
		// stored but never reachable.
		{name: "bootstrap server with a named port", path: "/v1/clusters/named-port", body: `{"bootstrap_servers":["kafka-1:kafka"]}`, field: "bootstrap_servers[0]", mention: "kafka-1:kafka"},
		{name: "bootstrap server with port 0", path: "/v1/clusters/port-zero", body: `{"bootstrap_servers":["kafka-1:9092","kafka-2:0"]}`, field: "bootstrap_servers[1]"},
		{name: "bootstrap server with a port above 65535", path: "/v1/clusters/port-big", body: `{"bootstrap_servers":["kafka-1:90920"]}`, field: "bootstrap_servers[0]"},
		{name: "unknown sasl mechanism", path: "/v1/clusters/bad-sasl", body: `{` + okCluster + `,"sasl":{"mechanism":"GSSAPI","username":"u","password":"p"}}`, field: "sasl.mechanism", mention: "GSSAPI"},
		{name: "ca_pem that is no certificate", path: "/v1/clusters/bad-ca", body: `{` + okCluster + `,"tls":{"ca_pem":"not a pem"}}`, field: "tls.ca_pem"},
		{name: "body name differs from path name", path: "/v1/clusters/path-name", body: `{"name":"body-name",` + okCluster + `}`, field: "name", mention: "body-name"},
		{name: "cluster path name with a space", path: "/v1/clusters/has%20space", body: `{` + okCluster + `}`, field: "name", mention: "has space"},
		{name: "cluster path name with a slash", path: "/v1/clusters/a%2Fb", body: `{` + okCluster + `}`, field: "name", mention: "a/b"},

		{name: "unknown nested cluster field", path: "/v1/clusters/nested-unknown", body: `{` + okCluster + `,"sasl":{"mechanism":"PLAIN","username":"u","pasword":"p"}}`, field: "sasl.pasword", mention: "pasword"},
		{name: "unknown nested mirror field", path: "/v1/mirrors/nested-unknown", body: `{"source":"src","target":"dst","topics":{"include":["orders"],"excludes":["x"]}}`, field: "topics.excludes", mention: "excludes"},
		{name: "unknown mirror field", path: "/v1/mirrors/unknown-field", body: `{"source":"src","target":"dst","topic":{"include":["orders"]}}`, field: "topic", mention: "topic"},
		{name: "tasks_max as a string", path: "/v1/mirrors/tasks-four", body: `{` + okMirror + `,"tasks_max":"four"}`, field: "tasks_max"},
		{name: "bad topic include regex", path: "/v1/mirrors/bad-include", body: `{"source":"src","target":"dst","topics":{"include":["orders","("]}}`, field: "topics.include[1]"},
		{name: "bad group exclude regex", path: "/v1/mirrors/bad-exclude", body: `{` + okMirror + `,"groups":{"include":[".*"],"exclude":["[z-a]"]}}`, field: "groups.exclude[0]"},
		{name: "source is target", path: "/v1/mirrors/loop", body: `{"source":"src","target":"src","topics":{"include":["orders"]}}`, field: "target", mention: "src"},
		{name: "unknown source cluster", path: "/v1/mirrors/from-nowhere", body: `{"source":"nowhere","target":"dst","topics":{"include":["orders"]}}`, field: "source", mention: "nowhere"},
		{name: "no topics", path: "/v1/mirrors/no-topics", body: `{"source":"src","target":"dst"}`, field: "topics.include"},
		{name: "refresh_interval not a duration", path: "/v1/mirrors/soon", body: `{` + okMirror + `,"refresh_interval":"soon"}`, field: "refresh_interval", mention: "soon"},
		{name: "unknown replication_policy", path: "/v1/mirrors/bad-policy", body: `{` + okMirror + `,"replication_policy":"mirror"}`, field: "replication_policy", mention: "identity"},
		{name: "unknown start_from", path: "/v1/mirrors/bad-start", body: `{` + okMirror + `,"start_from":"now"}`, field: "start_from", mention: "earliest"},
		{name: "tasks_max too large", path: "/v1/mirrors/too-many-tasks", body: `{` + okMirror + `,"tasks_max":5000}`, field: "tasks_max", mention: "1024"},
		{name: "mirror path name with a slash", path: "/v1/mirrors/a%2Fb", body: `{` + okMirror + `}`, field: "name"},
	}
	certPEM, _ := selfSignedPEM(t)
	_, otherKeyPEM := selfSignedPEM(t)
	keyPair := func(cert, key string) string {
		raw, _ := json.Marshal(agentapi.TLS{CertPEM: cert, KeyPEM: key})
		return `{` + okCluster + `,"tls":` + string(raw) + `}`
	}
	cases = append(cases,
		validationCase{name: "key_pem of another certificate", path: "/v1/clusters/wrong-key", body: keyPair(certPEM, otherKeyPEM), field: "tls.key_pem", mention: "tls.cert_pem"},
		validationCase{name: "key_pem that is no PEM key", path: "/v1/clusters/bad-key", body: keyPair(certPEM, "not a key"), field: "tls.key_pem"},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, raw, _ := apiDo(t, a, "PUT", tc.path, "Bearer "+testToken, tc.body)
			if code != http.StatusBadRequest {
				t.Fatalf("PUT %s %s: %d %q, want 400", tc.path, tc.body, code, raw)
			}
			e := apiErrorOf(t, "PUT "+tc.path, raw)
			wantCode := tc.code
			if wantCode == "" {
				wantCode = agentapi.CodeInvalidField
			}
			if e.Code != wantCode || e.Field != tc.field {
				t.Errorf("error %+v, want code %q field %q", e, wantCode, tc.field)
			}
			if tc.mention != "" && !strings.Contains(e.Message, tc.mention) {
				t.Errorf("message %q does not mention %q", e.Message, tc.mention)
			}
			// Nothing half-written.
			if code := apiGetStatus(a, tc.path); code != http.StatusNotFound {
				t.Errorf("GET %s after the refused PUT: %d, want 404", tc.path, code)
			}
		})
	}
	if code := apiGetStatus(a, "/v1/clusters/body-name"); code != http.StatusNotFound {
		t.Errorf("GET body-name after the name mismatch: %d, want 404", code)
	}

	// replication_policy cannot change on an existing mirror; the refused
	// PUT leaves the stored mirror as it was. tasks_max can.
	var before, after agentapi.Mirror
	if code := a.call("PUT", "/v1/mirrors/steady", `{`+okMirror+`,"tasks_max":8}`, &before); code != http.StatusCreated {
		t.Fatalf("PUT steady: %d", code)
	}
	code, raw, _ := apiDo(t, a, "PUT", "/v1/mirrors/steady", "Bearer "+testToken, `{`+okMirror+`,"tasks_max":8,"replication_policy":"prefix","refresh_interval":"1m"}`)
	if code != http.StatusBadRequest {
		t.Fatalf("PUT changing replication_policy: %d %q, want 400", code, raw)
	}
	if e := apiErrorOf(t, "PUT changing replication_policy", raw); e.Code != agentapi.CodeInvalidField || e.Field != "replication_policy" {
		t.Errorf("PUT changing replication_policy: %+v, want invalid_field replication_policy", e)
	}
	a.call("GET", "/v1/mirrors/steady", nil, &after)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("refused PUT changed the mirror: %+v became %+v", before, after)
	}
	if code := a.call("PUT", "/v1/mirrors/steady", `{`+okMirror+`,"tasks_max":2}`, &after); code != http.StatusOK || after.TasksMax != 2 || !after.CreatedAt.Equal(before.CreatedAt) {
		t.Errorf("PUT changing tasks_max from 8 to 2: %d %+v, want 200 and the same mirror with tasks_max 2", code, after)
	}
}

func TestAPIMirrorDefaultsAreFilledInAndCreatedAtIsKept(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	a.mustPut("/v1/clusters/src", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/clusters/dst", agentapi.Cluster{BootstrapServers: state.Bootstrap()})

	// tasks_max 0 is sent explicitly: it means "the default", not an error.
	syncOn := true
	start := time.Now()
	var first agentapi.Mirror
	if code := a.call("PUT", "/v1/mirrors/m", `{"source":"src","target":"dst","topics":{"include":["orders"]},"tasks_max":0}`, &first); code != http.StatusCreated {
		t.Fatalf("PUT minimal mirror: %d", code)
	}
	want := agentapi.Mirror{
		Name: "m", Source: "src", Target: "dst", Topics: agentapi.Selector{Include: []string{"orders"}},
		ReplicationPolicy: "identity", StartFrom: "earliest", RefreshInterval: "10s", TasksMax: 4,
		CheckpointInterval: "1s", SyncGroupOffsets: &syncOn, SyncACLs: &syncOn,
		CreatedAt: first.CreatedAt,
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("PUT answered %+v, want %+v", first, want)
	}
	if first.CreatedAt.Before(start.Add(-time.Minute)) || first.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("created_at %s is not the time of the PUT (%s)", first.CreatedAt, start)
	}
	var got agentapi.Mirror
	if a.call("GET", "/v1/mirrors/m", nil, &got); !reflect.DeepEqual(got, first) {
		t.Errorf("GET answered %+v, want %+v", got, first)
	}

	time.Sleep(20 * time.Millisecond) // so that a fresh created_at would differ
	var second agentapi.Mirror
	if code := a.call("PUT", "/v1/mirrors/m", agentapi.Mirror{Source: "src", Target: "dst", Topics: agentapi.Selector{Include: []string{"orders", "payments"}}, RefreshInterval: "30s"}, &second); code != http.StatusOK {
		t.Fatalf("second PUT: %d", code)
	}
	if !second.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("second PUT moved created_at from %s to %s", first.CreatedAt, second.CreatedAt)
	}
	if second.RefreshInterval != "30s" || len(second.Topics.Include) != 2 || second.TasksMax != 4 {
		t.Errorf("second PUT answered %+v, want the update applied and tasks_max 4", second)
	}
}

func TestAPIStateIsDurableAcrossRestartsAndSharedBetweenReplicas(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())

	var src, dst, secure agentapi.Cluster
	var m agentapi.Mirror
	a.call("PUT", "/v1/clusters/src", agentapi.Cluster{BootstrapServers: state.Bootstrap()}, &src)
	a.call("PUT", "/v1/clusters/dst", agentapi.Cluster{BootstrapServers: state.Bootstrap()}, &dst)
	a.call("PUT", "/v1/clusters/secure", agentapi.Cluster{BootstrapServers: []string{"kafka-1:9093"}, SASL: &agentapi.SASL{Mechanism: "PLAIN", Username: "u", Password: "s3cr3t-pw-XYZ"}}, &secure)
	if code := a.call("PUT", "/v1/mirrors/m", agentapi.Mirror{Source: "src", Target: "dst", Topics: agentapi.Selector{Include: []string{"none-such"}}, TasksMax: 2}, &m); code != http.StatusCreated {
		t.Fatalf("PUT mirror: %d", code)
	}
	if secure.SASL == nil || !secure.SASL.PasswordSet {
		t.Fatalf("secure cluster answered %+v, want password_set", secure.SASL)
	}
	clusters := map[string]agentapi.Cluster{"src": src, "dst": dst, "secure": secure}

	// sameState checks b answers exactly what a's PUTs answered. No
	// polling: a replica reads the whole state topic before it listens.
	sameState := func(b *agentProc, who string) {
		t.Helper()
		for name, want := range clusters {
			var got agentapi.Cluster
			if code := b.call("GET", "/v1/clusters/"+name, nil, &got); code != http.StatusOK || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: GET cluster %s answered %d %+v, want %+v", who, name, code, got, want)
			}
		}
		var got agentapi.Mirror
		if code := b.call("GET", "/v1/mirrors/m", nil, &got); code != http.StatusOK || !reflect.DeepEqual(got, m) {
			t.Errorf("%s: GET mirror answered %d %+v, want %+v", who, code, got, m)
		}
	}
	a.stop()
	a.start()
	sameState(a, "restarted agent")

	b := startAgent(t, state.BootstrapString())
	sameState(b, "second agent")

	// A write is visible at once on the replica that took it, and soon on
	// the other one, in both directions.
	propagates := func(writer, reader *agentProc, path string, body any, wantCode int) {
		t.Helper()
		var written any
		if body != nil {
			if code := writer.call("PUT", path, body, &written); code != http.StatusOK && code != http.StatusCreated {
				t.Fatalf("PUT %s: %d", path, code)
			}
		} else if code := writer.call("DELETE", path, nil, nil); code != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d", path, code)
		}
		var mine any
		if code := writer.call("GET", path, nil, &mine); code != wantCode || (body != nil && !reflect.DeepEqual(mine, written)) {
			t.Errorf("GET %s on the writer right after: %d %v, want %d %v", path, code, mine, wantCode, written)
		}
		kafkatest.Eventually(t, 10*time.Second, "GET "+path+" on the other replica", func() (bool, string) {
			var theirs any
			code := reader.call("GET", path, nil, &theirs)
			if code != wantCode || (body != nil && !reflect.DeepEqual(theirs, written)) {
				return false, fmt.Sprintf("%d %v", code, theirs)
			}
			return true, ""
		})
	}
	propagates(a, b, "/v1/mirrors/m", agentapi.Mirror{Source: "src", Target: "dst", Topics: agentapi.Selector{Include: []string{"orders"}}, TasksMax: 2, RefreshInterval: "1m"}, http.StatusOK)
	propagates(b, a, "/v1/clusters/asia", agentapi.Cluster{BootstrapServers: []string{"kafka-asia:9092"}}, http.StatusOK)
	propagates(a, b, "/v1/clusters/asia", nil, http.StatusNotFound)
}

func TestAPIMetricsServePrometheusMirrorSeriesOnceAMirrorRuns(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	src := kafkatest.Cluster(t, "source")
	a := startAgent(t, state.BootstrapString())
	kafkatest.CreateTopic(t, src.Bootstrap(), "orders", 1, nil)
	kafkatest.NewProducer(t, src.Bootstrap()).Produce(t, "orders", 1, 3)

	metrics := func() string {
		t.Helper()
		code, raw, hdr := apiDo(t, a, "GET", "/metrics", "Bearer "+testToken, "")
		if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET /metrics: %d %s, want 200 text/plain", code, hdr.Get("Content-Type"))
		}
		return string(raw)
	}
	if text := metrics(); strings.Contains(text, "kfo_mirror_") || !strings.Contains(text, "go_goroutines") {
		t.Fatalf("before any mirror, /metrics should hold Go series and no kfo_mirror_ series:\n%s", text)
	}

	a.mustPut("/v1/clusters/source", agentapi.Cluster{BootstrapServers: src.Bootstrap()})
	a.mustPut("/v1/clusters/target", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/mirrors/orders-eu", agentapi.Mirror{Source: "source", Target: "target", Topics: agentapi.Selector{Include: []string{"orders"}}, RefreshInterval: "1s"})
	want := []string{
		`kfo_mirror_records_total{mirror="orders-eu",topic="orders"} 3`,
		`kfo_mirror_lag_records{mirror="orders-eu",partition="0",topic="orders"}`,
	}
	kafkatest.Eventually(t, 60*time.Second, "/metrics shows the mirror's series", func() (bool, string) {
		text := metrics()
		for _, w := range want {
			if !strings.Contains(text, w) {
				return false, "missing " + w
			}
		}
		return true, ""
	})
}

func TestAPIUnknownEndpointWithTheTokenIsA404InTheErrorShape(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	for _, ep := range []struct{ method, path string }{
		{"GET", "/v1/nothing-here"},
		{"GET", "/v2/clusters/x"},
		{"POST", "/v1/frobnicate"},
	} {
		code, raw, hdr := apiDo(t, a, ep.method, ep.path, "Bearer "+testToken, "")
		if code != http.StatusNotFound {
			t.Errorf("%s %s: %d %q, want 404", ep.method, ep.path, code, raw)
			continue
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", ep.method, ep.path, ct)
		}
		if e := apiErrorOf(t, ep.method+" "+ep.path, raw); e.Code != agentapi.CodeNotFound || !strings.Contains(e.Message, ep.path) {
			t.Errorf("%s %s: %+v, want not_found naming the path", ep.method, ep.path, e)
		}
	}
}
