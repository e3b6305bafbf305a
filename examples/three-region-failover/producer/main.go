// Command producer is the demo's sample application: it writes
// Loosehanger-style order events (JSON with an order number) to LH.ORDERS,
// LH.CANCELLATIONS and LH.STOCK, creating the topics when they are missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var topics = []string{"LH.ORDERS", "LH.CANCELLATIONS", "LH.STOCK"}

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:19092", "bootstrap servers of the active cluster")
	n := flag.Int("n", 300, "orders to produce")
	rate := flag.Duration("every", 10*time.Millisecond, "pause between orders")
	flag.Parse()

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*bootstrap, ",")...))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, 3, -1, nil, topics...)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range resp {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			log.Fatalf("create %s: %v", r.Topic, r.Err)
		}
	}
	for i := 1; i <= *n; i++ {
		order := fmt.Sprintf("LH-%06d", i)
		topic := topics[i%len(topics)]
		value := fmt.Sprintf(`{"order":%q,"item":"loosehanger-%d","quantity":%d,"at":%q}`, order, i%7, 1+i%3, time.Now().UTC().Format(time.RFC3339Nano))
		rec := &kgo.Record{Topic: topic, Key: []byte(order), Value: []byte(value), Headers: []kgo.RecordHeader{{Key: "app", Value: []byte("south-america-producer")}}}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			log.Fatalf("produce %s to %s: %v", order, topic, err)
		}
		if i%100 == 0 {
			fmt.Printf("producer: %d orders written to %s\n", i, *bootstrap)
		}
		time.Sleep(*rate)
	}
}
