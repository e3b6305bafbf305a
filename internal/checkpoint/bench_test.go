package checkpoint

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// BenchmarkCheckpointRound1000Groups100Partitions measures checkpoint rounds
// for 1000 groups that each committed offsets on 100 partitions: the first
// round (every checkpoint stored and committed on the target), a steady
// round (nothing moved), and a busy round (every group moved on every
// partition). The goal is a round well under the 1s default interval.
func BenchmarkCheckpointRound1000Groups100Partitions(b *testing.B) {
	const groups, partitions, mirrored = 1000, 100, 1000
	bin := kafkatest.BuildAgent(b, "../../agent")
	src := kafkatest.StartDevClusterProcess(b, bin, "north-america").Bootstrap
	dst := kafkatest.StartDevClusterProcess(b, bin, "europe").Bootstrap
	ctx := context.Background()
	kafkatest.CreateTopic(b, src, "LH.BENCH", partitions, nil)
	kafkatest.CreateTopic(b, dst, "LH.BENCH", partitions, nil)
	srcCl, dstCl := kafkatest.Client(b, src), kafkatest.Client(b, dst)
	if err := store.EnsureCompactedTopic(ctx, kadm.NewClient(dstCl), Topic("bench"), 1); err != nil {
		b.Fatal(err)
	}

	// Offset syncs as a mirror writes them: transactions of 100 records,
	// each followed by one marker offset on the target.
	tr := loadedTranslator()
	for p := int32(0); p < partitions; p++ {
		for txn := int64(0); txn < mirrored/100; txn++ {
			tr.add(offsetsync.Sync{Topic: "LH.BENCH", TargetTopic: "LH.BENCH", Partition: p,
				Runs: []offsetsync.Run{{Source: txn * 100, Target: txn * 101, Count: 100}}, SourceNext: (txn + 1) * 100})
		}
	}
	commitAll := func(shift int64) {
		adm := kadm.NewClient(srcCl)
		for g := range groups {
			os := kadm.Offsets{}
			for p := int32(0); p < partitions; p++ {
				os.AddOffset("LH.BENCH", p, (int64(g)*7+int64(p)*13+shift)%mirrored, -1)
			}
			if _, err := adm.CommitOffsets(ctx, fmt.Sprintf("consumer-%04d", g), os); err != nil {
				b.Fatal(err)
			}
		}
	}
	commitAll(0)

	cp := &Checkpointer{
		Mirror:  agentapi.Mirror{Name: "bench", Source: "north-america", Target: "europe", RefreshInterval: "1h"},
		Groups:  func(g string) bool { return strings.HasPrefix(g, "consumer-") },
		Targets: func() map[string]string { return map[string]string{"LH.BENCH": "LH.BENCH"} },
		Source:  srcCl, Target: dstCl, Translator: tr,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	cpuOf := map[string]time.Duration{}
	round := func(what string) time.Duration {
		start, startCPU := time.Now(), cpu()
		st, err := cp.Round(ctx)
		d := time.Since(start)
		cpuOf[what] = cpu() - startCPU
		if err != nil {
			b.Fatalf("%s round: %v", what, err)
		}
		if st.Groups != groups || st.Partitions != groups*partitions || st.GroupErrors != 0 {
			b.Fatalf("%s round checkpointed %d groups / %d partitions with %d group errors, want %d / %d / 0", what, st.Groups, st.Partitions, st.GroupErrors, groups, groups*partitions)
		}
		fmt.Printf("checkpoint round (%s): %d groups x %d partitions in %s (agent CPU %s); %d checkpoints written, %d offsets committed on the target\n",
			what, groups, partitions, d.Round(time.Millisecond), cpuOf[what].Round(time.Millisecond), st.Written, st.Committed)
		return d
	}
	b.ResetTimer()
	cold := round("first")
	steady := round("steady")
	commitAll(1)
	busy := round("all moved")
	b.StopTimer()

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := float64(ms.HeapAlloc) / (1 << 20)
	runtime.KeepAlive(cp) // measured with its state alive
	fmt.Printf("checkpoint state for %d groups x %d partitions: heap %.1f MiB in the agent process (clusters run in their own processes)\n", groups, partitions, heap)
	b.ReportMetric(float64(cold.Milliseconds()), "first-round-ms")
	b.ReportMetric(float64(steady.Milliseconds()), "steady-round-ms")
	b.ReportMetric(float64(busy.Milliseconds()), "busy-round-ms")
	b.ReportMetric(heap, "heap-MiB")
	b.ReportMetric(float64(cpuOf["steady"].Milliseconds()), "steady-round-agent-cpu-ms")
	b.ReportMetric(float64(cpuOf["all moved"].Milliseconds()), "busy-round-agent-cpu-ms")
}
