package agent

import (
	"context"
	"net"
	"net/http"
	"sync"
	"syscall"
)

// connGuard caps the API's open connections below the process's file
// descriptor limit, which the agent's Kafka clients share. When a new
// connection would pass the cap, the oldest one that is not in a handler
// (it has not sent a whole request head, or waits idle between requests)
// is closed: a flood of idle or slow connections holds only the rest, and a
// probe or an authorised request still gets in.
type connGuard struct {
	max int

	mu    sync.Mutex
	conns map[net.Conn]*guarded
	seq   uint64 // accept order
}

type guarded struct {
	seq  uint64
	busy int // requests whose head was read, in a handler now (HTTP/2 has several)
}

// maxAPIConnections is the cap when the descriptor limit allows it.
const maxAPIConnections = 256

// apiConnections answers the cap: at most half the descriptor limit, so
// that the Kafka clients keep the other half.
func apiConnections() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur/2 >= maxAPIConnections {
		return maxAPIConnections
	}
	return max(int(lim.Cur/2), 1)
}

func newConnGuard(max int) *connGuard {
	return &connGuard{max: max, conns: map[net.Conn]*guarded{}}
}

type guardListener struct {
	net.Listener
	g *connGuard
}

// listener makes room for each connection ln accepts.
func (g *connGuard) listener(ln net.Listener) net.Listener { return guardListener{ln, g} }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.g.admit(c)
	return c, nil
}

// admit tracks c, closing the oldest connection outside a handler when c
// would pass the cap; c itself when every other one is in a handler.
func (g *connGuard) admit(c net.Conn) {
	g.mu.Lock()
	var oldest net.Conn
	if len(g.conns) >= g.max {
		var at uint64
		for oc, st := range g.conns {
			if st.busy == 0 && (oldest == nil || st.seq < at) {
				oldest, at = oc, st.seq
			}
		}
		if oldest == nil {
			oldest = c
		} else {
			delete(g.conns, oldest)
		}
	}
	if oldest != c {
		g.seq++
		g.conns[c] = &guarded{seq: g.seq}
	}
	g.mu.Unlock()
	if oldest != nil {
		oldest.Close()
	}
}

// state follows the server's view of each connection (http.Server.ConnState).
func (g *connGuard) state(c net.Conn, s http.ConnState) {
	if s == http.StateClosed || s == http.StateHijacked {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
	}
}

type connKey struct{}

// connContext lets a handler find its connection (http.Server.ConnContext).
func (g *connGuard) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// busy marks a connection as serving a request until the handler returns:
// it has sent a whole request head, so it is no idle flood.
func (g *connGuard) busy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(connKey{}).(net.Conn)
		g.mark(c, 1)
		defer g.mark(c, -1)
		next.ServeHTTP(w, r)
	})
}

func (g *connGuard) mark(c net.Conn, delta int) {
	g.mu.Lock()
	if st, ok := g.conns[c]; ok {
		st.busy += delta
	}
	g.mu.Unlock()
}
