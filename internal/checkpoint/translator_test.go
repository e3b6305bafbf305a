package checkpoint

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// writeSyncs writes n offset syncs of LH.ORDERS[0] to the mirror's sync
// topic as tasks do, in transactions: source offset i was mirrored to
// target offset 2i, each record in its own target transaction.
func writeSyncs(t *testing.T, dst []string, mirror string, from, n int64) {
	t.Helper()
	ctx := context.Background()
	cl := kafkatest.Client(t, dst, kgo.TransactionalID("test-syncs-"+mirror), kgo.DefaultProduceTopic(offsetsync.Topic(mirror)),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const perTxn = 25_000
	for start := from; start < from+n; start += perTxn {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := start; i < min(start+perTxn, from+n); i++ {
			s := offsetsync.Sync{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 0,
				Runs: []offsetsync.Run{{Source: i, Target: 2 * i, Count: 1}}, SourceNext: i + 1}
			v, _ := s.Encode()
			cl.Produce(ctx, &kgo.Record{Key: s.Key(), Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Error(err)
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
}

// A checkpointer that starts beside a mirror with a long offset-sync history
// must not translate against the part of it read so far: that translation
// is too low and, once the gap is counted on the source, claims to be
// exact. Its first round translates against the whole history.
func TestTheFirstCheckpointRoundAfterStartTranslatesAgainstTheWholeSyncHistory(t *testing.T) {
	const mirrored = 100_000
	src := kafkatest.Cluster(t, "north-america").Bootstrap()
	dst := kafkatest.Cluster(t, "europe").Bootstrap()
	ctx := context.Background()
	kafkatest.CreateTopic(t, src, "LH.ORDERS", 1, nil)
	kafkatest.CreateTopic(t, dst, "LH.ORDERS", 1, nil)
	kafkatest.CreateTopic(t, dst, offsetsync.Topic("na-to-eu"), 1, nil)
	srcCl, dstCl := kafkatest.Client(t, src), kafkatest.Client(t, dst)
	if err := store.EnsureCompactedTopic(ctx, kadm.NewClient(dstCl), Topic("na-to-eu"), 1); err != nil {
		t.Fatal(err)
	}
	kafkatest.NewProducer(t, src).Produce(t, "LH.ORDERS", 1, mirrored)
	writeSyncs(t, dst, "na-to-eu", 0, mirrored)
	os := kadm.Offsets{}
	os.AddOffset("LH.ORDERS", 0, mirrored, -1) // the group read everything
	if _, err := kadm.NewClient(srcCl).CommitOffsets(ctx, "consumer-southamerica", os); err != nil {
		t.Fatal(err)
	}

	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tr, err := StartTranslator(rctx, []kgo.Opt{kgo.SeedBrokers(dst...)}, "na-to-eu")
	if err != nil {
		t.Fatal(err)
	}
	cp := ordersCheckpointer(srcCl, dstCl, tr)
	// Rounds until one translates the group's offset: each must either
	// wait for the whole history or translate against it.
	misses := 0
	for round := 0; round < 1000; round++ {
		st, err := cp.Round(rctx)
		if err != nil {
			t.Fatal(err)
		}
		if misses += st.Misses; st.Partitions > 0 {
			break
		}
	}
	stored, err := ReadStored(ctx, []kgo.Opt{kgo.SeedBrokers(dst...)}, "na-to-eu")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || len(stored[0].Partitions) != 1 {
		t.Fatalf("rounds after start: %d misses, stored %+v; want one checkpoint of LH.ORDERS[0]", misses, stored)
	}
	// Source offset 99999 is at target 199998: the group resumes at 199999.
	got := stored[0].Partitions[0]
	if misses != 0 || got.TargetOffset != 2*mirrored-1 || got.NotMirrored != 0 || !got.Exact {
		t.Fatalf("rounds after start: %d misses, then stored target offset %d (not mirrored %d, exact %v) for source offset %d; want no miss, then %d, 0, exact",
			misses, got.TargetOffset, got.NotMirrored, got.Exact, got.SourceOffset, 2*mirrored-1)
	}
}

// A translator that cannot read the sync topic is not ready: a checkpoint
// round waits for it as long as its context allows and then fails, naming
// the mirror, instead of translating against nothing.
func TestACheckpointRoundFailsNamingTheMirrorWhileItsSyncsCannotBeRead(t *testing.T) {
	unreachable := []string{kafkatest.FreeAddr(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := StartTranslator(ctx, []kgo.Opt{kgo.SeedBrokers(unreachable...), kgo.RetryTimeout(100 * time.Millisecond)}, "na-to-eu")
	if err != nil {
		t.Fatal(err)
	}
	cp := &Checkpointer{Mirror: agentapi.Mirror{Name: "na-to-eu"}, Translator: tr}
	rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer rcancel()
	_, err = cp.Round(rctx)
	if err == nil || !strings.Contains(err.Error(), "offset syncs of mirror na-to-eu not read up to their end") {
		t.Fatalf("round against an unreadable sync topic: %v; want an error naming mirror na-to-eu", err)
	}
	if tr.Ready() {
		t.Fatal("translator ready without having read its sync topic")
	}
}

// Another owner deletes records below a snapshot on the sync topic. A
// translator whose position was deleted reads on from the new log start,
// and one whose partition holds nothing committed any more is caught up:
// deleted records never stall it.
func TestTheTranslatorCatchesUpWhenSyncsAreDeletedUnderIt(t *testing.T) {
	dst := kafkatest.Cluster(t, "europe").Bootstrap()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := offsetsync.Topic("na-to-eu")
	kafkatest.CreateTopic(t, dst, topic, 1, nil)
	writeSyncs(t, dst, "na-to-eu", 0, 50_000)
	adm := kadm.NewClient(kafkatest.Client(t, dst))
	deleteAll := func() int64 {
		t.Helper()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		end, _ := ends.Lookup(topic, 0)
		del := kadm.Offsets{}
		del.Add(kadm.Offset{Topic: topic, Partition: 0, At: end.Offset})
		resp, err := adm.DeleteRecords(ctx, del)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		return end.Offset
	}

	// What the catch-up aimed at is gone and nothing replaced it.
	aim, err := listUnread(ctx, adm, topic, nil)
	if err != nil || aim[0] == 0 {
		t.Fatalf("last stable offset of %s: %v, %v; want one above 0", topic, aim, err)
	}
	deleteAll()
	if left, err := listUnread(ctx, adm, topic, aim); err != nil || len(left) != 0 {
		t.Fatalf("after deleting every record below %d: %v left to read (%v); want nothing", aim[0], left, err)
	}

	// A translator started just before records are deleted under it.
	writeSyncs(t, dst, "na-to-eu", 50_000, 50_000)
	tr, err := StartTranslator(ctx, []kgo.Opt{kgo.SeedBrokers(dst...)}, "na-to-eu")
	if err != nil {
		t.Fatal(err)
	}
	deleteAll()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := tr.WaitCaughtUp(wctx); err != nil {
		t.Fatal(err)
	}
	// Syncs written after the deletion are read from the new log start.
	writeSyncs(t, dst, "na-to-eu", 100_000, 10)
	kafkatest.Eventually(t, 30*time.Second, "the sync written after the deletion translated", func() (bool, string) {
		target, ok := tr.Log("LH.ORDERS", 0).Translate(100_009)
		return ok && target == 200_018, fmt.Sprintf("source offset 100009 -> %d, %v", target, ok)
	})
}

// TestNoCheckpointRoundTranslatesPastASyncOfANewerFormat: a sync a newer
// agent wrote in a format this one does not read is refused, so the index
// lacks its runs: rounds stop with an error that says why, rather than
// store checkpoints translated without them.
func TestNoCheckpointRoundTranslatesPastASyncOfANewerFormat(t *testing.T) {
	dst := kafkatest.Cluster(t, "europe").Bootstrap()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := offsetsync.Topic("na-to-eu")
	kafkatest.CreateTopic(t, dst, topic, 1, nil)
	writeSyncs(t, dst, "na-to-eu", 0, 10)
	newer := offsetsync.Sync{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS", Runs: []offsetsync.Run{{Source: 100, Target: 100, Count: 5}}, SourceNext: 105}
	v, err := newer.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Topic: topic, Key: newer.Key(), Value: v, Headers: []kgo.RecordHeader{{Key: recordformat.Header, Value: []byte("99")}}}
	if err := kafkatest.Client(t, dst).ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tr, err := StartTranslator(ctx, []kgo.Opt{kgo.SeedBrokers(dst...)}, "na-to-eu")
	if err != nil {
		t.Fatal(err)
	}
	cl := kafkatest.Client(t, dst)
	cp := &Checkpointer{Mirror: agentapi.Mirror{Name: "na-to-eu"}, Translator: tr, Source: cl, Target: cl,
		Groups: func(string) bool { return true }, Targets: func() map[string]string { return map[string]string{"LH.ORDERS": "LH.ORDERS"} }}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	if _, err := cp.Round(rctx); err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("round over a refused sync: %v; want an error saying a record's format is not read", err)
	}
}
