package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// A stored secret is reused only for the connection it was given for: whoever
// holds the API token must not be able to point a cluster at their own host,
// or strip its TLS, and have the agent send them the stored password.
func TestClusterUpdateThatChangesWhereOrHowASecretGoesMustSendItAgain(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	caPEM, _ := selfSignedPEM(t)
	otherCAPEM, _ := selfSignedPEM(t)
	certPEM, keyPEM := selfSignedPEM(t)
	sasl := func(mechanism string) *agentapi.SASL {
		return &agentapi.SASL{Mechanism: mechanism, Username: "mirror"}
	}
	stored := agentapi.Cluster{BootstrapServers: []string{"na-kafka-1:9093"}, SASL: sasl("SCRAM-SHA-512"), TLS: &agentapi.TLS{CAPEM: caPEM, CertPEM: certPEM}}
	withSecrets := stored
	withSecrets.SASL = &agentapi.SASL{Mechanism: "SCRAM-SHA-512", Username: "mirror", Password: "na-pw-5e1d"}
	withSecrets.TLS = &agentapi.TLS{CAPEM: caPEM, CertPEM: certPEM, KeyPEM: keyPEM}
	a.mustPut("/v1/clusters/north-america", withSecrets)

	// Each change below keeps the username and sends no secret.
	changed := func(edit func(c *agentapi.Cluster)) agentapi.Cluster {
		c := stored
		t := *stored.TLS
		c.TLS, c.SASL = &t, sasl(stored.SASL.Mechanism)
		edit(&c)
		return c
	}
	cases := []struct {
		name    string
		body    agentapi.Cluster
		field   string // the secret that must be sent again
		mention string // the setting that changed
	}{
		{"bootstrap servers of another host", changed(func(c *agentapi.Cluster) { c.BootstrapServers = []string{"attacker.example:9092"} }), "sasl.password", "bootstrap_servers"},
		{"tls removed", changed(func(c *agentapi.Cluster) { c.TLS = nil }), "sasl.password", "tls"},
		{"another ca", changed(func(c *agentapi.Cluster) { c.TLS.CAPEM = otherCAPEM }), "sasl.password", "tls.ca_pem"},
		{"certificate checks off", changed(func(c *agentapi.Cluster) { c.TLS.InsecureSkipVerify = true }), "sasl.password", "tls.insecure_skip_verify"},
		{"mechanism PLAIN", changed(func(c *agentapi.Cluster) { c.SASL.Mechanism = "PLAIN" }), "sasl.password", "sasl.mechanism"},
		// The client key too: the password is sent first in the body, so
		// these send it and leave only the key out.
		{"key kept for another host", changed(func(c *agentapi.Cluster) {
			c.BootstrapServers = []string{"attacker.example:9092"}
			c.SASL.Password = "na-pw-5e1d"
		}), "tls.key_pem", "bootstrap_servers"},
	}
	for _, tc := range cases {
		raw, _ := json.Marshal(tc.body)
		code, ans, _ := apiDo(t, a, "PUT", "/v1/clusters/north-america", "Bearer "+testToken, string(raw))
		if code != http.StatusBadRequest {
			t.Errorf("%s, no secret sent: %d %.300q, want 400", tc.name, code, ans)
			continue
		}
		e := apiErrorOf(t, tc.name, ans)
		if e.Field != tc.field || !strings.Contains(e.Message, tc.mention) {
			t.Errorf("%s: error %+v, want field %s and a message naming %s", tc.name, e, tc.field, tc.mention)
		}
	}
	var got agentapi.Cluster
	if code := a.call("GET", "/v1/clusters/north-america", nil, &got); code != http.StatusOK || strings.Join(got.BootstrapServers, ",") != "na-kafka-1:9093" || got.TLS == nil || got.TLS.InsecureSkipVerify {
		t.Fatalf("after the refused updates: %d %+v, want the cluster as first stored", code, got)
	}

	// The same settings again keep both secrets; new settings with the
	// secrets sent again are an ordinary update.
	var kept agentapi.Cluster
	if code := a.call("PUT", "/v1/clusters/north-america", changed(func(*agentapi.Cluster) {}), &kept); code != http.StatusOK || !kept.SASL.PasswordSet || !kept.TLS.KeyPEMSet {
		t.Errorf("PUT of the same settings without secrets: %d %+v %+v, want 200 with password_set and key_pem_set", code, kept.SASL, kept.TLS)
	}
	moved := withSecrets
	moved.BootstrapServers = []string{"na-kafka-2:9093"}
	if code := a.call("PUT", "/v1/clusters/north-america", moved, &kept); code != http.StatusOK || !kept.SASL.PasswordSet || !kept.TLS.KeyPEMSet {
		t.Errorf("PUT of new bootstrap servers with the secrets: %d %+v %+v, want 200 with password_set and key_pem_set", code, kept.SASL, kept.TLS)
	}
}

// Anyone who can write to the state cluster can copy a sealed secret into a
// record of their own, or change the settings of the record that holds it:
// the secret must then fail to open, not go to the host they chose.
func TestASealedSecretMovedToAnotherClusterOrUnderOtherSettingsIsRefused(t *testing.T) {
	t.Parallel()
	const password = "na-scram-pw-71c2"
	na, _, evil, evilAuth, eu := attackScene(t, password)
	a := startAgent(t, eu.BootstrapString())
	a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: na.ListenAddrs(), SASL: &agentapi.SASL{Mechanism: "SCRAM-SHA-512", Username: "mirror", Password: password}})
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: eu.Bootstrap()})
	kafkatest.CreateTopic(t, evil.ListenAddrs(), "LOOT", 1, nil, evilAuth...)
	kafkatest.NewProducer(t, evil.ListenAddrs(), evilAuth...).Produce(t, "LOOT", 1, 10)

	rec := stateRecord(t, eu.Bootstrap(), "cluster/north-america")
	moved := maps.Clone(rec)
	moved["name"], moved["bootstrap_servers"] = "attacker", evil.ListenAddrs()
	writeStateRecord(t, eu.Bootstrap(), "cluster/attacker", moved)
	kafkatest.Eventually(t, 30*time.Second, "the agent reads the planted record", func() (bool, string) {
		code := a.call("GET", "/v1/clusters/attacker", nil, nil)
		return code == http.StatusOK, fmt.Sprint(code)
	})
	a.mustPut("/v1/mirrors/attacker-to-eu", agentapi.Mirror{Source: "attacker", Target: "europe", Topics: agentapi.Selector{Include: []string{"LOOT"}}, RefreshInterval: "1s"})
	a.waitLogged(t, 30*time.Second, `"mirror cannot start"`, `"mirror":"attacker-to-eu"`, "sasl.password")

	altered := maps.Clone(rec)
	altered["bootstrap_servers"] = evil.ListenAddrs()
	writeStateRecord(t, eu.Bootstrap(), "cluster/north-america", altered)
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{"LOOT"}}, RefreshInterval: "1s"})
	a.waitLogged(t, 30*time.Second, `"mirror cannot start"`, `"mirror":"na-to-eu"`, "sasl.password")
	if kafkatest.TopicExists(t, eu.Bootstrap(), "LOOT") {
		t.Fatal("LOOT was mirrored from the attacker's host: the agent logged in there with the stored password")
	}
}

// Agents before the binding sealed secrets without one. The agent re-seals
// them, bound, when it starts; an unbound secret met after that, such as an
// old blob kept and copied into a record, is refused, then and after a
// restart.
func TestSecretsSealedWithoutABindingAreResealedAtStartAndOnesMetAfterAreRefused(t *testing.T) {
	t.Parallel()
	const password = "na-scram-pw-0b7e"
	na, naAuth, evil, evilAuth, eu := attackScene(t, password)
	compact := "compact"
	kafkatest.CreateTopic(t, eu.Bootstrap(), store.StateTopic, 1, map[string]*string{"cleanup.policy": &compact})
	legacy := sealedTheOldWay(t, password)
	sasl := map[string]any{"mechanism": "SCRAM-SHA-512", "username": "mirror", "password_set": true}
	writeStateRecord(t, eu.Bootstrap(), "cluster/north-america", map[string]any{"name": "north-america", "bootstrap_servers": na.ListenAddrs(), "sasl": sasl, "sealed_password": legacy})
	writeStateRecord(t, eu.Bootstrap(), "cluster/europe", map[string]any{"name": "europe", "bootstrap_servers": eu.Bootstrap()})

	a := startAgent(t, eu.BootstrapString())
	kafkatest.CreateTopic(t, na.ListenAddrs(), "LH.ORDERS", 1, nil, naAuth...)
	kafkatest.NewProducer(t, na.ListenAddrs(), naAuth...).Produce(t, "LH.ORDERS", 1, 100)
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
	waitMirrored(t, a, map[string]map[int32]int64{"LH.ORDERS": {0: 100}}, time.Minute)
	rec := stateRecord(t, eu.Bootstrap(), "cluster/north-america")
	if rec["secrets_bound"] != true || rec["sealed_password"] == base64.StdEncoding.EncodeToString(legacy) {
		t.Fatalf("cluster/north-america after the start: secrets_bound %v, sealed_password re-sealed %v; want it re-sealed, bound", rec["secrets_bound"], rec["sealed_password"] != base64.StdEncoding.EncodeToString(legacy))
	}

	writeStateRecord(t, eu.Bootstrap(), "cluster/attacker", map[string]any{"name": "attacker", "bootstrap_servers": evil.ListenAddrs(), "sasl": sasl, "sealed_password": legacy})
	kafkatest.CreateTopic(t, evil.ListenAddrs(), "LH.LOOT", 1, nil, evilAuth...)
	a.mustPut("/v1/mirrors/attacker-to-eu", agentapi.Mirror{Source: "attacker", Target: "europe", Topics: agentapi.Selector{Include: []string{"LH.LOOT"}}, RefreshInterval: "1s"})
	refusals := func() int {
		logs, _ := os.ReadFile(a.logPath)
		n := 0
		for line := range bytes.Lines(logs) {
			if bytes.Contains(line, []byte(`"mirror cannot start"`)) && bytes.Contains(line, []byte(`"mirror":"attacker-to-eu"`)) && bytes.Contains(line, []byte("sasl.password")) {
				n++
			}
		}
		return n
	}
	kafkatest.Eventually(t, 30*time.Second, "the unbound secret of cluster attacker is refused", func() (bool, string) { return refusals() > 0, "" })
	before := refusals()
	a.stop()
	a.start()
	kafkatest.Eventually(t, 30*time.Second, "the unbound secret is refused after a restart", func() (bool, string) { return refusals() > before, "" })
	if rec := stateRecord(t, eu.Bootstrap(), "cluster/attacker"); rec["secrets_bound"] == true {
		t.Error("the restarted agent re-sealed the unbound secret copied into cluster/attacker")
	}
	if kafkatest.TopicExists(t, eu.Bootstrap(), "LH.LOOT") {
		t.Fatal("LH.LOOT was mirrored from the attacker's host")
	}
}

// attackScene starts north-america, where user mirror logs in with
// password, the attacker's host, which takes the same password (a mirror
// that logs in there and copies its records shows the agent sent it), and
// europe, the state cluster.
func attackScene(t *testing.T, password string) (na *kfake.Cluster, naAuth []kgo.Opt, evil *kfake.Cluster, evilAuth []kgo.Opt, eu *devcluster.Cluster) {
	na, naAuth = kafkatest.SASLCluster(t, "north-america", "mirror", password)
	evil, evilAuth = kafkatest.SASLCluster(t, "attacker", "mirror", password)
	return na, naAuth, evil, evilAuth, kafkatest.Cluster(t, "europe")
}

// sealedTheOldWay seals plain as agents did before secrets were bound:
// AES-256-GCM under the SHA-256 of the test's key file, no additional data.
func sealedTheOldWay(t *testing.T, plain string) []byte {
	t.Helper()
	key := sha256.Sum256([]byte(testSecretKey))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(plain), nil)
}

// stateRecord answers the latest value of key on the state topic.
func stateRecord(t *testing.T, bootstrap []string, key string) map[string]any {
	t.Helper()
	var v map[string]any
	for _, r := range kafkatest.ReadAll(t, bootstrap, store.StateTopic)[0] {
		if string(r.Key) == key {
			v = nil
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
		}
	}
	if v == nil {
		t.Fatalf("no record %s on %s", key, store.StateTopic)
	}
	return v
}

// writeStateRecord writes a record to the state topic as anyone allowed to
// write to the state cluster could.
func writeStateRecord(t *testing.T, bootstrap []string, key string, value map[string]any) {
	t.Helper()
	raw, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &kgo.Record{Topic: store.StateTopic, Partition: 0, Key: []byte(key), Value: raw}
	if err := kafkatest.Client(t, bootstrap).ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

// The agent cannot stop others writing its __kfo_* topics, but it says so at
// start when it can tell anonymous clients may: its own state connection is
// anonymous, or an ACL allows User:* or User:ANONYMOUS to write them.
func TestAgentWarnsAtStartWhenAnonymousClientsMayWriteItsTopics(t *testing.T) {
	t.Parallel()
	const warning = "anonymous clients may write the agent's __kfo_* topics"
	plain := kafkatest.Cluster(t, "plain-state")
	a := startAgent(t, plain.BootstrapString())
	a.waitLogged(t, 10*time.Second, `"level":"WARN"`, warning, store.StateTopic, "without SASL")

	// A secure cluster (an authorizer, the agent its super user over
	// SASL_SSL) where no ACL lets anonymous clients write: no warning.
	secure := kafkatest.NewCluster(t, "acl-state", kafkatest.ClusterOptions{Secure: true})
	b := startAgentBeside(t, secure)
	if logs, _ := os.ReadFile(b.logPath); bytes.Contains(logs, []byte(warning)) {
		t.Fatalf("the agent warns of anonymous writers on a cluster whose ACLs allow none:\n%s", logs)
	}
	acls := kadm.NewACLs().Allow("User:*").Topics("__kfo_").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	created, err := kadm.NewClient(kafkatest.ClientOf(t, secure)).CreateACLs(ctx, acls)
	if err == nil {
		err = created[0].Err
	}
	if err != nil {
		t.Fatalf("create the ACL: %v", err)
	}
	b.stop()
	b.start()
	b.waitLogged(t, 10*time.Second, `"level":"WARN"`, warning, store.StateTopic, "User:*", "PREFIXED")
}
