package main

// make bench-mm2 writes its figures into BENCHMARKS.md itself: each of its
// benchmarks records the table it printed here, and once all of them
// passed, TestMain calls writeBenchMM2, which replaces the section between
// BENCHMARKS.md's bench-mm2 markers and draws bench/mm2.png. Only with
// KFO_BENCH_WRITE=1 (make bench-mm2 sets it): any other run leaves the
// documents alone.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/benchreport"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/apachekafka"
)

// The parts of make bench-mm2, in BENCHMARKS.md's order, with their
// benchmarks.
var benchMM2Parts = []struct{ name, benchmark string }{
	{"throughput", "BenchmarkMirrorMaker2SideBySide"},
	{"lag", "BenchmarkMirrorMaker2Lag"},
	{"pick-up", "BenchmarkMirrorMaker2Pickup"},
	{"story", "BenchmarkMirrorMaker2ReferenceStory"},
}

const (
	benchMM2Section = "bench-mm2"
	benchMM2Chart   = "bench/mm2.png" // from the repository's root
)

// benchMM2 is what this process's make bench-mm2 benchmarks printed.
var benchMM2 = struct {
	sync.Mutex
	began      time.Time
	loadBefore string            // load average when the first began
	tables     map[string]string // by part, as printed
	throughput map[string]float64
	lag        []lagRun
}{tables: map[string]string{}, throughput: map[string]float64{}}

// beginBenchMM2 notes when the first benchmark of make bench-mm2 began.
func beginBenchMM2() {
	benchMM2.Lock()
	defer benchMM2.Unlock()
	if benchMM2.began.IsZero() {
		benchMM2.began, benchMM2.loadBefore = time.Now(), benchreport.LoadAverage()
	}
}

// printBenchMM2 prints a part's table and keeps it for BENCHMARKS.md.
func printBenchMM2(part, table string) {
	fmt.Print(table)
	benchMM2.Lock()
	defer benchMM2.Unlock()
	benchMM2.tables[part] = table
}

// writeBenchMM2 writes BENCHMARKS.md's bench-mm2 section and the chart from
// this run's figures, with KFO_BENCH_WRITE=1 only. Every part must have
// run: the section holds figures of one run, never of several.
func writeBenchMM2() error {
	if os.Getenv("KFO_BENCH_WRITE") != "1" {
		return nil
	}
	benchMM2.Lock()
	defer benchMM2.Unlock()
	var missing []string
	for _, p := range benchMM2Parts {
		if benchMM2.tables[p.name] == "" {
			missing = append(missing, p.benchmark)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("KFO_BENCH_WRITE=1: BENCHMARKS.md not written: %s did not run (make bench-mm2 runs all of them)", strings.Join(missing, ", "))
	}
	root, err := repositoryRoot()
	if err != nil {
		return err
	}
	took := time.Since(benchMM2.began)
	// Before the chart is written: the chart is tracked, and writing it
	// marked every run's commit as having uncommitted changes.
	commit := agentCommit(root)
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(benchMM2Chart)), 0o755); err != nil {
		return err
	}
	date := time.Now().UTC().Format("2006-01-02")
	if err := benchreport.WritePNG(filepath.Join(root, benchMM2Chart),
		fmt.Sprintf("make bench-mm2, %s: MirrorMaker 2 and the agent on Apache Kafka %s", date, apachekafka.Version),
		benchMM2Panels()...); err != nil {
		return fmt.Errorf("chart: %w", err)
	}

	var s strings.Builder
	fmt.Fprintf(&s, "### Figures (written by `make bench-mm2`)\n\n")
	fmt.Fprintf(&s, "Everything below, the chart included, comes from one run, written by the run itself\n(`agent/mm2_report_bench_test.go`); a later run replaces it.\n\n")
	fmt.Fprintf(&s, "- Date: %s UTC; wall time of the benchmarks %s\n", time.Now().UTC().Format("2006-01-02 15:04"), took.Round(time.Second))
	fmt.Fprintf(&s, "- Command: `%s`\n", benchMM2Command())
	fmt.Fprintf(&s, "- Machine: %s; load average (1, 5, 15 min) %s at the start, %s at the end\n", benchreport.Machine(), benchMM2.loadBefore, benchreport.LoadAverage())
	fmt.Fprintf(&s, "- Versions: Apache Kafka and MirrorMaker 2 %s (%s), %s, agent commit %s\n\n", apachekafka.Version, javaVersion(), runtime.Version(), commit)
	fmt.Fprintf(&s, "![Throughput and lag p99 of each system](%s)\n", benchMM2Chart)
	for _, p := range benchMM2Parts {
		fmt.Fprintf(&s, "\n`%s`:\n\n```\n%s\n```\n", p.benchmark, strings.Trim(benchMM2.tables[p.name], "\n"))
	}
	path := filepath.Join(root, "BENCHMARKS.md")
	if err := benchreport.WriteSection(path, benchMM2Section, s.String()); err != nil {
		return err
	}
	fmt.Printf("wrote the %s section of %s and %s\n", benchMM2Section, path, filepath.Join(root, benchMM2Chart))
	return nil
}

// benchMM2Panels are the chart's: throughput, then lag p99 at each rate.
func benchMM2Panels() []benchreport.Panel {
	short := map[string]string{sysLoop: "loop", sysMM2: "MM2", sysAgent: "agent"}
	panels := []benchreport.Panel{{Title: "throughput, records/s (median)"}}
	for _, name := range []string{sysLoop, sysMM2, sysAgent} {
		panels[0].Bars = append(panels[0].Bars, benchreport.Bar{Label: short[name], Value: benchMM2.throughput[name]})
	}
	var rates []int
	for _, r := range benchMM2.lag {
		if !slices.Contains(rates, r.rate) {
			rates = append(rates, r.rate)
		}
	}
	for _, rate := range rates {
		p := benchreport.Panel{Title: fmt.Sprintf("lag p99 at %d/s, ms", rate)}
		for _, name := range []string{sysMM2, sysAgent} {
			for _, r := range benchMM2.lag {
				if r.rate == rate && r.system == name {
					p.Bars = append(p.Bars, benchreport.Bar{Label: short[name], Value: msOf(r.p(99))})
				}
			}
		}
		panels = append(panels, p)
	}
	return panels
}

// benchMM2Command is make bench-mm2 with the knobs this run changed.
func benchMM2Command() string {
	var knobs []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "KFO_BENCH_") && k != "KFO_BENCH_MM2" && k != "KFO_BENCH_WRITE" {
			knobs = append(knobs, kv)
		}
	}
	slices.Sort(knobs)
	return strings.TrimSpace(strings.Join(knobs, " ") + " make bench-mm2")
}

// repositoryRoot is the nearest directory up from here that holds go.mod.
func repositoryRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory: where is BENCHMARKS.md?")
		}
		dir = up
	}
}

// agentCommit is the commit the agent was built from, marked when the work
// tree had changes to tracked files.
func agentCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (no git)"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		commit += " with uncommitted changes"
	}
	return "`" + commit + "`"
}

// javaVersion is the first line of java -version: the JVM of Apache Kafka
// and MirrorMaker 2.
func javaVersion() string {
	out, err := exec.Command("java", "-version").CombinedOutput()
	if err != nil {
		return "java: " + err.Error()
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}
