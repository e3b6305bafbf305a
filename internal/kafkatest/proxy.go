package kafkatest

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

// proxies front the brokers of a cluster started with
// ClusterOptions.Proxied.
type proxies struct {
	list   []*Proxy
	direct map[string]string // a proxy's address -> its broker's
}

func newProxies() *proxies { return &proxies{direct: map[string]string{}} }

// front puts a proxy in front of broker and answers the proxy's address.
func (ps *proxies) front(t testing.TB, broker string) string {
	p := NewProxy(t, broker)
	ps.list = append(ps.list, p)
	ps.direct[p.Addr()] = broker
	return p.Addr()
}

func (ps *proxies) cut(t testing.TB) {
	if ps == nil {
		t.Fatal("Cut: start the cluster with ClusterOptions.Proxied")
	}
	for _, p := range ps.list {
		p.Cut()
	}
}

func (ps *proxies) restore() {
	if ps == nil {
		return
	}
	for _, p := range ps.list {
		p.Restore()
	}
}

// clientOpts connect as user, with SASL and TLS when certs is set; with
// proxies, they dial a broker itself where the client asks for its proxy:
// the test's clients go around a cut.
func clientOpts(t testing.TB, certs *testcerts.Certs, user, password string, ps *proxies) []kgo.Opt {
	var cfg *tls.Config
	var opts []kgo.Opt
	if certs != nil {
		var err error
		if cfg, err = certs.ClientTLS(); err != nil {
			t.Fatal(err)
		}
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()))
	}
	switch {
	case ps != nil:
		opts = append(opts, kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
			if broker, ok := ps.direct[host]; ok {
				host = broker
			}
			if cfg != nil {
				return (&tls.Dialer{Config: cfg}).DialContext(ctx, network, host)
			}
			return (&net.Dialer{}).DialContext(ctx, network, host)
		}))
	case cfg != nil:
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	return opts
}

// Proxy forwards TCP connections from a loopback address to a broker, and
// can be cut: a test makes the broker unreachable through it and back.
// Clients reach the broker through it only if the broker's metadata names
// the proxy (devcluster.Config.Advertise, apachekafka.Options.Advertise); a
// client that learned the real address would go around it.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// NewProxy listens on a free loopback port and forwards to target; it
// closes when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	return p
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the broker's own address.
func (p *Proxy) Target() string { return p.target }

// Cut closes every forwarded connection and refuses new ones (each is
// closed once accepted) until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore forwards new connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *Proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return // closed at the test's end
		}
		go p.forward(in)
	}
}

func (p *Proxy) forward(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	if !p.track(in, out) {
		in.Close()
		out.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done // either side ended: end both
	in.Close()
	out.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}

// track registers a forwarded connection's two ends, unless the proxy is cut.
func (p *Proxy) track(in, out net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[in], p.conns[out] = true, true
	return true
}
