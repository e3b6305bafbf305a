package main

import (
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// The tests in this file treat the API the way an attacker or a careless
// client would: too many connections, bodies too large, requests that can
// never succeed, and a state cluster that stops answering.

// answersWithin sends one request on a fresh connection and answers its
// status, or 0 and the error when none came within timeout.
func answersWithin(url, path, authorization string, timeout time.Duration) (int, error) {
	cl := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest("GET", url+path, nil)
	if err != nil {
		return 0, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestAFloodOfIdleConnectionsLeavesHealthzAndAuthorisedRequestsAnswering(t *testing.T) {
	t.Parallel()
	const nofile, flood = 300, 400 // the agent's descriptor limit, and more idle connections than it
	state := kafkatest.Cluster(t, "state")
	a := startAgentWith(t, state.BootstrapString(), []string{"KFO_TEST_NOFILE=300"})
	addr := a.url[len("http://"):]
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	// Connections that send nothing, or half a request head and no more:
	// each holds a descriptor of the agent until the agent closes it.
	for i := range flood {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(held), err)
		}
		held = append(held, c)
		if i%2 == 1 {
			_, _ = c.Write([]byte("GET /v1/clusters HTTP/1.1\r\nHost: agent\r\n"))
		}
	}
	// The agent gets to accept the whole flood before anything is asked.
	kafkatest.Eventually(t, 10*time.Second, "the agent accepted the flood", func() (bool, string) {
		n, err := openFiles(a)
		return err == nil && n >= nofile/2, "open files " + strconv.Itoa(n)
	})
	for i := range 3 {
		if code, err := answersWithin(a.url, "/healthz", "", 5*time.Second); code != http.StatusOK {
			t.Fatalf("GET /healthz %d under a flood of %d idle connections (fd limit %d): %d %v", i, flood, nofile, code, err)
		}
		if code, err := answersWithin(a.url, "/v1/clusters", "Bearer "+testToken, 5*time.Second); code != http.StatusOK {
			t.Fatalf("an authorised GET /v1/clusters %d under a flood of %d idle connections (fd limit %d): %d %v", i, flood, nofile, code, err)
		}
	}
	n, _ := openFiles(a)
	t.Logf("under a flood of %d idle and half-sent connections the agent holds %d files of its limit %d and answers", flood, n, nofile)
}

// openFiles counts the agent process's open file descriptors.
func openFiles(a *agentProc) (int, error) {
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(a.cmd.Process.Pid) + "/fd")
	return len(fds), err
}
