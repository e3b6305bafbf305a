package kafkatest

import (
	"net"
	"strconv"
	"testing"
)

// FreeAddr answers a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// FreePorts finds n consecutive free loopback ports and answers the first
// as host:port; dev clusters with n brokers take the ports after it.
func FreePorts(t testing.TB, n int) string {
	t.Helper()
	for range 50 {
		first := FreeAddr(t)
		_, portText, _ := net.SplitHostPort(first)
		port, _ := strconv.Atoi(portText)
		ok := true
		for i := 1; i < n && ok; i++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+i)))
			if err != nil {
				ok = false
				continue
			}
			ln.Close()
		}
		if ok {
			return first
		}
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1", n)
	return ""
}
