package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// TestDemoForcedFailoverWithTerraform is `make demo` in small, with
// assertions: the configuration of examples/three-region-failover applied
// with the terraform CLI, a producer and a committing consumer in group
// consumer-southamerica on north-america, north-america killed, a forced
// failover applied, and the group resuming on europe.
func TestDemoForcedFailoverWithTerraform(t *testing.T) {
	tf := terraformWithProvider(t, "../examples/three-region-failover/main.tf")
	tfDir := tf.dir

	// SASL_SSL on every connection: the agent's to both clusters and to its
	// state (europe), and the applications'.
	na := kafkatest.NewCluster(t, "north-america", kafkatest.ClusterOptions{Secure: true})
	eu := kafkatest.NewCluster(t, "europe", kafkatest.ClusterOptions{Secure: true})
	secrets := securityOverride(t, tfDir, na.Declared(), eu.Declared())
	a := startAgent(t, strings.Join(eu.Bootstrap(), ","), stateConnFlags(t, eu.Declared())...)
	apply := func(vars ...string) (recordsLost int64) {
		t.Helper()
		var outputs struct {
			RecordsLost struct{ Value int64 } `json:"records_lost"`
		}
		tf.apply(t, secrets, &outputs, append([]string{"agent_url=" + a.url,
			"north_america_bootstrap=" + hclList(na.Bootstrap()),
			"europe_bootstrap=" + hclList(eu.Bootstrap())}, vars...)...)
		return outputs.RecordsLost.Value
	}

	apply()
	if state, err := os.ReadFile(filepath.Join(tfDir, "terraform.tfstate")); err != nil || strings.Contains(string(state), na.Declared().SASL.Password) {
		t.Fatalf("terraform state (%v) holds the clusters' SASL password, given write-only", err)
	}
	topics := []string{"LH.ORDERS", "LH.CANCELLATIONS", "LH.STOCK"}
	for _, topic := range topics {
		createTopicOn(t, na, topic, 3, nil)
	}

	// The consumer commits after each batch and remembers when each record's
	// commit was acknowledged (never, when north-america died first).
	type read struct {
		order       string
		committedAt time.Time
	}
	var mu sync.Mutex
	var naReads []read
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		cl, err := kgo.NewClient(append(na.ClientOpts(), kgo.SeedBrokers(na.Bootstrap()...), kgo.ConsumerGroup("consumer-southamerica"), kgo.ConsumeTopics(topics...),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.MetadataMinAge(time.Second), kgo.MetadataMaxAge(time.Second))...)
		if err != nil {
			return
		}
		defer func() { go cl.Close() }() // north-america is dead by then
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			fetches := cl.PollFetches(ctx)
			cancel()
			var batch []string
			fetches.EachRecord(func(r *kgo.Record) { batch = append(batch, string(r.Key)) })
			if len(batch) == 0 {
				continue
			}
			ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
			at := time.Now().Add(time.Hour) // not committed
			if cl.CommitUncommittedOffsets(ctx) == nil {
				at = time.Now()
			}
			cancel()
			mu.Lock()
			for _, o := range batch {
				naReads = append(naReads, read{o, at})
			}
			mu.Unlock()
		}
	}()

	const orders = 300
	prod := clientOf(t, na)
	produce := func(from, to int) {
		for i := from; i <= to; i++ {
			order := fmt.Sprintf("LH-%06d", i)
			r := &kgo.Record{Topic: topics[i%3], Key: []byte(order), Value: []byte(`{"order":"` + order + `"}`)}
			if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Steady state first, as in the demo: the mirror runs and the group's
	// offsets are checkpointed on every partition; then more orders arrive
	// while the consumer reads them.
	produce(1, 200)
	waitSynced(t, a, "consumer-southamerica", 9)
	produce(201, orders)
	// The report is exact for what the agent saw: lose north-america once
	// the agent has seen its last high watermarks, while the consumer reads.
	kafkatest.Eventually(t, time.Minute, "the agent has seen every order's high watermark and the consumer has read half", func() (bool, string) {
		var seen int64
		for _, p := range a.status("na-to-eu").Partitions {
			seen += p.SourceHighWatermark
		}
		mu.Lock()
		n := len(naReads)
		mu.Unlock()
		return seen == orders && n >= orders/2, fmt.Sprintf("high watermarks %d, consumer read %d", seen, n)
	})
	na.Kill()
	close(stop)
	<-stopped
	t.Logf("north-america killed; the consumer had read %d records there", len(naReads))

	reportedLost := apply("active_cluster=europe", "mode=forced")

	// No duplicates on the target topics; the truth about what was lost.
	onEU := map[string]bool{}
	for _, topic := range topics {
		for p, recs := range readAllOf(t, eu, topic) {
			for _, r := range recs {
				if onEU[string(r.Key)] {
					t.Fatalf("%s[%d]: order %s is on europe twice", topic, p, r.Key)
				}
				onEU[string(r.Key)] = true
			}
		}
	}
	lost := int64(orders - len(onEU))
	if reportedLost != lost {
		t.Fatalf("terraform output records_lost = %d; truly lost %d (%d of %d orders on europe)", reportedLost, lost, len(onEU), orders)
	}

	var p agentapi.Policy
	a.call("GET", "/v1/policies/loosehanger", nil, &p)
	if p.LastFailover == nil || p.LastFailover.Report == nil || len(p.LastFailover.Report.Groups) != 1 {
		t.Fatalf("the last failover's report has no group: %+v", p.LastFailover)
	}
	checkpointed := p.LastFailover.Report.Groups[0].CheckpointedAt
	var active agentapi.Active
	a.call("GET", "/v1/policies/loosehanger/active", nil, &active)
	if active.Cluster != "europe" || active.Epoch != 1 {
		t.Fatalf("discovery after the failover: %+v", active)
	}

	// Applications carry on in europe.
	euProd := kafkatest.Client(t, active.BootstrapServers, eu.ClientOpts()...)
	for i := orders + 1; i <= orders+30; i++ {
		order := fmt.Sprintf("LH-%06d", i)
		if err := euProd.ProduceSync(context.Background(), &kgo.Record{Topic: topics[i%3], Key: []byte(order), Value: []byte(`{"order":"` + order + `"}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		onEU[order] = true
	}

	// The group resumes on europe: it reads every order on europe it had not
	// read, once, and re-reads at most what it read after its last
	// checkpointed commit.
	readOnNA := map[string]bool{}
	mayReread := 0
	for _, r := range naReads {
		readOnNA[r.order] = true
		// 100 ms: the commit is applied before its acknowledgement arrives.
		if r.committedAt.After(checkpointed.Add(-100 * time.Millisecond)) {
			mayReread++
		}
	}
	want := map[string]bool{}
	for o := range onEU {
		if !readOnNA[o] {
			want[o] = true
		}
	}
	group := kafkatest.Client(t, active.BootstrapServers, append(eu.ClientOpts(), kgo.ConsumerGroup("consumer-southamerica"), kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	readOnEU := map[string]int{}
	rereads, missing := 0, len(want)
	deadline := time.Now().Add(30 * time.Second)
	var settle time.Time
	for {
		if missing == 0 && settle.IsZero() {
			settle = time.Now().Add(time.Second) // anything read twice shows up by then
		}
		if !settle.IsZero() && time.Now().After(settle) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group on europe read %d records; %d orders it never read on north-america are still missing", len(readOnEU), missing)
		}
		fetches := group.PollFetches(shortCtx(t, 500*time.Millisecond))
		fetches.EachRecord(func(r *kgo.Record) {
			o := string(r.Key)
			if readOnEU[o]++; readOnEU[o] > 1 {
				t.Fatalf("order %s read twice on europe", o)
			}
			if readOnNA[o] {
				rereads++
			} else if want[o] {
				missing--
			}
		})
	}
	if rereads > mayReread {
		t.Fatalf("the group re-read %d records on europe; it read %d after its last checkpointed commit (%s)", rereads, mayReread, checkpointed.Format(time.RFC3339Nano))
	}
	if len(readOnEU) >= len(onEU) {
		t.Fatalf("the group read all %d records on europe: it started over instead of resuming", len(readOnEU))
	}
	t.Logf("forced failover: %d lost (reported %d); the group read %d records on north-america, resumed on europe, re-read %d (at most %d read after its last checkpointed commit)",
		lost, reportedLost, len(naReads), rereads, mayReread)
}

// securityOverride makes the example's clusters authenticate as the given
// declarations do, without changing the example: security_override.tf merges
// sasl and tls into its kafka_cluster resources (PEM files beside it), and
// the passwords are write-only variables, answered as TF_VAR_ settings.
func securityOverride(t *testing.T, tfDir string, clusters ...agentapi.Cluster) (env []string) {
	t.Helper()
	var vars, override strings.Builder
	for _, c := range clusters {
		res := strings.ReplaceAll(c.Name, "-", "_")
		files := map[string]string{"ca": c.TLS.CAPEM, "cert": c.TLS.CertPEM, "key": c.TLS.KeyPEM}
		for kind, pem := range files {
			if err := os.WriteFile(filepath.Join(tfDir, res+"-"+kind+".pem"), []byte(pem), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&vars, "variable %q {\n  type      = string\n  sensitive = true\n  ephemeral = true\n}\n", res+"_password")
		fmt.Fprintf(&override, `resource "kafka_cluster" %q {
  sasl = {
    mechanism           = %q
    username            = %q
    password_wo         = var.%s_password
    password_wo_version = 1
  }
  tls = {
    ca_pem   = file("%[1]s-ca.pem")
    cert_pem = file("%[1]s-cert.pem")
    key_pem  = file("%[1]s-key.pem")
  }
}
`, res, c.SASL.Mechanism, c.SASL.Username, res)
		env = append(env, "TF_VAR_"+res+"_password="+c.SASL.Password)
	}
	for name, text := range map[string]string{"security.tf": vars.String(), "security_override.tf": override.String()} {
		if err := os.WriteFile(filepath.Join(tfDir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// hclList writes addresses as an HCL list of strings.
func hclList(addrs []string) string {
	q := make([]string, len(addrs))
	for i, a := range addrs {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// terraformDir is a directory of configuration files and the terraform
// CLI set up to apply it with the provider built from this repository.
type terraformDir struct {
	bin, dir string
	env      []string
}

// terraformWithProvider copies files into a new terraformDir whose CLI
// configuration installs the provider through dev_overrides. It skips the
// test without a terraform CLI.
func terraformWithProvider(t *testing.T, files ...string) terraformDir {
	t.Helper()
	tfBin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tfBin == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is unset: this end-to-end test drives the terraform CLI; `make test` sets it (scripts/ensure-tools.sh)")
	}
	dir := t.TempDir()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goBin, "build", "-o", filepath.Join(dir, "plugins", "terraform-provider-kafka"), "../provider").CombinedOutput(); err != nil {
		t.Fatalf("build the provider: %v\n%s", err, out)
	}
	tfDir := filepath.Join(dir, "tf")
	if err := os.MkdirAll(tfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tfDir, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cliConfig := filepath.Join(dir, "cli.tfrc")
	cfg := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"registry.terraform.io/kafka-failover/kafka\" = %q\n  }\n  direct {}\n}\n", filepath.Join(dir, "plugins"))
	if err := os.WriteFile(cliConfig, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "KAFKA_FAILOVER_TOKEN="+testToken, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	return terraformDir{bin: tfBin, dir: tfDir, env: env}
}

// apply applies the configuration with vars (name=value) and env added,
// and decodes `terraform output -json` into outputs.
func (tf terraformDir) apply(t *testing.T, env []string, outputs any, vars ...string) {
	t.Helper()
	args := []string{"-chdir=" + tf.dir, "apply", "-auto-approve", "-input=false", "-no-color"}
	for _, v := range vars {
		args = append(args, "-var", v)
	}
	env = append(slices.Clip(tf.env), env...)
	cmd := exec.Command(tf.bin, args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("terraform apply %v: %v\n%s", vars, err, out)
	}
	cmd = exec.Command(tf.bin, "-chdir="+tf.dir, "output", "-json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("terraform output: %v", err)
	}
	if err := json.Unmarshal(out, outputs); err != nil {
		t.Fatalf("terraform output %s: %v", out, err)
	}
}
