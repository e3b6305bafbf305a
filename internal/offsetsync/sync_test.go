package offsetsync

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func pairs(st ...int64) []Pair {
	ps := make([]Pair, 0, len(st)/2)
	for i := 0; i+1 < len(st); i += 2 {
		ps = append(ps, Pair{Source: st[i], Target: st[i+1]})
	}
	return ps
}

func TestRunsOfCompressesIntoFewestRuns(t *testing.T) {
	tests := []struct {
		name  string
		pairs []Pair
		want  []Run
	}{
		{"empty transaction has no runs", nil, nil},
		{"single record is one run", pairs(7, 3), []Run{{7, 3, 1}}},
		{"contiguous on both sides is one run", pairs(0, 10, 1, 11, 2, 12), []Run{{0, 10, 3}}},
		{"source marker gap starts a run", pairs(0, 0, 1, 1, 3, 2, 4, 3), []Run{{0, 0, 2}, {3, 2, 2}}},
		{"target gap starts a run", pairs(0, 0, 1, 2, 2, 3), []Run{{0, 0, 1}, {1, 2, 2}}},
		{"compaction holes start runs", pairs(0, 0, 4, 1, 5, 2, 9, 3), []Run{{0, 0, 1}, {4, 1, 2}, {9, 3, 1}}},
		{"gap on both sides at once starts a run", pairs(0, 0, 2, 2), []Run{{0, 0, 1}, {2, 2, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RunsOf(tt.pairs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("RunsOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRunsOfRejectsNonIncreasingInput(t *testing.T) {
	tests := []struct {
		name  string
		pairs []Pair
	}{
		{"repeated source", pairs(0, 0, 0, 1)},
		{"decreasing source", pairs(5, 0, 4, 1)},
		{"repeated target", pairs(0, 3, 1, 3)},
		{"decreasing target", pairs(0, 3, 1, 2)},
		{"negative source", pairs(-1, 0)},
		{"negative target", pairs(0, -1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RunsOf(tt.pairs); !errors.Is(err, ErrInvalid) {
				t.Fatalf("RunsOf(%v) error = %v, want ErrInvalid", tt.pairs, err)
			}
		})
	}
}

func TestSyncKeyIsTopicPartitionFirstSourceOffset(t *testing.T) {
	tests := []struct {
		name string
		sync Sync
		want string
	}{
		{"first run's source offset", Sync{Topic: "orders", Partition: 3, Runs: []Run{{42, 7, 2}, {45, 9, 1}}, SourceNext: 47}, "orders/3/42"},
		{"source next when the transaction copied nothing", Sync{Topic: "orders", Partition: 0, SourceNext: 12}, "orders/0/12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.sync.Key()); got != tt.want {
				t.Fatalf("Key = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSyncEncodeDecodeRoundTrips(t *testing.T) {
	s := Sync{Topic: "orders", Partition: 2, Runs: []Run{{0, 5, 3}, {4, 9, 1}}, SourceNext: 6, TargetTopic: "src.orders"}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"topic"`, `"partition"`, `"runs"`, `"source_next"`, `"target_topic"`, `"source"`, `"target"`, `"count"`} {
		if !bytes.Contains(b, []byte(field)) {
			t.Errorf("encoding %s lacks field %s", b, field)
		}
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("Decode(Encode(s)) = %+v, want %+v", got, s)
	}
	if _, err := Decode([]byte("{not json")); err == nil {
		t.Fatal("Decode accepted malformed JSON")
	}
}
