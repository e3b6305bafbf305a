// Package undecodable is the one way every reader of the agent's internal
// topics (state, status, offset syncs, checkpoints) handles a record it
// cannot decode: the record is skipped, but counted per topic, logged with
// its topic, partition and offset (never its contents), and shown in the
// metrics and in /readyz. A record of a format version the agent does not
// know (recordformat.VersionError) is refused instead: counted apart, logged
// as an error, and /readyz fails while any was met, since what it says is
// missing from what the agent knows.
package undecodable

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/recordformat"
)

// maxErrBytes bounds the decoding error logged: it may quote a little of
// the record, and a log line must not carry the record.
const maxErrBytes = 120

var (
	mu     sync.Mutex
	counts = map[string]int64{}
	vec    = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kfo_records_undecodable_total",
		Help: "Records of the agent's internal topics that failed to decode and were skipped, by topic.",
	}, []string{"topic"})
	refused    = map[string]int64{}
	lastRefuse error
	refusedVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kfo_records_refused_total",
		Help: "Records of the agent's internal topics refused for a format version this agent does not know, by topic.",
	}, []string{"topic"})
	logger = slog.Default()
)

// Register exposes the counts on reg and logs to log. The agent calls it
// once; readers report whether or not it was called.
func Register(reg prometheus.Registerer, log *slog.Logger) {
	mu.Lock()
	defer mu.Unlock()
	logger = log
	_ = reg.Register(vec) // a second registry in tests of one process
	_ = reg.Register(refusedVec)
}

// Report counts r as undecodable because of err, or as refused when err is
// a recordformat.VersionError.
func Report(r *kgo.Record, err error) {
	var ve *recordformat.VersionError
	if errors.As(err, &ve) {
		refuse(r, err)
		return
	}
	mu.Lock()
	counts[r.Topic]++
	log := logger
	mu.Unlock()
	vec.WithLabelValues(r.Topic).Inc()
	msg := err.Error()
	if len(msg) > maxErrBytes {
		msg = msg[:maxErrBytes] + "..."
	}
	log.Warn("record of an internal topic does not decode; skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", msg)
}

func refuse(r *kgo.Record, err error) {
	err = fmt.Errorf("record of %s partition %d offset %d refused: %w", r.Topic, r.Partition, r.Offset, err)
	mu.Lock()
	refused[r.Topic]++
	lastRefuse = err
	log := logger
	mu.Unlock()
	refusedVec.WithLabelValues(r.Topic).Inc()
	log.Error("record of an internal topic has a format version this agent does not read; not applied", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err.Error())
}

// Refused answers the records refused for their version so far, by topic,
// and the error of the last one (nil when none was).
func Refused() (map[string]int64, error) {
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(refused), lastRefuse
}

// Known reports whether this agent reads r's format version, and reports r
// when it does not.
func Known(r *kgo.Record) bool {
	if _, err := recordformat.Check(r); err != nil {
		Report(r, err)
		return false
	}
	return true
}

// Counts answers the records counted so far, by topic.
func Counts() map[string]int64 {
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(counts)
}

// JSON decodes r's value into v, and reports it when its version is unknown
// or it does not decode.
func JSON(r *kgo.Record, v any) bool {
	if !Known(r) {
		return false
	}
	if err := json.Unmarshal(r.Value, v); err != nil {
		Report(r, err)
		return false
	}
	return true
}
