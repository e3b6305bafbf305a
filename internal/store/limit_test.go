package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func TestARecordOverTheStateTopicsMaxMessageBytesIsRefusedBeforeItIsWritten(t *testing.T) {
	c := kafkatest.Cluster(t, "state")
	limit := "4096"
	kafkatest.CreateTopic(t, c.Bootstrap(), StateTopic, 1, map[string]*string{"cleanup.policy": new("compact"), "max.message.bytes": &limit})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, kafkaconn.Conn{Name: "state", BootstrapServers: c.Bootstrap()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	noise := make([]byte, 6000)
	_, _ = rand.Read(noise)
	m := agentapi.Mirror{Name: "big", Source: "a", Target: "b", Topics: agentapi.Selector{Include: []string{base64.StdEncoding.EncodeToString(noise)}}}
	_, _, err = s.PutMirror(ctx, m)
	t.Logf("refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), "max.message.bytes") || !strings.Contains(err.Error(), limit) || !strings.Contains(err.Error(), "mirror/big") {
		t.Fatalf("a mirror record over the state topic's max.message.bytes %s: %v; want an error naming the record and the limit", limit, err)
	}
	// One that fits is written.
	m.Topics.Include = []string{strings.Repeat("x", 3000)}
	if _, _, err := s.PutMirror(ctx, m); err != nil {
		t.Fatalf("a mirror record of %d bytes under the limit of %s: %v", 3000, limit, err)
	}
}
