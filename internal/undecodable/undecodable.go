// Package undecodable is the one way every reader of the agent's internal
// topics (state, status, offset syncs, checkpoints) handles a record it
// cannot decode: the record is skipped, but counted per topic, logged with
// its topic, partition and offset (never its contents), and shown in the
// metrics and in /readyz.
package undecodable

import (
	"encoding/json"
	"log/slog"
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
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
	logger = slog.Default()
)

// Register exposes the counts on reg and logs to log. The agent calls it
// once; readers report whether or not it was called.
func Register(reg prometheus.Registerer, log *slog.Logger) {
	mu.Lock()
	defer mu.Unlock()
	logger = log
	_ = reg.Register(vec) // a second registry in tests of one process
}

// Report counts r as undecodable because of err.
func Report(r *kgo.Record, err error) {
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

// Counts answers the records counted so far, by topic.
func Counts() map[string]int64 {
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(counts)
}

// JSON decodes r's value into v, and reports it when it does not decode.
func JSON(r *kgo.Record, v any) bool {
	if err := json.Unmarshal(r.Value, v); err != nil {
		Report(r, err)
		return false
	}
	return true
}
