package offsetsync

import (
	"bytes"
	"strconv"
)

// Topic holds a mirror's offset syncs on the target. Task i writes only to
// partition i, so after fencing its zombies no other open transaction can sit
// on that partition and a task reads its whole progress back exactly.
func Topic(mirror string) string { return "__kfo_offset_syncs." + mirror }

// barrierPrefix starts the key of a task's barrier record: written after
// fencing, read back to know that every earlier sync has been seen.
const barrierPrefix = "barrier/"

// BarrierKey is the key of task's barrier record.
func BarrierKey(task int) []byte { return []byte(barrierPrefix + strconv.Itoa(task)) }

// IsBarrier reports whether a record key is a barrier, not a sync.
func IsBarrier(key []byte) bool { return bytes.HasPrefix(key, []byte(barrierPrefix)) }
