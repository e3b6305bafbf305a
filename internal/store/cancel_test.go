package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// TestAWriteWhoseCallerGaveUpFailsNoOtherWrite: writers share one client,
// and franz-go fails every buffered record of a partition when one of them
// is cancelled. A runner stopped mid-write (a mirror deleted) cancels its
// write; an API request writing at the same moment must not fail for it.
// (Seen: PUT /v1/clusters failed with "write to __kfo_state: context
// canceled" right after a mirror was deleted.)
func TestAWriteWhoseCallerGaveUpFailsNoOtherWrite(t *testing.T) {
	c := kafkatest.Cluster(t, "state")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, kafkaconn.Conn{Name: "state", BootstrapServers: c.Bootstrap()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	failed := 0
	for i := range 200 {
		var wg sync.WaitGroup
		var kept error
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wctx := ctx
				if w > 0 { // seven callers give up at once
					var stop context.CancelFunc
					wctx, stop = context.WithCancel(ctx)
					stop()
				}
				_, err := s.write(wctx, fmt.Sprintf("test/%d/%d", i, w), []byte(`{}`))
				if w == 0 {
					kept = err
				}
			}()
		}
		wg.Wait()
		if kept != nil {
			failed++
			t.Logf("round %d: %v", i, kept)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of 200 writes failed because other callers gave up on theirs", failed)
	}
}
