// Package discovery is how the demo's applications find the active cluster:
// they ask the agent (GET /v1/policies/{policy}/active) every 500 ms and
// reconnect when the answer changes.
package discovery

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// Active is the agent's discovery answer.
type Active struct {
	Cluster          string   `json:"cluster"`
	BootstrapServers []string `json:"bootstrap_servers"`
	Epoch            int64    `json:"epoch"`
}

// Same says whether two answers name the same cluster at the same epoch.
func (a Active) Same(b Active) bool { return a.Cluster == b.Cluster && a.Epoch == b.Epoch }

// Watcher asks one agent about one policy.
type Watcher struct {
	URL, Policy, Token string
	Every              time.Duration
}

// Flags registers -agent, -policy and -token-file; the token is read from
// the file, or from KAFKA_FAILOVER_TOKEN when no file is given.
func Flags() func() (*Watcher, error) {
	url := flag.String("agent", "http://127.0.0.1:18080", "the agent's URL")
	policy := flag.String("policy", "loosehanger", "the failover policy to follow")
	tokenFile := flag.String("token-file", "", "file holding the agent's bearer token (default: $KAFKA_FAILOVER_TOKEN)")
	return func() (*Watcher, error) {
		token := os.Getenv("KAFKA_FAILOVER_TOKEN")
		if *tokenFile != "" {
			b, err := os.ReadFile(*tokenFile)
			if err != nil {
				return nil, err
			}
			token = strings.TrimSpace(string(b))
		}
		return &Watcher{URL: strings.TrimRight(*url, "/"), Policy: *policy, Token: token, Every: 500 * time.Millisecond}, nil
	}
}

// Get asks the agent once.
func (w *Watcher) Get(ctx context.Context) (Active, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", w.URL+"/v1/policies/"+w.Policy+"/active", nil)
	if err != nil {
		return Active{}, err
	}
	req.Header.Set("Authorization", "Bearer "+w.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Active{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Active{}, fmt.Errorf("discovery: HTTP %d", resp.StatusCode)
	}
	var a Active
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return Active{}, err
	}
	if a.Cluster == "" || len(a.BootstrapServers) == 0 {
		return Active{}, fmt.Errorf("discovery: empty answer")
	}
	return a, nil
}

// First waits until the agent answers.
func (w *Watcher) First(ctx context.Context) (Active, error) {
	for {
		a, err := w.Get(ctx)
		if err == nil {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return Active{}, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(w.Every):
		}
	}
}

// Watch sends each answer that differs from cur (cluster or epoch) on the
// returned channel, polling every w.Every until ctx ends. Errors (the agent
// restarting) are skipped: the applications keep their connection.
func (w *Watcher) Watch(ctx context.Context, cur Active) <-chan Active {
	ch := make(chan Active, 1)
	go func() {
		defer close(ch)
		t := time.NewTicker(w.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			a, err := w.Get(ctx)
			if err != nil || a.Same(cur) {
				continue
			}
			cur = a
			select {
			case ch <- a:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}
