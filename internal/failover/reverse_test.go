package failover

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// A crash between the quarantine's commit and the OpQuarantine record makes
// Reverse copy the tail again: calling quarantine again without that record
// is exactly what the retry does.
func TestQuarantineRetriedAfterACrashCopiesEachDivergentRecordOnce(t *testing.T) {
	ctx := context.Background()
	const (
		topic      = "LH.ORDERS"
		partitions = 3
		mirrored   = 50 // source offsets [0, 50) of each partition reached europe
	)
	na, eu, e, m := newQuarantineEnv(t)

	kafkatest.CreateTopic(t, na.Bootstrap(), topic, partitions, nil)
	prod := kafkatest.NewProducer(t, na.Bootstrap())
	prod.Produce(t, topic, partitions, mirrored)
	// The mirror's final offset syncs, as its tasks left them.
	writeFinalSyncs(t, eu, m, topic, partitions, mirrored)

	// The divergent tail: plain records (more than quarantinedBefore's
	// first look at the end), a committed transaction and an aborted one,
	// so that offsets are not records.
	prod.Produce(t, topic, partitions, 100)
	app := kafkatest.Client(t, na.Bootstrap(), kgo.TransactionalID("na-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := app.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < partitions; p++ {
			for n := range 5 {
				if err := app.ProduceSync(ctx, kafkatest.GenRecord(topic, p, 1000*(i+1)+n)).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	prod.Produce(t, topic, partitions, 3)

	// Partition 1 of the quarantine ends in another cluster's record with
	// an offset inside the tail: it is not north-america's.
	kafkatest.CreateTopic(t, eu.Bootstrap(), topic+".diverged", partitions, nil)
	foreign := kafkatest.GenRecord(topic+".diverged", 1, 0)
	foreign.Headers = append(foreign.Headers, kgo.RecordHeader{Key: "kfo.diverged.cluster", Value: []byte("south-america")},
		kgo.RecordHeader{Key: "kfo.diverged.offset", Value: []byte("60")})
	if err := kafkatest.Client(t, eu.Bootstrap(), kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(ctx, foreign).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// An earlier attempt that died inside its transaction left it open,
	// with a record claiming the tail's last offset: it must not count.
	onNA := kafkatest.ReadAll(t, na.Bootstrap(), topic)
	last := onNA[0][len(onNA[0])-1].Offset
	zombie := kafkatest.Client(t, eu.Bootstrap(), kgo.TransactionalID("__kfo_quarantine.loosehanger.north-america"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	bogus := kafkatest.GenRecord(topic+".diverged", 0, 0)
	bogus.Headers = append(bogus.Headers, kgo.RecordHeader{Key: "kfo.diverged.cluster", Value: []byte("north-america")},
		kgo.RecordHeader{Key: "kfo.diverged.offset", Value: []byte(strconv.FormatInt(last, 10))})
	if err := zombie.ProduceSync(ctx, bogus).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// check asserts that europe holds north-america's tail once, record for
	// record, and that the report counts exactly that.
	check := func(t *testing.T, report []agentapi.QuarantinedPartition) {
		t.Helper()
		onNA := kafkatest.ReadAll(t, na.Bootstrap(), topic)
		quarantined := kafkatest.ReadAll(t, eu.Bootstrap(), topic+".diverged")
		if len(report) != partitions {
			t.Fatalf("report names %d partitions, want %d: %+v", len(report), partitions, report)
		}
		for p := int32(0); p < partitions; p++ {
			var tail []kafkatest.Record
			for _, r := range onNA[p] {
				if r.Offset >= mirrored {
					tail = append(tail, r)
				}
			}
			if want := int(prod.Produced(topic, p)) - mirrored + 5; len(tail) != want { // and the committed transaction's 5
				t.Fatalf("north-america[%d] holds a tail of %d records, want %d: the setup is wrong", p, len(tail), want)
			}
			got := quarantined[p]
			if p == 1 {
				if len(got) == 0 || string(got[0].Headers[len(got[0].Headers)-2].Value) != "south-america" {
					t.Fatalf("%s.diverged[1] no longer starts with south-america's record", topic)
				}
				got = got[1:]
			}
			if len(got) != len(tail) {
				t.Fatalf("%s.diverged[%d] holds %d records, north-america's tail %d: each must be there once", topic, p, len(got), len(tail))
			}
			for i := range tail {
				if err := fromDivergence(got[i], "north-america", 1, tail[i]); err != nil {
					t.Fatalf("%s.diverged[%d] record %d: %v", topic, p, i, err)
				}
			}
			qp := report[p]
			end := onNA[p][len(onNA[p])-1].Offset + 1
			if qp.Topic != topic || qp.Partition != p || qp.QuarantineTopic != topic+".diverged" || qp.FromOffset != mirrored || qp.ToOffset != end || qp.Records != int64(len(tail)) {
				t.Fatalf("report of partition %d: %+v; want offsets [%d, %d) and %d records", p, qp, mirrored, end, len(tail))
			}
		}
	}

	first, err := e.quarantine(ctx, m, "loosehanger", "north-america", "europe", 1)
	if err != nil {
		t.Fatal(err)
	}
	check(t, first)

	// The agent dies here, before AppendOp(OpQuarantine). The returned
	// cluster takes a few more writes before the retry.
	prod.Produce(t, topic, partitions, 7)
	retried, err := e.quarantine(ctx, m, "loosehanger", "north-america", "europe", 1)
	if err != nil {
		t.Fatal(err)
	}
	check(t, retried)
	// And once more with nothing new: it copies nothing, reports the same.
	again, err := e.quarantine(ctx, m, "loosehanger", "north-america", "europe", 1)
	if err != nil {
		t.Fatal(err)
	}
	check(t, again)
	for p := range again {
		if again[p] != retried[p] {
			t.Fatalf("a repeated retry reports %+v, the one before %+v", again[p], retried[p])
		}
	}
}

// fromDivergence checks that quarantined record got is record want of
// cluster's divergence epoch: the same record, and the copy's headers last.
func fromDivergence(got kafkatest.Record, cluster string, epoch int64, want kafkatest.Record) error {
	h := got.Headers
	if len(h) < 3 || h[len(h)-3].Key != "kfo.diverged.cluster" || string(h[len(h)-3].Value) != cluster ||
		h[len(h)-2].Key != "kfo.diverged.epoch" || string(h[len(h)-2].Value) != strconv.FormatInt(epoch, 10) ||
		h[len(h)-1].Key != "kfo.diverged.offset" || string(h[len(h)-1].Value) != strconv.FormatInt(want.Offset, 10) {
		return fmt.Errorf("headers %v, want it to come from %s's divergence of epoch %d, offset %d", h, cluster, epoch, want.Offset)
	}
	got.Headers = h[:len(h)-3]
	if !want.Equal(got) {
		return fmt.Errorf("differs from %s's offset %d", cluster, want.Offset)
	}
	return nil
}

// A cluster that diverged before, was rebuilt and diverged again has a new
// tail whose offsets may be those of the first one: the first divergence's
// records at the end of the quarantine are other records, not a part of the
// new tail copied by an earlier attempt.
func TestQuarantineOfASecondDivergenceCopiesItsWholeTailAfterTheFirstOnesRecords(t *testing.T) {
	ctx := context.Background()
	const (
		topic      = "LH.ORDERS"
		partitions = 2
		mirrored   = 60 // the second divergence's tail is [60, 100)
	)
	na, eu, e, m := newQuarantineEnv(t)
	kafkatest.CreateTopic(t, na.Bootstrap(), topic, partitions, nil)
	kafkatest.NewProducer(t, na.Bootstrap()).Produce(t, topic, partitions, 100)
	writeFinalSyncs(t, eu, m, topic, partitions, mirrored)

	// The first divergence (epoch 1) quarantined north-america's offsets
	// [40, 80) of each partition; on partition 1 an agent without epochs
	// then copied offsets [70, 80) again. Both end inside the new tail.
	kafkatest.CreateTopic(t, eu.Bootstrap(), topic+".diverged", partitions, nil)
	earlier := kafkatest.Client(t, eu.Bootstrap(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < partitions; p++ {
		for off := int64(40); off < 80; off++ {
			r := kafkatest.GenRecord(topic+".diverged", p, 10_000+int(off))
			r.Headers = append(r.Headers, copyHeaders("north-america", 1, off)...)
			if err := earlier.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for off := int64(70); off < 80; off++ {
		r := kafkatest.GenRecord(topic+".diverged", 1, 20_000+int(off))
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "kfo.diverged.cluster", Value: []byte("north-america")},
			kgo.RecordHeader{Key: "kfo.diverged.offset", Value: []byte(strconv.FormatInt(off, 10))})
		if err := earlier.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	before := map[int32]int{0: 40, 1: 50}

	check := func(t *testing.T, report []agentapi.QuarantinedPartition) {
		t.Helper()
		onNA := kafkatest.ReadAll(t, na.Bootstrap(), topic)
		quarantined := kafkatest.ReadAll(t, eu.Bootstrap(), topic+".diverged")
		if len(report) != partitions {
			t.Fatalf("report names %d partitions, want %d: %+v", len(report), partitions, report)
		}
		for p := int32(0); p < partitions; p++ {
			tail := onNA[p][mirrored:]
			got := quarantined[p][before[p]:]
			if len(got) != len(tail) {
				t.Fatalf("%s.diverged[%d] holds %d records of the second divergence, its tail %d: each must be there once", topic, p, len(got), len(tail))
			}
			for i := range tail {
				if err := fromDivergence(got[i], "north-america", 3, tail[i]); err != nil {
					t.Fatalf("%s.diverged[%d] record %d of the second divergence: %v", topic, p, i, err)
				}
			}
			if qp := report[p]; qp.FromOffset != mirrored || qp.ToOffset != 100 || qp.Records != int64(len(tail)) {
				t.Fatalf("report of partition %d: %+v; want offsets [%d, 100) and %d records", p, qp, mirrored, len(tail))
			}
		}
	}
	first, err := e.quarantine(ctx, m, "loosehanger", "north-america", "europe", 3)
	if err != nil {
		t.Fatal(err)
	}
	check(t, first)
	// A retry after a crash before OpQuarantine resumes after this
	// divergence's own records: it copies nothing again.
	retried, err := e.quarantine(ctx, m, "loosehanger", "north-america", "europe", 3)
	if err != nil {
		t.Fatal(err)
	}
	check(t, retried)
}

// A quarantine topic keeps its records until someone deletes them (they
// keep their original timestamps, which a time-based retention would expire
// at once for a cluster that came back late), and one left by an earlier
// divergence grows to the source's partition count.
func TestQuarantineTopicsKeepTheirRecordsAndGrowWithTheSource(t *testing.T) {
	eu := kafkatest.Cluster(t, "europe")
	adm := kadm.NewClient(kafkatest.Client(t, eu.Bootstrap()))
	ctx := context.Background()
	kafkatest.CreateTopic(t, eu.Bootstrap(), "LH.OLD.diverged", 2, nil)
	for _, topic := range []string{"LH.NEW.diverged", "LH.OLD.diverged"} {
		if err := ensureQuarantineTopic(ctx, adm, topic, 3); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(td[topic].Partitions); n != 3 {
			t.Fatalf("%s has %d partitions, want 3", topic, n)
		}
		cfgs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := cfgs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		retention := ""
		for _, c := range cfg.Configs {
			if c.Key == "retention.ms" {
				retention = c.MaybeValue()
			}
		}
		if retention != "-1" {
			t.Fatalf("%s: retention.ms %q, want -1", topic, retention)
		}
	}
}

// writeFinalSyncs writes the mirror's offset syncs on europe as its tasks
// would have left them: the first mirrored offsets of each partition of
// topic copied one to one.
func writeFinalSyncs(t *testing.T, eu *devcluster.Cluster, m agentapi.Mirror, topic string, partitions int32, mirrored int64) {
	t.Helper()
	syncs := offsetsync.Topic(m.Name)
	kafkatest.CreateTopic(t, eu.Bootstrap(), syncs, 1, nil)
	syncer := kafkatest.Client(t, eu.Bootstrap(), kgo.DefaultProduceTopic(syncs))
	for p := range partitions {
		s := offsetsync.Sync{Topic: topic, Partition: p, Runs: []offsetsync.Run{{Source: 0, Target: 0, Count: mirrored}}, SourceNext: mirrored, TargetTopic: topic}
		v, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := syncer.ProduceSync(context.Background(), &kgo.Record{Key: s.Key(), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// newQuarantineEnv is north-america and europe, a store on europe that
// knows both, an executor, and the mirror from north-america to europe.
func newQuarantineEnv(t *testing.T) (na, eu *devcluster.Cluster, e *Executor, m agentapi.Mirror) {
	t.Helper()
	na = kafkatest.Cluster(t, "north-america")
	eu = kafkatest.Cluster(t, "europe")
	st, err := store.Open(context.Background(), kafkaconn.Conn{Name: "europe", BootstrapServers: eu.Bootstrap()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	for name, c := range map[string][]string{"north-america": na.Bootstrap(), "europe": eu.Bootstrap()} {
		if _, _, err := st.PutCluster(context.Background(), agentapi.Cluster{Name: name, BootstrapServers: c}); err != nil {
			t.Fatal(err)
		}
	}
	e = &Executor{Store: st, AgentID: "test", Log: slog.New(slog.DiscardHandler)}
	m = agentapi.Mirror{Name: "na-to-eu", Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{`LH\..*`}}}
	return na, eu, e, m
}
