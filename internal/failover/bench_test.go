package failover_test

// BenchmarkForcedFailover100Groups300Partitions measures what the issue asks:
// the time from a forced failover request to the new active answering in
// discovery with the groups' offsets committed there, for 100 groups x 300
// partitions. It is a benchmark, not a timed test: it prints figures and
// fails only when something breaks, never because the machine is slow. It
// ignores b.N apart from running once; run it with -benchtime 1x.
//
// Both dev clusters run in their own processes (the agent binary built into
// a temporary directory), so that broker work does not mix with the agent's;
// the agent runs in this process through agent.Run and is driven through its
// HTTP API, as Terraform drives it.
//
// Two variants:
//
//	sync_group_offsets=true   the mirror's default: the checkpointer has
//	                          already committed every translated offset on
//	                          europe, so the failover verifies 30000 offsets
//	                          and commits none (offsets_committed 0).
//	sync_group_offsets=false  nothing is on europe before the failover: it
//	                          commits all 30000 translated offsets itself.
//
// BenchmarkFailoverAtScale runs the same measure, forced and planned (the
// old active reachable: drained, not killed), at 10, 100 and 1000
// partitions and as many groups.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agent"
	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

const (
	foBenchGroups        = 100
	foBenchPartitions    = 100 // per topic of LH.A, LH.B, LH.C: 300 in all
	foBenchRecords       = 20  // per partition
	foBenchMirror        = "na-to-eu"
	foBenchPolicy        = "loosehanger"
	foBenchToken         = "bench-token-0123456789abcdef"
	foBenchGoal          = 2 * time.Second
	foBenchSetupWait     = 3 * time.Minute // bounds every wait before the failover
	foBenchFailoverBound = 2 * time.Minute // bounds the failover request and the discovery poll
)

// foShape is what a failover benchmark moves: topics of perTopic
// partitions, and groups each committed on the topics groupTopics names.
type foShape struct {
	topics      []string
	perTopic    int32
	groups      int
	groupTopics func(g int) []int // indexes into topics
}

func (s foShape) partitions() int { return len(s.topics) * int(s.perTopic) }

// offsets is how many group offsets the shape checkpoints.
func (s foShape) offsets() int {
	n := 0
	for g := range s.groups {
		n += len(s.groupTopics(g)) * int(s.perTopic)
	}
	return n
}

func (s foShape) String() string {
	return fmt.Sprintf("%d groups x %d partitions (%d group offsets)", s.groups, s.partitions(), s.offsets())
}

// foEveryGroupOnEveryTopic is the first shape: 100 groups on all
// of 3 topics x 100 partitions.
var foEveryGroupOnEveryTopic = foShape{
	topics: []string{"LH.A", "LH.B", "LH.C"}, perTopic: foBenchPartitions, groups: foBenchGroups,
	groupTopics: func(int) []int { return []int{0, 1, 2} },
}

// foScale is n partitions (topics of 20, or one topic of n when fewer) and
// n groups, group g on every partition of topic g mod topics.
func foScale(n int) foShape {
	s := foShape{perTopic: 20, groups: n}
	if n < 20 {
		s.perTopic = int32(n)
	}
	for i := range max(1, n/20) {
		s.topics = append(s.topics, fmt.Sprintf("LH.S%03d", i))
	}
	s.groupTopics = func(g int) []int { return []int{g % len(s.topics)} }
	return s
}

// foBenchOffset is group g's committed offset on a partition: varied per
// group and partition, always within the mirrored 1..foBenchRecords.
func foBenchOffset(g int, topic int, p int32) int64 {
	return int64(g*7+topic*31+int(p)*13)%foBenchRecords + 1
}

func foBenchGroup(g int) string { return fmt.Sprintf("consumer-%04d", g) }

func BenchmarkForcedFailover100Groups300Partitions(b *testing.B) {
	bin := kafkatest.BuildAgent(b, "../../agent")
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync_group_offsets=%v", sync), func(b *testing.B) {
			benchFailover(b, bin, foEveryGroupOnEveryTopic, agentapi.ModeForced, sync)
		})
	}
}

// BenchmarkFailoverAtScale prints the forced and the planned failover time
// at 10, 100 and 1000 partitions and as many groups, each group on the 20
// partitions of one topic (sync_group_offsets on, the default).
func BenchmarkFailoverAtScale(b *testing.B) {
	bin := kafkatest.BuildAgent(b, "../../agent")
	for _, n := range []int{10, 100, 1000} {
		for _, mode := range []string{agentapi.ModeForced, agentapi.ModePlanned} {
			b.Run(fmt.Sprintf("partitions=groups=%d/%s", n, mode), func(b *testing.B) {
				benchFailover(b, bin, foScale(n), mode, true)
			})
		}
	}
}

// foBenchAPI calls the agent's HTTP API with the bearer token.
type foBenchAPI struct {
	b   *testing.B
	url string
	cl  *http.Client
}

// call sends body as JSON and decodes the answer into out; it answers the
// HTTP status and the raw body.
func (a *foBenchAPI) call(ctx context.Context, method, path string, body, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+foBenchToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, raw, err
	}
	if out != nil && resp.StatusCode/100 == 2 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, raw, nil
}

func (a *foBenchAPI) get(path string, out any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.call(ctx, http.MethodGet, path, nil, out)
}

func (a *foBenchAPI) mustPut(path string, body any) {
	a.b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, raw, err := a.call(ctx, http.MethodPut, path, body, nil)
	if err != nil || (code != http.StatusOK && code != http.StatusCreated) { // 201 for a create
		a.b.Fatalf("PUT %s: HTTP %d %s %v", path, code, raw, err)
	}
}

// startFOBenchAgent runs the agent in this process beside state, until the
// benchmark ends.
func startFOBenchAgent(b *testing.B, state []string) *foBenchAPI {
	b.Helper()
	dir := b.TempDir()
	key := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef-bench-key"), 0o600); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{
			Listen: addr, State: kafkaconn.Conn{BootstrapServers: state}, Token: foBenchToken, SecretKeyFile: key,
			SessionTimeout: 3 * time.Second,
			Ready:          func(url string) { ready <- url },
		}, logf)
	}()
	b.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				b.Logf("agent: %v", err)
			}
		case <-time.After(time.Minute):
			b.Errorf("the agent did not stop within a minute of its context ending")
		}
		logf.Close()
		if b.Failed() {
			logs, _ := os.ReadFile(logPath)
			var bad []string
			for line := range strings.Lines(string(logs)) {
				if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
					bad = append(bad, line)
				}
			}
			if len(bad) > 40 {
				bad = append(bad[:20], append([]string{"...\n"}, bad[len(bad)-20:]...)...)
			}
			if len(logs) > 8<<10 {
				logs = logs[len(logs)-8<<10:]
			}
			b.Logf("agent log %s: warnings and errors:\n%s\nlast 8 KiB:\n%s", logPath, strings.Join(bad, ""), logs)
		}
	})
	api := &foBenchAPI{b: b, cl: &http.Client{}}
	select {
	case api.url = <-ready:
	case err := <-done:
		b.Fatalf("agent stopped before it listened: %v", err)
	case <-time.After(foBenchSetupWait):
		b.Fatalf("agent did not listen within %s", foBenchSetupWait)
	}
	kafkatest.Eventually(b, foBenchSetupWait, "agent answers /readyz", func() (bool, string) {
		code, raw, err := api.get("/readyz", nil)
		return err == nil && code == http.StatusOK, fmt.Sprintf("HTTP %d %s %v", code, raw, err)
	})
	return api
}

func benchFailover(b *testing.B, bin string, shape foShape, mode string, syncOffsets bool) {
	na := kafkatest.StartDevClusterProcess(b, bin, "north-america")
	eu := kafkatest.StartDevClusterProcess(b, bin, "europe")
	api := startFOBenchAgent(b, eu.Bootstrap)
	ctx := context.Background()
	totalPartitions := shape.partitions()

	// north-america: the shape's topics, 20 records in each partition.
	prod := kafkatest.NewProducer(b, na.Bootstrap)
	for _, topic := range shape.topics {
		kafkatest.CreateTopic(b, na.Bootstrap, topic, shape.perTopic, nil)
		prod.Produce(b, topic, shape.perTopic, foBenchRecords)
	}

	api.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: na.Bootstrap})
	api.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: eu.Bootstrap})
	m := agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:             agentapi.Selector{Include: []string{`LH\..*`}},
		Groups:             agentapi.Selector{Include: []string{`consumer-.*`}},
		RefreshInterval:    "1s",
		CheckpointInterval: "500ms",
	}
	if !syncOffsets {
		m.SyncGroupOffsets = new(bool)
	}
	api.mustPut("/v1/mirrors/"+foBenchMirror, m)
	api.mustPut("/v1/policies/"+foBenchPolicy, agentapi.Policy{
		Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{foBenchMirror}, Fencing: agentapi.FencingNone,
	})

	// Each group commits on every partition of its topics on the source.
	adm := kadm.NewClient(kafkatest.Client(b, na.Bootstrap))
	for g := range shape.groups {
		offs := kadm.Offsets{}
		for _, t := range shape.groupTopics(g) {
			for p := range shape.perTopic {
				offs.AddOffset(shape.topics[t], p, foBenchOffset(g, t, p), -1)
			}
		}
		resp, err := adm.CommitOffsets(ctx, foBenchGroup(g), offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			b.Fatalf("commit offsets of %s on north-america: %v", foBenchGroup(g), err)
		}
	}

	// The mirror has copied everything, and the agent has seen the
	// source's final high watermarks (what a forced failover reports from).
	setupStart := time.Now()
	kafkatest.Eventually(b, foBenchSetupWait, fmt.Sprintf("the mirror copies 20 records of each of %d partitions", totalPartitions), func() (bool, string) {
		var st agentapi.MirrorStatus
		code, raw, err := api.get("/v1/mirrors/"+foBenchMirror+"/status", &st)
		if err != nil || code != http.StatusOK {
			return false, fmt.Sprintf("HTTP %d %s %v", code, raw, err)
		}
		done, seen := 0, 0
		var sample string
		for _, p := range st.Partitions {
			if !strings.HasPrefix(p.Topic, "LH.") {
				continue
			}
			seen++
			if p.LastMirroredOffset+1 == foBenchRecords && p.SourceHighWatermark == foBenchRecords {
				done++
			} else if sample == "" {
				sample = fmt.Sprintf("%s[%d]: last mirrored %d, source high watermark %d, error %q", p.Topic, p.Partition, p.LastMirroredOffset, p.SourceHighWatermark, p.Error)
			}
		}
		return seen == totalPartitions && done == totalPartitions,
			fmt.Sprintf("state %s, %d partitions in status, %d of %d copied; e.g. %s", st.State, seen, done, totalPartitions, sample)
	})
	mirrored := time.Since(setupStart)

	// Every group's checkpoint covers all its partitions at the offsets
	// committed, and (with sync_group_offsets) is committed on europe.
	topicIndex := map[string]int{}
	for t, topic := range shape.topics {
		topicIndex[topic] = t
	}
	want := map[string]map[string]map[int32]int64{} // group -> target topic -> partition -> target offset
	pending := map[string]bool{}
	for g := range shape.groups {
		pending[foBenchGroup(g)] = true
	}
	kafkatest.Eventually(b, foBenchSetupWait, "checkpoints of "+shape.String(), func() (bool, string) {
		var last string
		for g := range shape.groups {
			group := foBenchGroup(g)
			if !pending[group] {
				continue
			}
			var cps agentapi.GroupCheckpoints
			code, raw, err := api.get("/v1/mirrors/"+foBenchMirror+"/groups/"+group, &cps)
			if err != nil || code != http.StatusOK {
				return false, fmt.Sprintf("%d groups pending; %s: HTTP %d %s %v", len(pending), group, code, raw, err)
			}
			ok, synced := 0, 0
			offsets := map[string]map[int32]int64{}
			for _, cp := range cps.Partitions {
				t, known := topicIndex[cp.Topic]
				if !known || cp.SourceOffset != foBenchOffset(g, t, cp.Partition) || !cp.Exact {
					continue
				}
				ok++
				if cp.Synced {
					synced++
				}
				if offsets[cp.TargetTopic] == nil {
					offsets[cp.TargetTopic] = map[int32]int64{}
				}
				offsets[cp.TargetTopic][cp.Partition] = cp.TargetOffset
			}
			of := len(shape.groupTopics(g)) * int(shape.perTopic)
			if ok != of || (syncOffsets && synced != of) {
				last = fmt.Sprintf("%d groups pending; %s: %d partitions checkpointed at the committed offsets, %d synced, last error %q",
					len(pending), group, ok, synced, cps.LastError)
				continue
			}
			want[group] = offsets
			delete(pending, group)
		}
		return len(pending) == 0, last
	})
	checkpointed := time.Since(setupStart)
	fmt.Printf("%s failover setup: %d records mirrored in %s, checkpoints of %s ready after %s (sync_group_offsets=%v)\n",
		mode, totalPartitions*foBenchRecords, mirrored.Round(time.Millisecond), shape, checkpointed.Round(time.Millisecond), syncOffsets)

	if mode == agentapi.ModeForced {
		na.Kill() // the region is lost
	}

	b.ResetTimer()
	start := time.Now()
	fctx, cancel := context.WithTimeout(ctx, foBenchFailoverBound)
	defer cancel()
	var res agentapi.Failover
	code, raw, err := api.call(fctx, http.MethodPost, "/v1/policies/"+foBenchPolicy+"/failover",
		agentapi.FailoverRequest{To: "europe", Mode: mode, RequestID: "bench", RequestedBy: "benchmark"}, &res)
	post := time.Since(start)
	if err != nil || code != http.StatusOK {
		b.Fatalf("POST failover after %s: HTTP %d %s %v", post, code, raw, err)
	}
	var active agentapi.Active
	for {
		code, raw, err := api.call(fctx, http.MethodGet, "/v1/policies/"+foBenchPolicy+"/active", nil, &active)
		if err == nil && code == http.StatusOK && active.Cluster == "europe" {
			break
		}
		if fctx.Err() != nil {
			b.Fatalf("discovery does not answer europe %s after the request: HTTP %d %s %v", foBenchFailoverBound, code, raw, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	// The answer: completed, nothing lost, every group resumes on all
	// 300 partitions.
	if res.Outcome != agentapi.OutcomeCompleted || res.To != "europe" || res.Epoch != 1 || res.Report == nil {
		b.Fatalf("failover answer: %+v", res)
	}
	rep := res.Report
	if rep.RecordsLost != 0 || len(rep.Partitions) != totalPartitions {
		b.Fatalf("report: %d records lost over %d partitions, want 0 over %d (everything was mirrored before the loss)", rep.RecordsLost, len(rep.Partitions), totalPartitions)
	}
	if len(rep.Groups) != shape.groups {
		b.Fatalf("report names %d groups, want %d", len(rep.Groups), shape.groups)
	}
	for _, g := range rep.Groups {
		if of := countOffsets(want[g.Group]); g.Partitions != of || g.RecordsNotMirrored != 0 {
			b.Fatalf("report of group %s: %d partitions, %d records not mirrored; want %d and 0", g.Group, g.Partitions, g.RecordsNotMirrored, of)
		}
	}
	// offsets_committed counts the partitions the failover itself moved
	// forward on europe. With sync_group_offsets the checkpointer already
	// committed every translated offset there (the wait above saw all of
	// them synced), and the failover never commits an offset that is
	// already there: it must commit none. Without it, it commits all.
	wantCommitted := shape.offsets()
	if syncOffsets {
		wantCommitted = 0
	}
	if rep.OffsetsCommitted != wantCommitted {
		b.Fatalf("report says offsets_committed %d, want %d (sync_group_offsets=%v)", rep.OffsetsCommitted, wantCommitted, syncOffsets)
	}

	var st agentapi.MirrorStatus
	if code, raw, err := api.get("/v1/mirrors/"+foBenchMirror+"/status", &st); err != nil || code != http.StatusOK || st.State != agentapi.MirrorStopped {
		b.Fatalf("the mirror from the old active cluster after the failover: HTTP %d, state %q (want stopped) %s %v", code, st.State, raw, err)
	}

	// europe holds every group's translated offsets, whoever committed them.
	euAdm := kadm.NewClient(kafkatest.Client(b, eu.Bootstrap))
	groups := make([]string, 0, shape.groups)
	for g := range shape.groups {
		groups = append(groups, foBenchGroup(g))
	}
	checked := 0
	for group, resp := range euAdm.FetchManyOffsets(ctx, groups...) {
		if resp.Err != nil {
			b.Fatalf("committed offsets of %s on europe: %v", group, resp.Err)
		}
		for topic, parts := range want[group] {
			for p, at := range parts {
				o, ok := resp.Fetched.Lookup(topic, p)
				if !ok || o.Err != nil || o.At != at {
					b.Fatalf("%s on europe: %s[%d] committed at %d (found %v, err %v), want the translated %d", group, topic, p, o.At, ok, o.Err, at)
				}
				checked++
			}
		}
	}
	if checked != shape.offsets() {
		b.Fatalf("checked %d committed offsets on europe, want %d", checked, shape.offsets())
	}

	b.ReportMetric(float64(elapsed.Milliseconds()), "failover-ms")
	b.ReportMetric(float64(post.Milliseconds()), "post-ms")
	b.ReportMetric(float64(rep.OffsetsCommitted), "offsets-committed")
	verdict := "meets"
	if elapsed >= foBenchGoal {
		verdict = "misses"
	}
	fmt.Printf("%s failover, %s (sync_group_offsets=%v): %d ms from request to discovery (goal < %d ms: %s it); POST answered in %d ms; %d offsets committed by the failover, %d verified on europe\n",
		mode, shape, syncOffsets, elapsed.Milliseconds(), foBenchGoal.Milliseconds(), verdict, post.Milliseconds(), rep.OffsetsCommitted, checked)
}

// countOffsets counts the partitions of topic -> partition -> offset.
func countOffsets(m map[string]map[int32]int64) int {
	n := 0
	for _, parts := range m {
		n += len(parts)
	}
	return n
}
