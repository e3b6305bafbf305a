package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Go's collector lets the heap grow to twice what is live before it
// collects (GOGC=100). At 1,000 partitions and 1,000 groups checkpointed
// every second the agent keeps about 50 MiB live and makes about 100 MiB/s
// of garbage (each round's offsets and checkpoint records), so its RSS went
// up to 150 MiB against a goal of 128. Unless GOMEMLIMIT is set, the agent
// holds the Go runtime's memory to a soft limit of minMemoryLimit, or one
// and a half times the live heap when that is more: the collector then works
// harder near the limit, and a heap that outgrows it raises the limit with
// it rather than making the collector run without end.
const (
	minMemoryLimit      = 96 << 20
	memoryLimitOverLive = 1.5
	memoryLimitEvery    = 5 * time.Second
)

// memoryLimitFor answers the soft limit for a live heap of live bytes.
func memoryLimitFor(live uint64) int64 {
	return max(minMemoryLimit, int64(float64(live)*memoryLimitOverLive))
}

// holdMemory sets the soft memory limit and follows the live heap with it
// until ctx ends; with GOMEMLIMIT set it does nothing, the runtime having
// applied it.
func holdMemory(ctx context.Context, getenv func(string) string) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(memoryLimitFor(live[0].Value.Uint64()))
		}
	}
	set()
	go func() {
		t := time.NewTicker(memoryLimitEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				set()
			}
		}
	}()
}
