package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// A record of __kfo_state in a format version this agent does not read is
// refused, not skipped: nothing after it applies (the topic's order
// decides, and a failover op skipped would mislead), writes fail at once
// instead of waiting for it, and the error names topic, offset and version.
func TestAStateRecordOfAnUnknownVersionIsRefusedAndNothingAfterItApplies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.Cluster(t, "state")
	s, err := Open(ctx, kafkaconn.Conn{Name: "state", BootstrapServers: c.Bootstrap()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.PutMirror(ctx, agentapi.Mirror{Name: "a", Source: "na", Target: "eu"}); err != nil {
		t.Fatal(err)
	}
	before, _ := undecodable.Refused()
	cl := kafkatest.Client(t, c.Bootstrap(), kgo.DefaultProduceTopic(StateTopic))
	newer := &kgo.Record{Key: []byte(kindMirror + "b"), Value: []byte(`{"name":"b"}`), Headers: []kgo.RecordHeader{{Key: recordformat.Header, Value: []byte("2")}}}
	after := &kgo.Record{Key: []byte(kindMirror + "c"), Value: []byte(`{"name":"c"}`)}
	if err := cl.ProduceSync(ctx, newer, after).FirstErr(); err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 30*time.Second, "the record refused", func() (bool, string) {
		return s.FormatErr() != nil, "no error yet"
	})
	msg := s.FormatErr().Error()
	for _, want := range []string{StateTopic, "offset " + itoa(newer.Offset), "version 2", "reads up to 1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	for _, name := range []string{"b", "c"} {
		if _, err := s.GetMirror(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("mirror %s applied (%v), want nothing applied from the refused record on", name, err)
		}
	}
	if err := s.Sync(ctx); err == nil || !errors.Is(err, recordformat.ErrUnknownVersion) {
		t.Errorf("a write after the refused record answered %v, want the refusal", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the write waited for its deadline instead of failing")
	}
	now, last := undecodable.Refused()
	if now[StateTopic] != before[StateTopic]+1 || last == nil || !strings.Contains(last.Error(), "offset "+itoa(newer.Offset)) {
		t.Errorf("refused %v (last %v), want one more for %s at offset %d", now, last, StateTopic, newer.Offset)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// A recorded switch of the record format holds the highest version
// recorded, whatever the order of the records; writers stamp it, and a
// replica that replays the topic writes it too.
func TestTheRecordedFormatSwitchHoldsItsHighestVersion(t *testing.T) {
	recordformat.Reads = 3 // this replica stands for a build that reads up to 3
	defer func() { recordformat.Reads = recordformat.Current }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.Cluster(t, "state")
	conn := kafkaconn.Conn{Name: "state", BootstrapServers: c.Bootstrap()}
	s, err := Open(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Format() != recordformat.First {
		t.Fatalf("format %d before any switch, want %d", s.Format(), recordformat.First)
	}
	for _, v := range []int{3, 2} {
		if err := s.RecordFormat(ctx, FormatSwitch{Version: v, Replicas: []string{"a"}, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if s.Format() != 3 {
		t.Fatalf("format %d after switches to 3 then 2, want 3", s.Format())
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	recs := kafkatest.ReadAll(t, c.Bootstrap(), StateTopic)[0]
	versions := map[string]string{}
	for _, r := range recs {
		for _, h := range r.Headers {
			if h.Key == recordformat.Header {
				versions[string(r.Key)] = string(h.Value)
			}
		}
	}
	if versions[kindFormat+"3"] != "1" || versions[kindFormat+"2"] != "3" || versions[barrierKey] != "3" {
		t.Fatalf("versions written %v: want the first switch written in version 1, what follows it in 3", versions)
	}
	replay, err := Open(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	if replay.Format() != 3 || replay.FormatErr() != nil {
		t.Fatalf("a replica replaying the topic writes version %d (%v), want 3", replay.Format(), replay.FormatErr())
	}
}
