package checkpoint

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// A failover commits the groups' offsets on the new active cluster itself.
// A checkpointer on a replica whose state lagged the failover must not
// commit after it: a round asks whether the mirror is frozen just before
// it commits, and commits nothing while it is.
func TestACheckpointRoundCommitsNothingWhileTheMirrorIsFrozen(t *testing.T) {
	src := kafkatest.Cluster(t, "north-america").Bootstrap()
	dst := kafkatest.Cluster(t, "europe").Bootstrap()
	ctx := context.Background()
	kafkatest.CreateTopic(t, src, "LH.ORDERS", 1, nil)
	kafkatest.CreateTopic(t, dst, "LH.ORDERS", 1, nil)
	srcCl, dstCl := kafkatest.Client(t, src), kafkatest.Client(t, dst)
	if err := store.EnsureCompactedTopic(ctx, kadm.NewClient(dstCl), Topic("na-to-eu"), 1); err != nil {
		t.Fatal(err)
	}
	// Source offsets 0-99 were mirrored to target offsets 0-99.
	tr := loadedTranslator(offsetsync.Sync{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 0,
		Runs: []offsetsync.Run{{Source: 0, Target: 0, Count: 100}}, SourceNext: 100})
	os := kadm.Offsets{}
	os.AddOffset("LH.ORDERS", 0, 40, -1)
	if _, err := kadm.NewClient(srcCl).CommitOffsets(ctx, "consumer-southamerica", os); err != nil {
		t.Fatal(err)
	}

	why := "a failover of policy loosehanger is under way"
	cp := ordersCheckpointer(srcCl, dstCl, tr)
	cp.Frozen = func(context.Context) (string, error) { return why, nil }
	committed := func() int64 {
		t.Helper()
		got, err := kadm.NewClient(dstCl).FetchOffsets(ctx, "consumer-southamerica")
		if errors.Is(err, kerr.GroupIDNotFound) { // kfake: a group never committed to
			return -1
		}
		if err != nil {
			t.Fatal(err)
		}
		o, ok := got.Lookup("LH.ORDERS", 0)
		if !ok {
			return -1
		}
		return o.At
	}

	st, err := cp.Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Committed != 0 || committed() != -1 {
		t.Fatalf("frozen: %d offsets committed, europe holds %d for the group; want none", st.Committed, committed())
	}

	why = ""
	if st, err = cp.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Committed != 1 || committed() != 40 {
		t.Fatalf("not frozen: %d offsets committed, europe holds %d for the group; want offset 40", st.Committed, committed())
	}
}

// The translator drops runs that source retention made unreadable: its
// memory follows the source's retention, not the mirror's age. Translation
// at and above the source's log start stays exact.
func TestTheTranslatorForgetsWhatSourceRetentionRemoved(t *testing.T) {
	src := kafkatest.Cluster(t, "north-america").Bootstrap()
	dst := kafkatest.Cluster(t, "europe").Bootstrap()
	ctx := context.Background()
	kafkatest.CreateTopic(t, src, "LH.ORDERS", 1, nil)
	kafkatest.NewProducer(t, src).Produce(t, "LH.ORDERS", 1, 300)
	srcCl := kafkatest.Client(t, src)
	// Three transactions of 100 records, each followed by a marker on the
	// target.
	tr := loadedTranslator()
	for i := range int64(3) {
		tr.add(offsetsync.Sync{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 0,
			Runs: []offsetsync.Run{{Source: i * 100, Target: i * 101, Count: 100}}, SourceNext: (i + 1) * 100})
	}
	before := tr.Log("LH.ORDERS", 0).TranslateCommitted(160)

	// Retention removed the source's first 150 records.
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: "LH.ORDERS", Partition: 0, At: 150})
	resp, err := kadm.NewClient(srcCl).DeleteRecords(ctx, del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	cp := ordersCheckpointer(srcCl, kafkatest.Client(t, dst), tr)
	if _, err := cp.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tr.Log("LH.ORDERS", 0).Len(); n != 2 {
		t.Fatalf("%d runs after the source's log start moved to 150, want 2 (the run ending at 100 dropped)", n)
	}
	if after := tr.Log("LH.ORDERS", 0).TranslateCommitted(160); after != before || after.Target != 161 {
		t.Fatalf("offset 160 translates to %+v after pruning, %+v before; want target 161 both times", after, before)
	}
}

// loadedTranslator answers a translator that has read all there is, an
// index given whole, holding syncs.
func loadedTranslator(syncs ...offsetsync.Sync) *Translator {
	tr := &Translator{caughtUp: make(chan struct{})}
	close(tr.caughtUp)
	for _, s := range syncs {
		tr.add(s)
	}
	return tr
}

// add applies s as if read from the sync topic.
func (t *Translator) add(s offsetsync.Sync) {
	v, _ := s.Encode()
	t.apply(&kgo.Record{Key: s.Key(), Value: v})
}

// ordersCheckpointer checkpoints every group of mirror na-to-eu, which
// mirrors LH.ORDERS from north-america to europe.
func ordersCheckpointer(src, dst *kgo.Client, tr *Translator) *Checkpointer {
	return &Checkpointer{
		Mirror:  agentapi.Mirror{Name: "na-to-eu", Source: "north-america", Target: "europe", RefreshInterval: "1h"},
		Groups:  func(string) bool { return true },
		Targets: func() map[string]string { return map[string]string{"LH.ORDERS": "LH.ORDERS"} },
		Source:  src, Target: dst, Translator: tr,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}
