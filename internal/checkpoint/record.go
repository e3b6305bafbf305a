package checkpoint

import (
	"strconv"
	"strings"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// Topic holds a mirror's checkpoints on the target, compacted by key.
func Topic(mirror string) string { return "__kfo_checkpoints." + mirror }

// Record is one stored checkpoint: a group's partition.
type Record struct {
	Group string `json:"group"`
	agentapi.PartitionCheckpoint
}

// Heartbeat says when a group's checkpoint was last confirmed, so that its
// age is known without rewriting unchanged checkpoints every round.
type Heartbeat struct {
	Group string    `json:"group"`
	At    time.Time `json:"at"`
	// Error is the last error checkpointing the group, empty when fine.
	Error string `json:"error,omitempty"`
}

// Keys: a NUL cannot appear in a group or topic name, so it separates.
const heartbeatPrefix = "\x01hb\x00"

func recordKey(group, topic string, partition int32) []byte {
	return []byte(group + "\x00" + topic + "\x00" + strconv.Itoa(int(partition)))
}

func heartbeatKey(group string) []byte { return []byte(heartbeatPrefix + group) }

func isHeartbeat(key []byte) bool { return strings.HasPrefix(string(key), heartbeatPrefix) }
