package agent

import "testing"

func TestBeyondLoopbackIsEveryAddressButLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": false, "127.0.0.2:8080": false, "[::1]:8080": false,
		"0.0.0.0:8080": true, "[::]:8080": true, "192.0.2.10:8080": true, "[2001:db8::1]:8080": true, ":8080": true,
	} {
		if got := beyondLoopback(addr); got != want {
			t.Errorf("beyondLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
