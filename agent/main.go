// Command kafka-failover-agent runs beside the standby Kafka cluster: it
// mirrors topics exactly once and serves the HTTP API that the Terraform
// provider calls. `dev-cluster` runs an embedded Kafka-compatible cluster.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=..." (make
// build, and the release).
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kafka-failover-agent:", err)
		os.Exit(1)
	}
}
