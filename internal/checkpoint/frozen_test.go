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
	tr := &Translator{}
	s := offsetsync.Sync{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 0,
		Runs: []offsetsync.Run{{Source: 0, Target: 0, Count: 100}}, SourceNext: 100}
	v, _ := s.Encode()
	tr.apply(&kgo.Record{Key: s.Key(), Value: v})
	os := kadm.Offsets{}
	os.AddOffset("LH.ORDERS", 0, 40, -1)
	if _, err := kadm.NewClient(srcCl).CommitOffsets(ctx, "consumer-southamerica", os); err != nil {
		t.Fatal(err)
	}

	why := "a failover of policy loosehanger is under way"
	cp := &Checkpointer{
		Mirror:  agentapi.Mirror{Name: "na-to-eu", Source: "north-america", Target: "europe", RefreshInterval: "1h"},
		Groups:  func(string) bool { return true },
		Targets: func() map[string]string { return map[string]string{"LH.ORDERS": "LH.ORDERS"} },
		Source:  srcCl, Target: dstCl, Translator: tr,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Frozen: func(context.Context) (string, error) { return why, nil },
	}
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
