package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// upgradeFrom is the commit whose agent a rolling upgrade starts from: the
// last one before records carried a format version. KFO_UPGRADE_FROM names
// another.
const upgradeFrom = "f7abae5"

// buildAgentAt builds the agent binary of commit (the current tree for "")
// into a directory of the test's.
func buildAgentAt(t *testing.T, commit string) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	dir, src := t.TempDir(), "."
	if commit != "" {
		src = filepath.Join(dir, "src")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		// git archive reads the commit without touching any worktree.
		archive := exec.Command("sh", "-c", `cd "$(git rev-parse --show-toplevel)" && git archive `+commit+" | tar -x -C "+src)
		if out, err := archive.CombinedOutput(); err != nil {
			t.Fatalf("git archive %s: %v\n%s", commit, err, out)
		}
		src = filepath.Join(src, "agent")
	}
	bin := filepath.Join(dir, "kafka-failover-agent")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the agent of %q: %v\n%s", commit, err, out)
	}
	return bin
}

// Two replicas of the agent of upgradeFrom mirror a topic; each is
// replaced in turn by this tree's agent while records keep arriving: every
// record is on the target once, in order, and the replicas agree on the
// record format the old ones read.
func TestARollingUpgradeFromTheLastUnversionedAgentLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two agents")
	}
	from := upgradeFrom
	if c := os.Getenv("KFO_UPGRADE_FROM"); c != "" {
		from = c
	}
	oldBin, newBin := buildAgentAt(t, from), buildAgentAt(t, "")
	const topic, parts = "LH.ORDERS", 4
	na := kafkatest.NewCluster(t, "north-america", kafkatest.ClusterOptions{})
	eu := kafkatest.NewCluster(t, "europe", kafkatest.ClusterOptions{})
	kafkatest.CreateTopic(t, na.Bootstrap(), topic, parts, nil)
	prod := kafkatest.NewProducer(t, na.Bootstrap())
	state := strings.Join(eu.Bootstrap(), ",")
	replicas := make([]*agentProc, 2)
	for i := range replicas {
		replicas[i] = newAgentProc(t, state, nil, "--agent-id", "replica-"+string(rune('a'+i)))
		replicas[i].exe = oldBin
		replicas[i].start()
	}
	a := replicas[0]
	a.mustPut("/v1/clusters/north-america", na.Declared())
	a.mustPut("/v1/clusters/europe", eu.Declared())
	m := storyMirror(parts)
	a.mustPut("/v1/mirrors/na-to-eu", m)

	produced := int64(0)
	batch := func() {
		prod.Produce(t, topic, parts, 25)
		produced += 25
	}
	batch()
	waitMirroredTopic(t, a, topic, parts, produced)
	for _, r := range replicas {
		batch()
		r.stop()
		batch() // while this replica is down: the other one's tasks take them
		r.exe = newBin
		r.start()
		batch()
		waitMirroredTopic(t, r, topic, parts, produced)
	}
	if n := assertSameRecords(t, na, eu, topic, topic); n != int(produced)*parts {
		t.Fatalf("%d records compared, want %d", n, produced*parts)
	}
	for _, r := range replicas {
		if code, f := formatStatus(t, r); code != 200 || f.Writes != 1 {
			t.Fatalf("%s: /readyz %d, record format %+v; want ready, writing format 1", r.url, code, f)
		}
	}
}

// A replica built before replicas announced the record format they read
// (upgradeFrom) says nothing in the status topic, yet it is live: it is a
// member of the mirror's task group. A replica that reads format 2 started
// beside it counts it as reading format 1 and writes format 1; once it is
// gone from the group, the switch to 2 is recorded.
func TestAReplicaThatAnnouncesNoFormatCountsAsReadingOnlyTheFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an old agent")
	}
	oldBin := buildAgentAt(t, upgradeFrom)
	const topic, parts = "LH.ORDERS", 2
	na := kafkatest.NewCluster(t, "north-america", kafkatest.ClusterOptions{})
	eu := kafkatest.NewCluster(t, "europe", kafkatest.ClusterOptions{})
	kafkatest.CreateTopic(t, na.Bootstrap(), topic, parts, nil)
	kafkatest.NewProducer(t, na.Bootstrap()).Produce(t, topic, parts, 10)
	state := strings.Join(eu.Bootstrap(), ",")
	old := newAgentProc(t, state, nil, "--agent-id", "replica-old")
	old.exe = oldBin
	old.start()
	old.mustPut("/v1/clusters/north-america", na.Declared())
	old.mustPut("/v1/clusters/europe", eu.Declared())
	old.mustPut("/v1/mirrors/na-to-eu", storyMirror(parts))
	waitMirroredTopic(t, old, topic, parts, 10) // replica-old is in the task group

	newer := startAgentWith(t, state, []string{readsFormatEnv + "=2"}, "--agent-id", "replica-new")
	kafkatest.Eventually(t, 30*time.Second, "replica-new counts replica-old as reading format 1", func() (bool, string) {
		_, f := formatStatus(t, newer)
		return f.Live["replica-new"] == 2 && f.Live["replica-old"] == 1, fmt.Sprintf("%+v", f)
	})
	if _, f := formatStatus(t, newer); f.Writes != 1 {
		t.Fatalf("replica-new: %+v, want it to write format 1 while replica-old is live", f)
	}
	for key := range versionsOf(t, eu.Bootstrap(), "__kfo_state") {
		if strings.HasPrefix(key, "format/") {
			t.Fatalf("%s recorded while replica-old, which reads only format 1, is live", key)
		}
	}

	old.stop() // its static membership ends with its session (3 s)
	kafkatest.Eventually(t, 30*time.Second, "the switch to format 2 once replica-old is gone", func() (bool, string) {
		_, f := formatStatus(t, newer)
		return f.Writes == 2, fmt.Sprintf("%+v", f)
	})
}
