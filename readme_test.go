package readme_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

// TestReadmeQuickstartOnApacheKafka follows README.md's "Quickstart with
// real Kafka clusters" on two Apache Kafka clusters that take SASL_SSL only
// and authorize with the StandardAuthorizer: it runs the blocks marked
// <!-- quickstart:... --> as README.md holds them, with the real terraform
// CLI, replacing only the example addresses with the test's. The user
// mirror has exactly the ACLs the README lists. Records on north-america
// reach europe, and the state holds neither password.
//
// The README's build block is not run (it would write bin/ in the clone):
// the test builds the same two binaries into its own directory.
func TestReadmeQuickstartOnApacheKafka(t *testing.T) {
	tfBin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tfBin == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is unset: the quickstart drives the terraform CLI; `make test` sets it (scripts/ensure-tools.sh)")
	}
	out, _ := exec.Command(tfBin, "version").Output()
	var major, minor int
	if _, err := fmt.Sscanf(string(out), "Terraform v%d.%d", &major, &minor); err != nil || major == 1 && minor < 11 {
		t.Skipf("%s is not Terraform 1.11 or later (%q): the quickstart's write-only passwords need it", tfBin, strings.SplitN(string(out), "\n", 2)[0])
	}
	blocks := quickstartBlocks(t, "README.md")

	passwords := map[string]string{"north-america": "na-mirror-secret-pw", "europe": "eu-mirror-secret-pw"}
	start := func(name string) kafkatest.Kafka {
		return kafkatest.NewClusterOfKind(t, kafkatest.Apache, name, kafkatest.ClusterOptions{Secure: true, Users: map[string]string{"mirror": passwords[name]}})
	}
	na, eu := start("north-america"), start("europe")
	grant(t, na, kadm.NewACLs().Allow("User:mirror").AllowHosts().ResourcePatternType(kadm.ACLPatternPrefixed).
		Topics("LH.").Operations(kadm.OpDescribe, kadm.OpRead))
	grant(t, na, kadm.NewACLs().Allow("User:mirror").AllowHosts().ResourcePatternType(kadm.ACLPatternPrefixed).
		Groups("consumer-").Operations(kadm.OpDescribe))
	grant(t, na, kadm.NewACLs().Allow("User:mirror").AllowHosts().Clusters().Operations(kadm.OpAlter))
	grant(t, eu, kadm.NewACLs().Allow("User:mirror").AllowHosts().ResourcePatternType(kadm.ACLPatternLiteral).
		Topics("*").Groups("*").TransactionalIDs("*").Operations(kadm.OpAll))
	grant(t, eu, kadm.NewACLs().Allow("User:mirror").AllowHosts().Clusters().Operations(kadm.OpAlter))

	// What the operator brings: the files the README's table lists.
	work, bin := t.TempDir(), t.TempDir()
	agentCerts, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"na-ca.crt": na.Declared().TLS.CAPEM, "eu-ca.crt": eu.Declared().TLS.CAPEM,
		"na-password": passwords["north-america"] + "\n", "eu-password": passwords["europe"] + "\n",
		"agent.crt": agentCerts.ServerCertPEM, "agent.key": agentCerts.ServerKeyPEM, "agent-ca.crt": agentCerts.CAPEM,
	} {
		writeFile(t, filepath.Join(work, name), text)
	}
	// What the README's build block makes: both binaries, and terraform, on
	// the PATH; the provider through dev_overrides.
	for out, pkg := range map[string]string{"kafka-failover-agent": "./agent", "terraform-provider-kafka": "./provider"} {
		if b, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(bin, out), pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	if err := os.Symlink(tfBin, filepath.Join(bin, "terraform")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bin, "dev.tfrc"), fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"registry.terraform.io/kafka-failover/kafka\" = %q\n  }\n  direct {}\n}\n", bin))
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TF_CLI_CONFIG_FILE="+filepath.Join(bin, "dev.tfrc"), "CHECKPOINT_DISABLE=1")

	// Only the example addresses change: the agent listens on a free
	// loopback port, for which agent.crt is made (127.0.0.1).
	agentAddr := kafkatest.FreeAddr(t)
	addresses := strings.NewReplacer(
		"0.0.0.0:8443", agentAddr, "eu-agent:8443", agentAddr,
		"na-kafka-1:9093", strings.Join(na.Bootstrap(), ","), "eu-kafka-1:9093", strings.Join(eu.Bootstrap(), ","))

	runAgentBlock(t, work, env, addresses.Replace(blocks["agent"]), "https://"+agentAddr, agentCerts.CAPEM)

	const topic, partitions, perPartition = "LH.orders", 3, 20
	kafkatest.CreateTopic(t, na.Bootstrap(), topic, partitions, nil, na.ClientOpts()...)
	kafkatest.NewProducer(t, na.Bootstrap(), na.ClientOpts()...).Produce(t, topic, partitions, perPartition)
	const group, committed = "consumer-southamerica", 10
	commit := kadm.Offsets{}
	for p := int32(0); p < partitions; p++ {
		commit.AddOffset(topic, p, committed, -1)
	}
	if err := kadm.NewClient(kafkatest.ClientOf(t, na)).CommitAllOffsets(context.Background(), group, commit); err != nil {
		t.Fatalf("commit %s on north-america: %v", group, err)
	}

	mainTF := addresses.Replace(blocks["main.tf"])
	apply := func(mainTF string) {
		t.Helper()
		writeFile(t, filepath.Join(work, "main.tf"), mainTF)
		cmd := exec.Command("bash", "-e", "-c", blocks["apply"])
		cmd.Dir, cmd.Env = work, env
		cmd.Stdin = strings.NewReader("yes\n") // terraform apply asks
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the README's apply block: %v\n%s", err, out)
		}
		state, err := os.ReadFile(filepath.Join(work, "terraform.tfstate"))
		if err != nil {
			t.Fatal(err)
		}
		for cluster, pw := range passwords {
			if strings.Contains(string(state), pw) {
				t.Errorf("terraform.tfstate holds the password of %s's user mirror, given write-only", cluster)
			}
		}
	}
	apply(mainTF)

	want := kafkatest.ReadAll(t, na.Bootstrap(), topic, na.ClientOpts()...)
	kafkatest.Eventually(t, 90*time.Second, "every record of "+topic+" on europe", func() (bool, string) {
		got := kafkatest.ReadAll(t, eu.Bootstrap(), topic, eu.ClientOpts()...)
		for p := int32(0); p < partitions; p++ {
			if len(got[p]) != len(want[p]) {
				return false, fmt.Sprintf("partition %d: %d of %d records", p, len(got[p]), len(want[p]))
			}
			for i := range want[p] {
				if !got[p][i].Equal(want[p][i]) {
					t.Fatalf("partition %d record %d on europe is %+v, on north-america %+v", p, i, got[p][i], want[p][i])
				}
			}
		}
		return true, ""
	})
	// Every record on europe has the offset it has on north-america, so the
	// group's translated offsets are its own.
	kafkatest.Eventually(t, 60*time.Second, group+"'s offsets committed on europe", func() (bool, string) {
		got, err := kadm.NewClient(kafkatest.ClientOf(t, eu)).FetchOffsets(context.Background(), group)
		if err != nil {
			return false, err.Error()
		}
		for p := int32(0); p < partitions; p++ {
			if o, ok := got.Lookup(topic, p); !ok || o.At != committed {
				return false, fmt.Sprintf("partition %d: %+v", p, o)
			}
		}
		return true, ""
	})

	// "To fail over, set active_cluster = "europe" and apply": a planned
	// failover, whose fence needs the Alter the README lists.
	apply(strings.Replace(mainTF, `active_cluster = "north-america"`, `active_cluster = "europe"`, 1))
	if got := failoverInState(t, filepath.Join(work, "terraform.tfstate")); got.ActiveCluster != "europe" || got.Epoch != 1 || got.Report.RecordsLost != 0 {
		t.Errorf("kafka_failover.lh after the failover: %+v, want europe at epoch 1, 0 records lost", got)
	}
}

// failoverInState reads kafka_failover.lh from a terraform.tfstate file.
func failoverInState(t *testing.T, path string) (f struct {
	ActiveCluster string `json:"active_cluster"`
	Epoch         int64  `json:"epoch"`
	Report        struct {
		RecordsLost int64 `json:"records_lost"`
	} `json:"report"`
}) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Attributes json.RawMessage `json:"attributes"`
			}
		}
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	for _, r := range state.Resources {
		if r.Type == "kafka_failover" && r.Name == "lh" && len(r.Instances) == 1 {
			if err := json.Unmarshal(r.Instances[0].Attributes, &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s holds no kafka_failover.lh", path)
	return f
}

// quickstartBlocks answers the fenced blocks of readme that follow a line
// "<!-- quickstart:NAME ... -->", by NAME.
func quickstartBlocks(t *testing.T, readme string) map[string]string {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks := map[string]string{}
	var name string
	var body *strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case body != nil && line == "```":
			blocks[name], body, name = body.String(), nil, ""
		case body != nil:
			body.WriteString(line + "\n")
		case strings.HasPrefix(line, "<!-- quickstart:"):
			name = strings.Fields(strings.TrimPrefix(line, "<!-- quickstart:"))[0]
		case name != "" && strings.HasPrefix(line, "```"):
			body = &strings.Builder{}
		}
	}
	for _, want := range []string{"agent", "main.tf", "apply"} {
		if blocks[want] == "" {
			t.Fatalf("%s has no fenced block after <!-- quickstart:%s -->", readme, want)
		}
	}
	return blocks
}

// runAgentBlock runs the README's agent block with bash in dir until the
// test ends, and waits until the agent's API at url answers /readyz. The
// block's last command is the agent: bash and it share a process group,
// which the test stops with SIGTERM.
func runAgentBlock(t *testing.T, dir string, env []string, block, url, caPEM string) {
	t.Helper()
	logPath := filepath.Join(dir, "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("bash", "-e", "-c", block)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Errorf("the agent did not stop within 20s of SIGTERM")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			logs, _ := os.ReadFile(logPath)
			t.Logf("agent log (last 8 KiB):\n%s", logs[max(0, len(logs)-8<<10):])
		}
	})
	kafkatest.AwaitReady(t, url, caPEM, exited)
}

// grant creates acls on c as its super user.
func grant(t *testing.T, c kafkatest.Kafka, acls *kadm.ACLBuilder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := kadm.NewClient(kafkatest.ClientOf(t, c)).CreateACLs(ctx, acls)
	if err != nil {
		t.Fatalf("create ACLs: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create ACL %s %s %s: %v", r.Type, r.Name, r.Operation, r.Err)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
