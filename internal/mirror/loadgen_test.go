package mirror_test

// The lag benchmark's load generator runs in a process of its own: this test
// binary, started again with loadgenEnv set. Its CPU time and heap are then
// not the mirror's, as in a real deployment where the applications that
// produce are elsewhere.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// loadgenEnv holds a loadSpec as JSON when this binary is a load generator.
const loadgenEnv = "KFO_BENCH_LOADGEN"

func TestMain(m *testing.M) {
	if spec := os.Getenv(loadgenEnv); spec != "" {
		os.Exit(loadgenMain(spec))
	}
	os.Exit(m.Run())
}

// loadSpec is what the load generator produces.
type loadSpec struct {
	Bootstrap  []string      `json:"bootstrap"`
	Topic      string        `json:"topic"`
	Partitions int           `json:"partitions"`
	Rate       float64       `json:"rate"` // records/s; 0: as fast as the source takes them
	Duration   time.Duration `json:"duration"`
	FirstSeq   int64         `json:"first_seq"` // keys go on from here
}

// loadResult is the load generator's last line on stdout.
type loadResult struct {
	Sent  int64     `json:"sent"`
	Start time.Time `json:"start"` // the first Produce call
	End   time.Time `json:"end"`   // the last Produce call
	Acked time.Time `json:"acked"` // every record acknowledged by the source
	Err   string    `json:"err,omitempty"`
}

func (r loadResult) rate() float64 { return float64(r.Sent) / r.End.Sub(r.Start).Seconds() }

// loadgenMain produces spec's load, with the produce time (Unix ns) in each
// record's producedHeader, and prints "started" when it begins and a
// loadResult when every record is acknowledged.
func loadgenMain(specJSON string) int {
	var spec loadSpec
	res := loadResult{}
	defer func() {
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
	}()
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		res.Err = fmt.Sprintf("%s: %v", loadgenEnv, err)
		return 1
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(spec.Bootstrap...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Records leave as soon as the previous request is answered,
		// so that the lag is the copy's, not the producer's linger.
		kgo.ProducerLinger(0),
	)
	if err != nil {
		res.Err = err.Error()
		return 1
	}
	defer producer.Close()
	ctx := context.Background()
	// Values are made beforehand, so that the load generator spends as
	// little of the machine as it can.
	rng := rand.New(rand.NewPCG(3, 4))
	values := make([][]byte, 4096)
	for i := range values {
		values[i] = kafkatest.DataSetValue(rng, int32(i%spec.Partitions), i)
	}
	var firstErr atomic.Value
	seq := spec.FirstSeq
	produce := func() {
		now := time.Now()
		p := int32(seq % int64(spec.Partitions))
		producer.Produce(ctx, &kgo.Record{
			Topic: spec.Topic, Partition: p,
			Key:       fmt.Appendf(nil, "order-%d-%d", p, seq),
			Value:     values[seq%int64(len(values))],
			Headers:   []kgo.RecordHeader{{Key: producedHeader, Value: strconv.AppendInt(nil, now.UnixNano(), 10)}},
			Timestamp: now,
		}, func(_ *kgo.Record, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		})
		seq++
	}

	fmt.Println("started")
	res.Start = time.Now()
	if spec.Rate <= 0 {
		// Unpaced: Produce blocks while franz-go's buffer is full, so
		// the rate is what the source accepts.
		for time.Since(res.Start) < spec.Duration {
			for range 64 {
				produce()
			}
		}
	} else {
		// Paced: every millisecond, catch up with rate x elapsed. The
		// loop ends on time even when the producer cannot keep up.
		tick := time.NewTicker(time.Millisecond)
		for time.Since(res.Start) < spec.Duration {
			due := spec.FirstSeq + int64(spec.Rate*time.Since(res.Start).Seconds())
			for seq < due && time.Since(res.Start) < spec.Duration {
				produce()
			}
			<-tick.C
		}
		tick.Stop()
	}
	res.End, res.Sent = time.Now(), seq-spec.FirstSeq
	flushCtx, cancel := context.WithTimeout(ctx, benchWait)
	defer cancel()
	if err := producer.Flush(flushCtx); err != nil {
		res.Err = fmt.Sprintf("flush: %v", err)
		return 1
	}
	res.Acked = time.Now()
	if err, _ := firstErr.Load().(error); err != nil {
		res.Err = fmt.Sprintf("produce to the source: %v", err)
		return 1
	}
	return 0
}

// loadProc is a running load generator.
type loadProc struct {
	cmd     *exec.Cmd
	started time.Time
	lines   *bufio.Scanner
}

// startLoad runs a load generator and returns once it has begun producing.
func startLoad(b *testing.B, spec loadSpec) *loadProc {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), loadgenEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the load generator: %v", err)
	}
	l := &loadProc{cmd: cmd, lines: bufio.NewScanner(out)}
	b.Cleanup(func() {
		if l.cmd != nil {
			_ = l.cmd.Process.Kill()
			_ = l.cmd.Wait()
		}
	})
	if !l.lines.Scan() || l.lines.Text() != "started" {
		b.Fatalf("load generator: want %q, got %q (%v)", "started", l.lines.Text(), l.lines.Err())
	}
	l.started = time.Now()
	return l
}

// wait answers the load generator's result once every record it produced
// is acknowledged by the source.
func (l *loadProc) wait(b *testing.B) loadResult {
	b.Helper()
	var res loadResult
	for l.lines.Scan() {
		if err := json.Unmarshal(l.lines.Bytes(), &res); err != nil {
			b.Fatalf("load generator printed %q: %v", l.lines.Text(), err)
		}
	}
	err := l.cmd.Wait()
	l.cmd = nil
	if res.Err != "" || err != nil {
		b.Fatalf("load generator: %s (%v)", res.Err, err)
	}
	return res
}
