package main

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// failoverSetup is the reference story in small: north-america is the active
// cluster (a test can kill it, as a region is lost, and restart it), europe
// the standby the agent runs beside, a mirror of LH.* and consumer-* groups,
// and a policy. Both clusters are of the kind KFO_TEST_KAFKA selects unless
// the test names one.
type failoverSetup struct {
	na, eu kafkatest.Kafka
	agent  *agentProc
}

// setupOptions shape a failoverSetup.
type setupOptions struct {
	kind     string // of both clusters; "" is KFO_TEST_KAFKA's
	fencing  string
	tasksMax int
	// secure: both clusters take SASL_SSL only and authorize with ACLs, the
	// agent uses SASL_SSL on all three connections, and north-america has
	// the application's user (appUser), allowed LH.* and consumer-*.
	secure bool
	// agentEnv is added to the agent's environment.
	agentEnv []string
	// naUsers and euUsers are more SCRAM users of a secure north-america
	// and europe.
	naUsers, euUsers map[string]string
}

// The application's user on a secure north-america: not a super user, so
// a fence's DENY ACLs apply to it.
const (
	appUser     = "app"
	appPassword = "app-secret-pw"
)

func newFailoverSetup(t *testing.T, fencing string, tasksMax int) *failoverSetup {
	t.Helper()
	return newFailoverSetupWith(t, setupOptions{fencing: fencing, tasksMax: tasksMax})
}

func newFailoverSetupWith(t *testing.T, o setupOptions) *failoverSetup {
	t.Helper()
	users := appUsers(o.secure)
	maps.Copy(users, o.naUsers)
	na := clusterOf(t, o.kind, "north-america", kafkatest.ClusterOptions{Secure: o.secure, Users: users})
	eu := clusterOf(t, o.kind, "europe", kafkatest.ClusterOptions{Secure: o.secure, Users: o.euUsers})
	var stateFlags []string
	if o.secure {
		allowApp(t, na)
		stateFlags = stateConnFlags(t, eu.Declared())
	}
	s := &failoverSetup{na: na, eu: eu, agent: startAgentWith(t, strings.Join(eu.Bootstrap(), ","), o.agentEnv, stateFlags...)}
	s.agent.mustPut("/v1/clusters/north-america", na.Declared())
	s.agent.mustPut("/v1/clusters/europe", eu.Declared())
	s.agent.mustPut("/v1/mirrors/na-to-eu", storyMirror(o.tasksMax))
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{
		Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu"}, Fencing: o.fencing, DrainTimeout: "30s",
	})
	return s
}

// storyMirror is the reference story's mirror of LH.* and consumer-* groups.
func storyMirror(tasksMax int) agentapi.Mirror {
	return agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:             agentapi.Selector{Include: []string{`LH\..*`}},
		Groups:             agentapi.Selector{Include: []string{`consumer-.*`}},
		RefreshInterval:    "1s",
		CheckpointInterval: "500ms",
		TasksMax:           tasksMax,
	}
}

// clusterOf starts a cluster of kind, or of KFO_TEST_KAFKA's kind for "".
func clusterOf(t *testing.T, kind, name string, opts kafkatest.ClusterOptions) kafkatest.Kafka {
	t.Helper()
	if kind == "" {
		return kafkatest.NewCluster(t, name, opts)
	}
	return kafkatest.NewClusterOfKind(t, kind, name, opts)
}

func appUsers(secure bool) map[string]string {
	if !secure {
		return nil
	}
	return map[string]string{appUser: appPassword}
}

// allowApp lets the application's user write and read LH.* and commit as
// consumer-* groups: the ACLs an operator gives an application.
func allowApp(t *testing.T, c kafkatest.Kafka) {
	t.Helper()
	acls := kadm.NewACLs().Allow("User:" + appUser).AllowHosts().ResourcePatternType(kadm.ACLPatternPrefixed).
		Topics("LH.").Groups("consumer-").Operations(kadm.OpAll)
	res, err := kadm.NewClient(clientOf(t, c)).CreateACLs(context.Background(), acls)
	if err != nil {
		t.Fatalf("allow %s: %v", appUser, err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("allow %s on %s %s: %v", appUser, r.Type, r.Name, r.Err)
		}
	}
}

// app answers the client options of the application's user of north-america.
func (s *failoverSetup) app() []kgo.Opt { return s.na.UserOpts(appUser, appPassword) }

// devEU answers europe's kfake; the test calls devOnly first.
func (s *failoverSetup) devEU(t *testing.T) *devcluster.Cluster {
	t.Helper()
	d, ok := s.eu.(kafkatest.InProcess)
	if !ok {
		t.Fatalf("europe is %T, not a dev cluster: call devOnly first", s.eu)
	}
	return d.Dev()
}

// devOnly skips a test that needs what only a dev cluster offers when
// KFO_TEST_KAFKA selects Apache Kafka, saying why, before it starts any.
func devOnly(t *testing.T, why string) {
	t.Helper()
	if kind := os.Getenv(kafkatest.KindEnv); kind != "" && kind != kafkatest.Dev {
		t.Skipf("dev clusters only (%s=%s): %s", kafkatest.KindEnv, kind, why)
	}
}

// The helpers below reach a cluster of either kind with every right.

func clientOf(t *testing.T, c kafkatest.Kafka, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return kafkatest.Client(t, c.Bootstrap(), append(c.ClientOpts(), opts...)...)
}

func readAllOf(t *testing.T, c kafkatest.Kafka, topic string) map[int32][]kafkatest.Record {
	t.Helper()
	return kafkatest.ReadAll(t, c.Bootstrap(), topic, c.ClientOpts()...)
}

func createTopicOn(t *testing.T, c kafkatest.Kafka, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	kafkatest.CreateTopic(t, c.Bootstrap(), topic, partitions, configs, c.ClientOpts()...)
}

func producerOf(t *testing.T, c kafkatest.Kafka) *kafkatest.Producer {
	t.Helper()
	return kafkatest.NewProducer(t, c.Bootstrap(), c.ClientOpts()...)
}

// partitionCounts answers the records per partition of a topic.
func partitionCounts(t *testing.T, c kafkatest.Kafka, topic string) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	for p, recs := range readAllOf(t, c, topic) {
		out[p] = int64(len(recs))
	}
	return out
}

func (s *failoverSetup) failover(t *testing.T, req agentapi.FailoverRequest) (int, agentapi.Failover, agentapi.Error) {
	t.Helper()
	var res agentapi.Failover
	var e agentapi.Error
	raw := map[string]any{}
	code := s.agent.call("POST", "/v1/policies/loosehanger/failover", req, &raw)
	b, _ := jsonRoundTrip(raw)
	if code == 200 {
		_ = jsonUnmarshal(b, &res)
	} else {
		_ = jsonUnmarshal(b, &e)
	}
	return code, res, e
}

func TestForcedFailoverReportsExactlyWhatWasLostAndFailbackQuarantinesTheTailAndLosesNothingOnApacheKafka(t *testing.T) {
	forcedFailoverAndFailback(t, kafkatest.Apache)
}

func TestForcedFailoverReportsExactlyWhatWasLostAndFailbackQuarantinesTheTailAndLosesNothingOnDevClusters(t *testing.T) {
	forcedFailoverAndFailback(t, kafkatest.Dev)
}

// forcedFailoverAndFailback loses north-america (its brokers killed) while
// the mirror is stalled and the group has read past it: the forced
// failover's report says exactly what was lost, per partition; when
// north-america returns its tail is quarantined on europe record for
// record, and a planned failback loses nothing. SASL_SSL on every
// connection.
func forcedFailoverAndFailback(t *testing.T, kind string) {
	// One task: when its transactions start failing, every partition stops.
	s := newFailoverSetupWith(t, setupOptions{kind: kind, fencing: agentapi.FencingNone, tasksMax: 1, secure: true})
	ctx := context.Background()
	// europe takes batches up to 200 KB: the mirror copies normal orders,
	// and stalls on a 300 KB record while its fetches still see the high
	// watermarks. (europe's topic first, or the mirror creates it.)
	limit := "200000"
	createTopicOn(t, s.eu, "LH.ORDERS", 3, map[string]*string{"max.message.bytes": &limit})
	createTopicOn(t, s.na, "LH.ORDERS", 3, nil)

	prod := producerOf(t, s.na)
	prod.Produce(t, "LH.ORDERS", 3, 1000)
	consumeAndCommit(t, s.na.Bootstrap(), "consumer-southamerica", "LH.ORDERS", map[int32]int{0: 600, 1: 600, 2: 600}, s.na.ClientOpts()...)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 3, 1000)
	waitSynced(t, s.agent, "consumer-southamerica", 3)

	// Each partition gets a record europe refuses, then 200 more orders;
	// the group reads 100 records past what is mirrored.
	big := clientOf(t, s.na, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 3; p++ {
		r := kafkatest.GenRecord("LH.ORDERS", p, int(prod.Produced("LH.ORDERS", p)))
		r.Value = make([]byte, 300_000)
		_, _ = crand.Read(r.Value) // incompressible
		if err := big.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	kafkatest.Eventually(t, 30*time.Second, "the mirror task fails on the record europe refuses", func() (bool, string) {
		for _, p := range s.agent.status("na-to-eu").Partitions {
			if strings.Contains(p.Error, "MESSAGE_TOO_LARGE") {
				return true, ""
			}
		}
		return false, "no error yet"
	})
	prod.Produce(t, "LH.ORDERS", 3, 200)
	produced := map[int32]int64{}
	for p := int32(0); p < 3; p++ {
		produced[p] = prod.Produced("LH.ORDERS", p) + 1 // and the big one
	}
	consumeAndCommit(t, s.na.Bootstrap(), "consumer-southamerica", "LH.ORDERS", map[int32]int{0: 500, 1: 500, 2: 500}, s.na.ClientOpts()...) // from 600 to 1100
	kafkatest.Eventually(t, 30*time.Second, "the agent has seen north-america's last high watermarks", func() (bool, string) {
		var seen int64
		for _, p := range s.agent.status("na-to-eu").Partitions {
			seen += p.SourceHighWatermark
		}
		return seen == produced[0]+produced[1]+produced[2], fmt.Sprint(seen)
	})
	var cps agentapi.GroupCheckpoints
	kafkatest.Eventually(t, 30*time.Second, "checkpoint of the group's last commit", func() (bool, string) {
		s.agent.call("GET", "/v1/mirrors/na-to-eu/groups/consumer-southamerica", nil, &cps)
		return cps.RecordsNotMirrored == 300, fmt.Sprintf("%+v", cps)
	})

	// Before the loss, the forecast already says what a failover would cost.
	var fc agentapi.Forecast
	s.agent.call("GET", "/v1/policies/loosehanger/forecast?to=europe", nil, &fc)
	if fc.Report.RecordsLost != 3*201 || len(fc.Report.Groups) != 1 || fc.Report.Groups[0].RecordsNotMirrored != 300 {
		t.Fatalf("forecast %+v: want 603 records at risk and the group's 300 lost reads", fc.Report)
	}

	s.na.Kill() // the region is lost
	t.Log("north-america killed; forced failover to europe")
	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "lose-na-1", RequestedBy: "test"})
	if code != 200 {
		t.Fatalf("forced failover: HTTP %d %+v", code, e.Error)
	}

	// The truth: what was produced minus what europe holds.
	onEU := partitionCounts(t, s.eu, "LH.ORDERS")
	truth := map[string]int64{}
	for p := int32(0); p < 3; p++ {
		truth[fmt.Sprintf("LH.ORDERS/%d", p)] = produced[p] - onEU[p]
	}
	var truthTotal int64
	for _, n := range truth {
		truthTotal += n
	}
	if res.Report == nil || res.Report.RecordsLost != truthTotal || truthTotal != 3*201 {
		t.Fatalf("report says %+v records lost; truly lost %d (%v)", res.Report, truthTotal, truth)
	}
	for _, p := range res.Report.Partitions {
		if want := truth[fmt.Sprintf("%s/%d", p.Topic, p.Partition)]; p.RecordsLost != want {
			t.Fatalf("%s[%d]: report says %d lost, truly %d", p.Topic, p.Partition, p.RecordsLost, want)
		}
	}
	if res.Epoch != 1 || res.Outcome != agentapi.OutcomeCompleted || res.To != "europe" {
		t.Fatalf("failover answer: %+v", res)
	}
	if len(res.Report.Groups) != 1 || res.Report.Groups[0].RecordsNotMirrored != 300 {
		t.Fatalf("group report %+v: consumer-southamerica read 300 records that never reached europe", res.Report.Groups)
	}
	t.Logf("report: %d records lost (true count %d), group read %d records that are lost", res.Report.RecordsLost, truthTotal, res.Report.Groups[0].RecordsNotMirrored)

	// Discovery points at europe, and the same request id answers the
	// same result without flipping again.
	var active agentapi.Active
	s.agent.call("GET", "/v1/policies/loosehanger/active", nil, &active)
	if active.Cluster != "europe" || active.Epoch != 1 || fmt.Sprint(active.BootstrapServers) != fmt.Sprint(s.eu.Bootstrap()) {
		t.Fatalf("discovery after the failover: %+v", active)
	}
	if code, again, _ := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "lose-na-1"}); code != 200 || again.Epoch != 1 || again.CompletedAt != res.CompletedAt {
		t.Fatalf("repeating the request: HTTP %d %+v, want the first answer", code, again)
	}
	if st := s.agent.status("na-to-eu"); st.State != agentapi.MirrorStopped {
		t.Fatalf("mirror from the lost cluster is %q, want stopped", st.State)
	}
	// north-america may hold records never mirrored: nothing goes back to
	// it until they are reconciled.
	var p agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
	if fmt.Sprint(p.Diverged) != "[north-america]" || len(p.Standbys) != 1 || p.Standbys[0].Ready {
		t.Fatalf("after a forced failover: diverged %v, standbys %+v; want north-america diverged and not ready", p.Diverged, p.Standbys)
	}
	if code, _, e := s.failover(t, agentapi.FailoverRequest{To: "north-america", Mode: agentapi.ModeForced, RequestID: "back"}); code != 409 || !strings.Contains(e.Error.Message, "left behind") {
		t.Fatalf("failover back to the diverged cluster: HTTP %d %+v, want 409 saying it was left behind", code, e.Error)
	}

	// Producers carry on in europe; the group resumes at the first record
	// it has not read that europe holds: zero re-read.
	producerOf(t, s.eu).Produce(t, "LH.ORDERS", 3, 0) // connectivity
	eu := clientOf(t, s.eu, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 3; p++ {
		r := kafkatest.GenRecord("LH.ORDERS", p, 5000)
		r.Value = []byte("written in europe after the failover")
		if err := eu.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	group := clientOf(t, s.eu, kgo.ConsumerGroup("consumer-southamerica"), kgo.ConsumeTopics("LH.ORDERS"))
	got := map[int32][]string{}
	for n := 0; n < 3; {
		fetches := group.PollFetches(shortCtx(t, 20*time.Second))
		if fetches.IsClientClosed() {
			t.Fatal("group closed")
		}
		fetches.EachError(func(_ string, _ int32, err error) { t.Fatalf("group on europe: %v", err) })
		fetches.EachRecord(func(r *kgo.Record) { got[r.Partition] = append(got[r.Partition], string(r.Value)); n++ })
	}
	for p := int32(0); p < 3; p++ {
		if len(got[p]) != 1 || got[p][0] != "written in europe after the failover" {
			t.Fatalf("partition %d: the group on europe read %d records first (%q), want only the new one: no re-reads", p, len(got[p]), got[p])
		}
	}

	if err := group.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	group.LeaveGroup()

	// The way back needs a mirror from europe to north-america.
	s.agent.mustPut("/v1/mirrors/eu-to-na", agentapi.Mirror{Source: "europe", Target: "north-america",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, Groups: agentapi.Selector{Include: []string{`consumer-.*`}},
		RefreshInterval: "1s", CheckpointInterval: "500ms", TasksMax: 1})
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"},
		Mirrors: []string{"na-to-eu", "eu-to-na"}, Fencing: agentapi.FencingNone, DrainTimeout: "30s"})

	t.Run("north-america returns: its divergent tail is quarantined on europe, record for record", func(t *testing.T) {
		s.na.Restart()
		naRecs := readAllOf(t, s.na, "LH.ORDERS") // before the rebuild deletes them
		var q agentapi.Quarantine
		if code := s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: "na-back"}, &q); code != 200 {
			var e agentapi.Error
			s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: "na-back"}, &e)
			t.Fatalf("reverse: HTTP %d %+v", code, e.Error)
		}
		if q.Records != truthTotal {
			t.Fatalf("quarantined %d records, the divergent tail holds %d", q.Records, truthTotal)
		}
		quarantined := readAllOf(t, s.eu, "LH.ORDERS.diverged")
		for p := int32(0); p < 3; p++ {
			tail := naRecs[p][onEU[p]:]
			if len(quarantined[p]) != len(tail) {
				t.Fatalf("LH.ORDERS.diverged[%d] holds %d records, north-america's tail %d", p, len(quarantined[p]), len(tail))
			}
			for i := range tail {
				got := quarantined[p][i]
				got.Headers = got.Headers[:len(got.Headers)-3] // the three kfo.diverged.* headers say where it came from
				if !tail[i].Equal(got) {
					t.Fatalf("LH.ORDERS.diverged[%d] record %d differs from north-america's", p, i)
				}
			}
		}
		var again agentapi.Quarantine
		if code := s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: "na-back"}, &again); code != 200 || !again.CompletedAt.Equal(q.CompletedAt) {
			t.Fatalf("repeating the reverse request: HTTP %d %+v, want the first answer %+v", code, again, q)
		}
		if n := partitionCounts(t, s.eu, "LH.ORDERS.diverged"); n[0]+n[1]+n[2] != truthTotal {
			t.Fatalf("after a repeated request the quarantine holds %v records", n)
		}
		var p agentapi.Policy
		s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
		if len(p.Diverged) != 0 {
			t.Fatalf("north-america is still diverged after the rebuild: %+v", p.Diverged)
		}
		// The forced failover's record now says what was found on return
		// beside what was known at the failover.
		if lf := p.LastFailover; lf == nil || lf.Report == nil || lf.Report.RecordsFoundOnReturn == nil ||
			*lf.Report.RecordsFoundOnReturn != truthTotal || lf.Report.RecordsLost != truthTotal {
			t.Fatalf("last failover after the quarantine: %+v, want %d records lost and found on return", lf, truthTotal)
		}
		t.Logf("north-america's divergent tail of %d records quarantined in LH.ORDERS.diverged on europe, record for record; north-america rebuilt as a standby", q.Records)
	})

	t.Run("planned failback to north-america loses nothing and the group resumes there", func(t *testing.T) {
		euProd := producerOf(t, s.eu)
		euProd.Produce(t, "LH.ORDERS", 3, 50) // europe is active: the applications write there
		euRecs := readAllOf(t, s.eu, "LH.ORDERS")
		want := map[string]map[int32]int64{"LH.ORDERS": {}}
		for p, recs := range euRecs {
			want["LH.ORDERS"][p] = recs[len(recs)-1].Offset + 1
		}
		kafkatest.Eventually(t, time.Minute, "eu-to-na copied europe into the rebuilt north-america", func() (bool, string) {
			got := map[int32]int64{}
			for _, p := range s.agent.statusOf("eu-to-na").Partitions {
				got[p.Partition] = p.LastMirroredOffset + 1
			}
			for p, n := range want["LH.ORDERS"] {
				if got[p] < n {
					return false, fmt.Sprint(got)
				}
			}
			return true, ""
		})
		code, res, e := s.failover(t, agentapi.FailoverRequest{To: "north-america", Mode: agentapi.ModePlanned, RequestID: "failback-1"})
		if code != 200 {
			t.Fatalf("planned failback: HTTP %d %+v", code, e.Error)
		}
		if res.Report.RecordsLost != 0 || res.Epoch != 2 {
			t.Fatalf("planned failback: %d records lost, epoch %d; want 0 and 2", res.Report.RecordsLost, res.Epoch)
		}
		naRecs := readAllOf(t, s.na, "LH.ORDERS")
		for p, recs := range euRecs {
			if len(naRecs[p]) != len(recs) {
				t.Fatalf("LH.ORDERS[%d]: europe holds %d records, north-america after the failback %d", p, len(recs), len(naRecs[p]))
			}
			for i := range recs {
				if !recs[i].Equal(naRecs[p][i]) {
					t.Fatalf("LH.ORDERS[%d] record %d differs between europe and north-america", p, i)
				}
			}
		}
		var active agentapi.Active
		s.agent.call("GET", "/v1/policies/loosehanger/active", nil, &active)
		if active.Cluster != "north-america" || active.Epoch != 2 {
			t.Fatalf("discovery after the failback: %+v", active)
		}

		// Applications write to north-america again; na-to-eu resumes at
		// north-america's end: only the new records reach europe, once.
		naProd := producerOf(t, s.na)
		naProd.Produce(t, "LH.ORDERS", 3, 10)
		kafkatest.Eventually(t, time.Minute, "na-to-eu copies the new records", func() (bool, string) {
			n := partitionCounts(t, s.eu, "LH.ORDERS")
			return n[0]+n[1]+n[2] == int64(len(euRecs[0])+len(euRecs[1])+len(euRecs[2]))+30, fmt.Sprint(n)
		})
		time.Sleep(2 * time.Second) // anything copied twice would arrive by now
		euAfter := readAllOf(t, s.eu, "LH.ORDERS")
		naAfter := readAllOf(t, s.na, "LH.ORDERS")
		for p := int32(0); p < 3; p++ {
			if len(euAfter[p]) != len(euRecs[p])+10 || len(naAfter[p]) != len(euRecs[p])+10 {
				t.Fatalf("LH.ORDERS[%d]: europe %d, north-america %d records; want both %d", p, len(euAfter[p]), len(naAfter[p]), len(euRecs[p])+10)
			}
			for i := range naAfter[p] {
				if !naAfter[p][i].Equal(euAfter[p][i]) {
					t.Fatalf("LH.ORDERS[%d] record %d differs between the clusters after the failback", p, i)
				}
			}
		}
		// The group resumes in north-america at the first record it has not read.
		g := clientOf(t, s.na, kgo.ConsumerGroup("consumer-southamerica"), kgo.ConsumeTopics("LH.ORDERS"))
		first := map[int32]string{}
		for len(first) < 3 {
			fetches := g.PollFetches(shortCtx(t, 20*time.Second))
			if fetches.IsClientClosed() || fetches.Err0() != nil {
				t.Fatalf("group on north-america: %v", fetches.Err0())
			}
			fetches.EachRecord(func(r *kgo.Record) {
				if _, ok := first[r.Partition]; !ok {
					first[r.Partition] = string(r.Key)
				}
			})
		}
		for p := int32(0); p < 3; p++ {
			// It had read everything up to the record written in europe
			// after the failover; next come europe's 50.
			if want := string(euRecs[p][len(euRecs[p])-50].Key); first[p] != want {
				t.Fatalf("partition %d: the group resumes on north-america at %q, want %q", p, first[p], want)
			}
		}
		t.Logf("planned failback: 0 lost, both clusters hold the same %d+%d+%d records, the group resumed at its next unread record", len(naAfter[0]), len(naAfter[1]), len(naAfter[2]))
	})
}

// waitMirroredTopic waits until n records of each partition are mirrored.
func waitMirroredTopic(t *testing.T, a *agentProc, topic string, partitions int32, n int64) {
	t.Helper()
	want := map[string]map[int32]int64{topic: {}}
	for p := int32(0); p < partitions; p++ {
		want[topic][p] = n
	}
	waitMirrored(t, a, want, time.Minute)
}

func TestPlannedFailoverWhileTheProducerRunsLosesNothingAndTheGroupResumesWithoutRereadsOnApacheKafka(t *testing.T) {
	plannedFailoverWhileTheProducerRuns(t, kafkatest.Apache)
}

func TestPlannedFailoverWhileTheProducerRunsLosesNothingAndTheGroupResumesWithoutRereadsOnDevClusters(t *testing.T) {
	plannedFailoverWhileTheProducerRuns(t, kafkatest.Dev)
}

// plannedFailoverWhileTheProducerRuns fences north-america with a DENY ACL
// while the application (a user that is not a super user) produces: the
// fence stops it, the mirror drains, and europe holds every record
// north-america took, once, in order; the group resumes on europe at its
// next unread record.
func plannedFailoverWhileTheProducerRuns(t *testing.T, kind string) {
	s := newFailoverSetupWith(t, setupOptions{kind: kind, fencing: agentapi.FencingACL, secure: true})
	createTopicOn(t, s.na, "LH.ORDERS", 3, nil)

	prod := kafkatest.NewProducer(t, s.na.Bootstrap(), s.app()...)
	prod.Produce(t, "LH.ORDERS", 3, 500)
	fenced := s.plannedFailoverWhileProducing(t, prod, "LH.ORDERS", 3, 20, "move-to-eu", func() {
		consumeAndCommit(t, s.na.Bootstrap(), "consumer-southamerica", "LH.ORDERS", map[int32]int{0: 400, 1: 450, 2: 500}, s.app()...)
		waitMirroredTopic(t, s.agent, "LH.ORDERS", 3, 500)
	})
	// europe holds exactly what north-america holds: every record written
	// before the fence, once, in order.
	naRecs := readAllOf(t, s.na, "LH.ORDERS")
	euRecs := readAllOf(t, s.eu, "LH.ORDERS")
	total := 0
	for p, want := range naRecs {
		got := euRecs[p]
		if len(got) != len(want) {
			t.Fatalf("LH.ORDERS[%d]: north-america holds %d records, europe %d", p, len(want), len(got))
		}
		for i := range want {
			if !want[i].Equal(got[i]) {
				t.Fatalf("LH.ORDERS[%d] record %d differs between the clusters", p, i)
			}
		}
		total += len(want)
	}
	t.Logf("planned failover with the producer running: %d records on both clusters, 0 lost, producer stopped by the fence (%v)", total, fenced)

	var active agentapi.Active
	s.agent.call("GET", "/v1/policies/loosehanger/active", nil, &active)
	if active.Cluster != "europe" || active.Epoch != 1 {
		t.Fatalf("discovery after the planned failover: %+v", active)
	}
	// north-america is a standby now: its fence stays after the flip.
	if err := prod.TryProduce(context.Background(), "LH.ORDERS", 1, 1); err == nil || !strings.Contains(err.Error(), "AUTHORIZATION") {
		t.Fatalf("after the flip the application writes to the old active cluster: %v", err)
	}
	// The group resumes in europe at its next unread record: zero re-reads.
	assertResumesOn(t, s.eu, "consumer-southamerica", "LH.ORDERS", naRecs, map[int32]int{0: 400, 1: 450, 2: 500})
}

// plannedFailoverWhileProducing has the application's producer prod write
// batches of batch records to each of partitions of topic until the fence
// refuses it, runs meanwhile, and fails over to europe as planned. The
// failover must complete, lose nothing and stop the producer with an
// authorization error, which it answers.
func (s *failoverSetup) plannedFailoverWhileProducing(t *testing.T, prod *kafkatest.Producer, topic string, partitions int32, batch int, requestID string, meanwhile func()) error {
	t.Helper()
	var fenced error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 { // bounded: about 40 s of orders
			if fenced = prod.TryProduce(context.Background(), topic, partitions, batch); fenced != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	meanwhile()
	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: requestID})
	if code != 200 {
		t.Fatalf("planned failover: HTTP %d %+v", code, e.Error)
	}
	<-done
	if fenced == nil || !strings.Contains(fenced.Error(), "AUTHORIZATION") {
		t.Fatalf("the producer was not stopped by the fence: %v", fenced)
	}
	if res.Report == nil || res.Report.RecordsLost != 0 {
		t.Fatalf("planned failover lost records: %+v", res.Report)
	}
	return fenced
}

// assertResumesOn consumes topic on c as group and checks each
// partition starts at record n[p] of want and reads exactly the rest.
func assertResumesOn(t *testing.T, c kafkatest.Kafka, group, topic string, want map[int32][]kafkatest.Record, n map[int32]int) {
	t.Helper()
	total := 0
	for p, recs := range want {
		total += len(recs) - n[p]
	}
	cl := clientOf(t, c, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	got := map[int32][]kafkatest.Record{}
	for seen := 0; seen < total; {
		fetches := cl.PollFetches(shortCtx(t, 20*time.Second))
		if fetches.IsClientClosed() || fetches.Err0() != nil {
			t.Fatalf("group %s read %d of %d records: %v", group, seen, total, fetches.Err0())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], kafkatest.Record{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
			seen++
		})
	}
	for p, recs := range want {
		rest := recs[n[p]:]
		if len(got[p]) != len(rest) {
			t.Fatalf("%s[%d]: group %s read %d records after resuming, want %d", topic, p, group, len(got[p]), len(rest))
		}
		for i := range rest {
			if !rest[i].Equal(got[p][i]) {
				t.Fatalf("%s[%d]: record %d after resuming differs: re-read or skipped", topic, p, i)
			}
		}
	}
}
