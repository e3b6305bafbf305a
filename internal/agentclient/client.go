// Package agentclient is the Terraform provider's client for the agent's
// HTTP API. It retries connection errors and 5xx answers with backoff, never
// a 4xx, and hands the agent's JSON error to the caller as an *Error.
package agentclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// Defaults for Config fields left zero.
const (
	DefaultRetryMax       = 4
	DefaultRequestTimeout = 30 * time.Second
	DefaultRetryWaitMin   = 500 * time.Millisecond
	DefaultRetryWaitMax   = 10 * time.Second
)

// Config says how to reach an agent.
type Config struct {
	// BaseURL is the agent's address, e.g. "https://agent.europe:8443".
	BaseURL string
	// Token is the agent's bearer token.
	Token string
	// CAPEM, when set, is the only CA trusted for an https agent.
	CAPEM string
	// RetryMax is how many times a failed request is retried; 0 means
	// DefaultRetryMax, a negative value means never.
	RetryMax int
	// RequestTimeout bounds each attempt; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// RetryWaitMin and RetryWaitMax bound the backoff between attempts.
	RetryWaitMin, RetryWaitMax time.Duration
}

// Client talks to one agent. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	token    string
	http     *http.Client
	retryMax int
	waitMin  time.Duration
	waitMax  time.Duration
}

// New checks cfg and builds a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("agent URL %q is not an http:// or https:// address, for example https://agent.europe:8443", cfg.BaseURL)
	}
	if cfg.Token == "" {
		return nil, errors.New("the agent token is empty")
	}
	transport := cleanhttp.DefaultPooledTransport()
	if cfg.CAPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(cfg.CAPEM)) {
			return nil, errors.New("the CA PEM holds no certificate: paste the CA certificate, starting with -----BEGIN CERTIFICATE-----")
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c := &Client{
		base:     u,
		token:    cfg.Token,
		retryMax: cfg.RetryMax,
		waitMin:  cfg.RetryWaitMin,
		waitMax:  cfg.RetryWaitMax,
	}
	switch {
	case c.retryMax == 0:
		c.retryMax = DefaultRetryMax
	case c.retryMax < 0:
		c.retryMax = 0
	}
	if c.waitMin <= 0 {
		c.waitMin = DefaultRetryWaitMin
	}
	if c.waitMax <= 0 {
		c.waitMax = DefaultRetryWaitMax
	}
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	c.http = &http.Client{Transport: transport, Timeout: timeout}
	return c, nil
}

// Error is an answer of the agent other than 2xx.
type Error struct {
	Method     string
	Path       string
	StatusCode int
	// Detail is the agent's error body; Field names the offending field,
	// e.g. "bootstrap_servers[1]", when one is to blame.
	Detail agentapi.ErrorDetail
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: agent answered %d", e.Method, e.Path, e.StatusCode)
	if e.Detail.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Detail.Field)
	}
	if e.Detail.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Detail.Message)
	}
	return b.String()
}

// IsNotFound says whether err is the agent's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// PutCluster creates or replaces a cluster and answers what the agent stored.
func (c *Client) PutCluster(ctx context.Context, cl agentapi.Cluster) (agentapi.Cluster, error) {
	var out agentapi.Cluster
	err := c.do(ctx, http.MethodPut, "/v1/clusters/"+url.PathEscape(cl.Name), cl, &out)
	return out, err
}

// GetCluster answers a stored cluster, without its secrets.
func (c *Client) GetCluster(ctx context.Context, name string) (agentapi.Cluster, error) {
	var out agentapi.Cluster
	err := c.do(ctx, http.MethodGet, "/v1/clusters/"+url.PathEscape(name), nil, &out)
	return out, err
}

// DeleteCluster deletes a cluster.
func (c *Client) DeleteCluster(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/clusters/"+url.PathEscape(name), nil, nil)
}

// PutMirror creates or updates a mirror and answers what the agent stored,
// defaults filled in.
func (c *Client) PutMirror(ctx context.Context, m agentapi.Mirror) (agentapi.Mirror, error) {
	var out agentapi.Mirror
	err := c.do(ctx, http.MethodPut, "/v1/mirrors/"+url.PathEscape(m.Name), m, &out)
	return out, err
}

// GetMirror answers a stored mirror.
func (c *Client) GetMirror(ctx context.Context, name string) (agentapi.Mirror, error) {
	var out agentapi.Mirror
	err := c.do(ctx, http.MethodGet, "/v1/mirrors/"+url.PathEscape(name), nil, &out)
	return out, err
}

// DeleteMirror deletes a mirror.
func (c *Client) DeleteMirror(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/mirrors/"+url.PathEscape(name), nil, nil)
}

// MirrorStatus answers the mirror's state and lag per partition.
func (c *Client) MirrorStatus(ctx context.Context, name string) (agentapi.MirrorStatus, error) {
	var out agentapi.MirrorStatus
	err := c.do(ctx, http.MethodGet, "/v1/mirrors/"+url.PathEscape(name)+"/status", nil, &out)
	return out, err
}

// GroupCheckpoints answers a consumer group's last checkpoint through a
// mirror: per partition, the committed source offset, the translated target
// offset and the records read but not mirrored yet.
func (c *Client) GroupCheckpoints(ctx context.Context, mirror, group string) (agentapi.GroupCheckpoints, error) {
	var out agentapi.GroupCheckpoints
	err := c.do(ctx, http.MethodGet, "/v1/mirrors/"+url.PathEscape(mirror)+"/groups/"+url.PathEscape(group), nil, &out)
	return out, err
}

// PutPolicy creates or updates a failover policy and answers what the agent
// stored, defaults and live state (active cluster, epoch) filled in.
func (c *Client) PutPolicy(ctx context.Context, p agentapi.Policy) (agentapi.Policy, error) {
	var out agentapi.Policy
	err := c.do(ctx, http.MethodPut, "/v1/policies/"+url.PathEscape(p.Name), p, &out)
	return out, err
}

// GetPolicy answers a stored policy with its active cluster, epoch, standby
// readiness and last failover.
func (c *Client) GetPolicy(ctx context.Context, name string) (agentapi.Policy, error) {
	var out agentapi.Policy
	err := c.do(ctx, http.MethodGet, "/v1/policies/"+url.PathEscape(name), nil, &out)
	return out, err
}

// DeletePolicy deletes a policy; the active cluster stays where it is. With
// forgetDiverged it deletes it even while a cluster is diverged, which
// forgets the records only that cluster holds.
func (c *Client) DeletePolicy(ctx context.Context, name string, forgetDiverged bool) error {
	cl := call{method: http.MethodDelete, path: "/v1/policies/" + url.PathEscape(name)}
	if forgetDiverged {
		cl.query = url.Values{"forget_diverged": {"true"}}
	}
	return c.send(ctx, cl)
}

// Active answers the discovery record of a policy: the active cluster, its
// bootstrap servers and the epoch.
func (c *Client) Active(ctx context.Context, policy string) (agentapi.Active, error) {
	var out agentapi.Active
	err := c.do(ctx, http.MethodGet, "/v1/policies/"+url.PathEscape(policy)+"/active", nil, &out)
	return out, err
}

// Forecast answers what a failover of policy to the cluster `to` would lose
// and re-read now, without doing it.
func (c *Client) Forecast(ctx context.Context, policy, to string) (agentapi.Forecast, error) {
	var out agentapi.Forecast
	err := c.send(ctx, call{
		method: http.MethodGet,
		path:   "/v1/policies/" + url.PathEscape(policy) + "/forecast",
		query:  url.Values{"to": {to}},
		out:    &out,
	})
	return out, err
}

// ErrNoRequestID refuses a failover without a request id: without one a
// retried request could flip twice.
var ErrNoRequestID = errors.New("a failover or reverse request needs a request_id, so that a retried request is done only once")

// Failover asks the agent to make req.To the active cluster of policy and
// answers the agent's record of the failover, report included.
//
// A failover can take as long as the policy's drain_timeout, so the client's
// per-request timeout does not apply: the request runs until timeout (the
// resource's create/update timeout) or ctx ends, whichever is first.
//
// Retries: a connection error or a 5xx is retried, and this is safe only
// because every attempt resends the very same body, hence the same
// request_id. The agent makes a request_id idempotent: a completed failover
// with that id is answered again instead of flipping a second time, and one
// still under way answers 409 (never retried). A request without a
// request_id is refused here, before anything is sent. A timeout is not
// retried: the agent may still be failing over, and the caller should read
// the policy (or apply again, with the same request_id) to learn the outcome.
func (c *Client) Failover(ctx context.Context, policy string, req agentapi.FailoverRequest, timeout time.Duration) (agentapi.Failover, error) {
	var out agentapi.Failover
	err := c.postOnce(ctx, "/v1/policies/"+url.PathEscape(policy)+"/failover", req.RequestID, req, &out, timeout)
	return out, err
}

// postOnce sends a request the agent makes idempotent by requestID, bounded
// by timeout alone (0: by ctx), and refuses one without a request id.
func (c *Client) postOnce(ctx context.Context, path, requestID string, in, out any, timeout time.Duration) error {
	if requestID == "" {
		return ErrNoRequestID
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return c.send(ctx, call{method: http.MethodPost, path: path, in: in, out: out, noTimeout: true})
}

// Reverse reconciles a diverged cluster of a policy: its divergent tail is
// quarantined on the active cluster and it is rebuilt as a standby. Like
// Failover, request ids are idempotent on the agent, the request is bounded
// by timeout alone (copying the tail can take minutes), and it is not
// retried on a timeout.
func (c *Client) Reverse(ctx context.Context, policy string, req agentapi.ReverseRequest, timeout time.Duration) (agentapi.Quarantine, error) {
	var out agentapi.Quarantine
	err := c.postOnce(ctx, "/v1/policies/"+url.PathEscape(policy)+"/reverse", req.RequestID, req, &out, timeout)
	return out, err
}

// do sends one request, retried as retryPolicy allows, and decodes a 2xx
// body into out or any other answer into an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.send(ctx, call{method: method, path: path, in: in, out: out})
}

// call is one request to the agent.
type call struct {
	method, path string
	query        url.Values
	in, out      any
	// noTimeout lifts the client's per-request timeout: the context alone
	// bounds the request (a failover lasts up to the policy's drain_timeout).
	noTimeout bool
}

func (c *Client) send(ctx context.Context, cl call) error {
	method, path, in, out := cl.method, cl.path, cl.in, cl.out
	ctx = c.logContext(ctx)
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	u := c.base.JoinPath(path)
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), bodyReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if cl.noTimeout {
		hc = &http.Client{Transport: c.http.Transport}
	}
	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       LeveledLogger{ctx: ctx},
		RetryWaitMin: c.waitMin,
		RetryWaitMax: c.waitMax,
		RetryMax:     c.retryMax,
		CheckRetry:   retryPolicy,
		Backoff:      retryablehttp.DefaultBackoff,
		// The last answer, not "giving up after N attempts", reaches the
		// caller, so the agent's own error message is what the user reads.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	tflog.SubsystemDebug(ctx, Subsystem, "agent request", map[string]any{"method": method, "path": path})
	resp, err := rc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	tflog.SubsystemDebug(ctx, Subsystem, "agent answer", map[string]any{"method": method, "path": path, "status": resp.StatusCode})
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Method: method, Path: path, StatusCode: resp.StatusCode}
		var body agentapi.Error
		if json.Unmarshal(data, &body) == nil && body.Error.Message != "" {
			e.Detail = body.Error
		} else {
			e.Detail.Message = strings.TrimSpace(string(data))
			if e.Detail.Message == "" {
				e.Detail.Message = http.StatusText(resp.StatusCode)
			}
		}
		return e
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the agent's answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

func bodyReader(body []byte) any {
	if body == nil {
		return nil
	}
	return bytes.NewReader(body)
}

// retryPolicy retries connection errors and 5xx answers; a 4xx is the
// caller's mistake and repeating it cannot help.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if resp != nil && resp.StatusCode < 500 {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}
