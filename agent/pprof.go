//go:build kfo_pprof

package main

// Built only with -tags kfo_pprof (BenchmarkAgentScale with
// KFO_BENCH_SCALE_HEAP_DIR): the released agent serves no profiles, since
// a heap profile can hold secrets.

import (
	"fmt"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

func init() {
	addr := os.Getenv("KFO_PPROF_LISTEN")
	if addr == "" || len(os.Args) < 2 || os.Args[1] != "run" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, "kafka-failover-agent: KFO_PPROF_LISTEN:", err)
		}
	}()
}
