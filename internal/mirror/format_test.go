package mirror

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

func newerRecord(topic, key, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Offset: 7,
		Headers: []kgo.RecordHeader{{Key: recordformat.Header, Value: []byte("2")}}}
}

// A status record of a format version this agent does not read is refused
// and counted, not taken for what it seems to say.
func TestAStatusRecordOfAnUnknownVersionIsRefused(t *testing.T) {
	b := newBoard()
	before, _ := undecodable.Refused()
	b.apply(newerRecord(StatusTopic, "m/LH.ORDERS/0", `{"topic":"LH.ORDERS","partition":0,"updated_at":"2026-01-02T03:04:05Z"}`))
	b.apply(newerRecord(StatusTopic, "error/m", "boom"))
	if len(b.parts) != 0 || len(b.errors) != 0 {
		t.Fatalf("applied %v %v, want nothing", b.parts, b.errors)
	}
	now, last := undecodable.Refused()
	if now[StatusTopic] != before[StatusTopic]+2 || !strings.Contains(last.Error(), StatusTopic+" partition 0 offset 7 refused") || !strings.Contains(last.Error(), "version 2") {
		t.Fatalf("refused %v, last %v", now, last)
	}
}

// A task reading its progress meets an offset-sync record of a format
// version this agent does not read: the read fails, naming topic, offset
// and version, instead of resuming as if the record were not there (and,
// for a barrier, leaving its writer unfenced).
func TestAnOffsetSyncRecordOfAnUnknownVersionFailsTheRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := kafkatest.Cluster(t, "europe")
	opts := []kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}
	topic := offsetsync.Topic("m")
	s := offsetsync.Sync{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS", Runs: []offsetsync.Run{{Source: 0, Target: 0, Count: 1}}, SourceNext: 1}
	v, _ := s.Encode()
	for name, r := range map[string]*kgo.Record{
		"sync":    newerRecord(topic, string(s.Key()), string(v)),
		"barrier": newerRecord(topic, string(offsetsync.BarrierKey("task-0-of-9")), "x"),
		"chunk":   {Topic: topic, Key: []byte("snapshot/x/0"), Value: []byte{2, 0}},
	} {
		t.Run(name, func(t *testing.T) {
			mirror := "m." + name
			r.Topic = offsetsync.Topic(mirror)
			kafkatest.CreateTopic(t, c.Bootstrap(), r.Topic, 1, nil)
			if err := kafkatest.Client(t, c.Bootstrap()).ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
			err := readCommittedSyncs(ctx, opts, mirror, nil, func(int32, offsetsync.Sync) error { return nil })
			if !errors.Is(err, recordformat.ErrUnknownVersion) || !strings.Contains(err.Error(), r.Topic+" partition 0 offset 0") || !strings.Contains(err.Error(), "version 2") {
				t.Fatalf("reading the syncs: %v; want the record refused, by topic, offset and version", err)
			}
			if _, err := announcedWriters(ctx, opts, mirror); !errors.Is(err, recordformat.ErrUnknownVersion) {
				t.Fatalf("reading the writers: %v; want the record refused", err)
			}
		})
	}
}

// A replica's announcement is kept until its tombstone: the status topic
// holds no announcement of a replica forgotten.
func TestAForgottenReplicaIsNoLongerAnnounced(t *testing.T) {
	b := newBoard()
	b.apply(&kgo.Record{Topic: StatusTopic, Key: []byte(replicaPrefix + "gone"), Value: []byte(`{"agent":"gone","reads":1}`)})
	if got := b.Replicas(); len(got) != 1 || got[0].Agent != "gone" {
		t.Fatalf("replicas %+v, want the one announced", got)
	}
	b.apply(&kgo.Record{Topic: StatusTopic, Key: []byte(replicaPrefix + "gone")})
	if got := b.Replicas(); len(got) != 0 {
		t.Fatalf("replicas %+v after the tombstone, want none", got)
	}
}
