package offsetsync

import (
	"bytes"
)

// Topic holds a mirror's offset syncs on the target. Task i writes to
// partition i whatever the mirror's tasks_max; a task reads every partition
// back, so a source partition's progress is found whichever task wrote it.
func Topic(mirror string) string { return "__kfo_offset_syncs." + mirror }

// barrierPrefix starts the key of a barrier record: a writer announces
// itself with one, committed before it writes any sync, so that a reader of
// the topic knows every writer it must fence.
const barrierPrefix = "barrier/"

// BarrierKey is the key of a writer's barrier record.
func BarrierKey(writer string) []byte { return []byte(barrierPrefix + writer) }

// IsBarrier reports whether a record key is a barrier, not a sync.
func IsBarrier(key []byte) bool { return bytes.HasPrefix(key, []byte(barrierPrefix)) }

// BarrierWriter answers the writer a barrier key announces.
func BarrierWriter(key []byte) string { return string(bytes.TrimPrefix(key, []byte(barrierPrefix))) }

// TopicConfigs are the configs of a sync topic: records are removed only by
// their writer, with DeleteRecords once a snapshot restates them (which
// Apache Kafka allows on a delete-policy topic only); time and size never
// remove any. Compaction never removed a sync that mattered either: keys
// are unique, and a run-less sync it drops is superseded by the next.
func TopicConfigs() map[string]string {
	return map[string]string{"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
}
