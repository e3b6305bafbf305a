// Package mm2 runs MirrorMaker 2 for tests and benchmarks: one Java process
// in dedicated mode (org.apache.kafka.connect.mirror.MirrorMaker) that
// mirrors cluster "a" to cluster "b" with exactly once on the target, from
// an mm2.properties it writes. The jars are Apache Kafka's (package
// apachekafka) plus those scripts/fetch-mirrormaker.sh adds; without them a
// test that asks for MirrorMaker 2 is skipped and says why.
//
// Names as MirrorMaker 2 makes them with its DefaultReplicationPolicy: topic
// t of a is "a.t" on b; checkpoints go to "a.checkpoints.internal" on b.
// MirrorMaker 2 names its internal topics and groups after the aliases too,
// so a process with new aliases starts afresh on the same clusters.
package mm2

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest/apachekafka"
)

// LibsEnv names the environment variable that holds the directory of the
// jars MirrorMaker 2 needs beyond Apache Kafka's; `make bench-mm2` sets it
// from scripts/ensure-tools.sh.
const LibsEnv = "KFO_MM2_LIBS"

// The default cluster aliases of mm2.properties: a is the source, b the
// target.
const (
	DefaultSourceAlias = "a"
	DefaultTargetAlias = "b"
)

// Options shape a MirrorMaker 2 process. A zero duration or count keeps
// MirrorMaker 2's own default, so the defaults run as users get them.
type Options struct {
	// Source and Target are the bootstrap servers of clusters a and b
	// (plaintext listeners).
	Source, Target []string
	// SourceAlias and TargetAlias name them; DefaultSourceAlias and
	// DefaultTargetAlias when empty.
	SourceAlias, TargetAlias string
	// Topics and Groups are MirrorMaker 2's regular expression lists of
	// what a->b mirrors; ".*" when empty.
	Topics, Groups string
	// TasksMax is tasks.max of each connector (MirrorMaker 2's default: 1).
	TasksMax int
	// OffsetLagMax is offset.lag.max: how far the last offset sync may
	// trail a partition (default 100).
	OffsetLagMax int
	// EmitCheckpointsInterval is emit.checkpoints.interval.seconds
	// (default 60 s); whole seconds.
	EmitCheckpointsInterval time.Duration
	// SyncGroupOffsets is sync.group.offsets.enabled: commit translated
	// offsets of groups with no members on the target, every
	// SyncGroupOffsetsInterval (sync.group.offsets.interval.seconds,
	// default 60 s).
	SyncGroupOffsets         bool
	SyncGroupOffsetsInterval time.Duration
	// RefreshTopicsInterval and RefreshGroupsInterval are
	// refresh.topics.interval.seconds and refresh.groups.interval.seconds
	// (default 600 s each).
	RefreshTopicsInterval, RefreshGroupsInterval time.Duration
	// JVMOptions replace the JVM's heap and GC options; nil is what
	// Apache Kafka's connect-mirror-maker.sh runs with.
	JVMOptions []string
}

// ShippedJVMOptions are the heap and GC options of connect-mirror-maker.sh
// (through kafka-run-class.sh): MirrorMaker 2 as users run it.
var ShippedJVMOptions = []string{
	"-Xms256M", "-Xmx2G",
	"-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
	"-XX:+ExplicitGCInvokesConcurrent",
}

// Process is a running MirrorMaker 2.
type Process struct {
	t       testing.TB
	cmd     *exec.Cmd
	opts    Options // aliases resolved
	exited  chan struct{}
	stopped sync.Once
	// Dir holds mm2.properties, log4j2.properties and the logs.
	Dir string
}

// Libs answers the jar directories MirrorMaker 2 runs from: Apache Kafka's
// and $KFO_MM2_LIBS (or where scripts/fetch-mirrormaker.sh puts them by
// default). It answers nil and the reason when either is not installed.
func Libs() ([]string, string) {
	kafka, why := apachekafka.Libs()
	if kafka == "" {
		return nil, why
	}
	dir := os.Getenv(LibsEnv)
	if dir == "" {
		dir = filepath.Join(filepath.Dir(kafka), "mirrormaker-libs")
		if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
			return nil, fmt.Sprintf("MirrorMaker 2 is not installed: %s is unset and %s holds no finished fetch; run scripts/fetch-mirrormaker.sh (make bench-mm2 does)", LibsEnv, dir)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "connect-mirror-"+apachekafka.Version+".jar")); err != nil {
		return nil, fmt.Sprintf("%s=%s does not hold connect-mirror %s: %v", LibsEnv, dir, apachekafka.Version, err)
	}
	return []string{kafka, dir}, ""
}

// Start writes mm2.properties and starts MirrorMaker 2, stopped when the
// test ends. The test is skipped when the jars are not installed. It
// answers once the process runs, not once it copies: the caller waits for
// what it needs to see on the target.
func Start(t testing.TB, opts Options) *Process {
	t.Helper()
	libs, why := Libs()
	if libs == nil {
		t.Skip(why)
	}
	if len(opts.Source) == 0 || len(opts.Target) == 0 {
		t.Fatalf("mm2.Start: Options.Source and Options.Target need bootstrap servers")
	}
	opts.SourceAlias, opts.TargetAlias = or(opts.SourceAlias, DefaultSourceAlias), or(opts.TargetAlias, DefaultTargetAlias)
	p := &Process{t: t, opts: opts, Dir: t.TempDir(), exited: make(chan struct{})}
	files := map[string]string{
		"mm2.properties":    Properties(opts),
		"log4j2.properties": apachekafka.Log4jProperties(filepath.Join(p.Dir, "mm2.log")),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(p.Dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	console, err := os.Create(filepath.Join(p.Dir, "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close()
	var cp []string
	for _, dir := range libs {
		cp = append(cp, filepath.Join(dir, "*"))
	}
	jvm := opts.JVMOptions
	if jvm == nil {
		jvm = ShippedJVMOptions
	}
	args := append(append([]string(nil), jvm...),
		"-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile="+filepath.Join(p.Dir, "log4j2.properties"),
		"-cp", strings.Join(cp, string(os.PathListSeparator)),
		"org.apache.kafka.connect.mirror.MirrorMaker", filepath.Join(p.Dir, "mm2.properties"))
	p.cmd = exec.Command("java", args...)
	p.cmd.Stdout, p.cmd.Stderr = console, console
	// The kernel kills MirrorMaker 2 when the test process dies (a test
	// binary killed at its -timeout runs no cleanup).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start MirrorMaker 2: %v", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.Stop)
	return p
}

// Properties answers the mm2.properties of opts.
func Properties(opts Options) string {
	one := "1" // the test clusters have one broker
	src, dst := or(opts.SourceAlias, DefaultSourceAlias), or(opts.TargetAlias, DefaultTargetAlias)
	props := map[string]string{
		"clusters":                    src + ", " + dst,
		src + ".bootstrap.servers":    strings.Join(opts.Source, ","),
		dst + ".bootstrap.servers":    strings.Join(opts.Target, ","),
		src + "->" + dst + ".enabled": "true",
		dst + "->" + src + ".enabled": "false",
		src + "->" + dst + ".topics":  or(opts.Topics, ".*"),
		src + "->" + dst + ".groups":  or(opts.Groups, ".*"),
		// Exactly once on the target, as MirrorMaker 2's docs say.
		dst + ".exactly.once.source.support":    "enabled",
		"replication.factor":                    one,
		"checkpoints.topic.replication.factor":  one,
		"heartbeats.topic.replication.factor":   one,
		"offset-syncs.topic.replication.factor": one,
		"offset.storage.replication.factor":     one,
		"status.storage.replication.factor":     one,
		"config.storage.replication.factor":     one,
		"sync.group.offsets.enabled":            strconv.FormatBool(opts.SyncGroupOffsets),
	}
	if opts.TasksMax > 0 {
		props["tasks.max"] = strconv.Itoa(opts.TasksMax)
	}
	if opts.OffsetLagMax > 0 {
		props["offset.lag.max"] = strconv.Itoa(opts.OffsetLagMax)
	}
	seconds := map[string]time.Duration{
		"emit.checkpoints.interval.seconds":   opts.EmitCheckpointsInterval,
		"sync.group.offsets.interval.seconds": opts.SyncGroupOffsetsInterval,
		"refresh.topics.interval.seconds":     opts.RefreshTopicsInterval,
		"refresh.groups.interval.seconds":     opts.RefreshGroupsInterval,
	}
	for k, d := range seconds {
		if d > 0 {
			props[k] = strconv.Itoa(max(int(d.Round(time.Second)/time.Second), 1))
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, props[k])
	}
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// RemoteTopic is the name of source topic on the target.
func (p *Process) RemoteTopic(topic string) string { return p.opts.SourceAlias + "." + topic }

// CheckpointsTopic is the topic on the target that holds the translated
// offsets of the source's groups.
func (p *Process) CheckpointsTopic() string { return p.opts.SourceAlias + ".checkpoints.internal" }

// PID is the Java process's id, for reading its CPU time and memory.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath is MirrorMaker 2's log file.
func (p *Process) LogPath() string { return filepath.Join(p.Dir, "mm2.log") }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Stop ends the process: SIGTERM (MirrorMaker 2 shuts its connectors down
// and commits), then SIGKILL if it has not ended within 30 s. On a failed
// test it logs the end of MirrorMaker 2's log.
func (p *Process) Stop() { p.end(syscall.SIGTERM, 30*time.Second) }

// Kill ends the process with SIGKILL: no shutdown.
func (p *Process) Kill() { p.end(syscall.SIGKILL, time.Minute) }

func (p *Process) end(sig syscall.Signal, grace time.Duration) {
	p.stopped.Do(func() {
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if p.t.Failed() {
			p.t.Logf("MirrorMaker 2 log (%s):\n%s\nconsole:\n%s", p.LogPath(), apachekafka.TailFile(p.LogPath(), 8<<10), apachekafka.TailFile(filepath.Join(p.Dir, "console.log"), 4<<10))
		}
	})
}
