package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
)

// maxLogValueBytes bounds what one attribute of a log line repeats: values
// come from requests, records and clusters, and a log line must stay a
// line, whatever they hold.
const maxLogValueBytes = 2 << 10

// newLogger writes JSON lines whose every attribute is bounded.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: boundAttr}))
}

// boundAttr cuts a string, an error or any other value whose text is over
// maxLogValueBytes, and says how long it was.
func boundAttr(_ []string, a slog.Attr) slog.Attr {
	var text string
	switch v := a.Value.Resolve(); v.Kind() {
	case slog.KindString:
		text = v.String()
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		default:
			raw, err := json.Marshal(x)
			if err != nil || len(raw) <= maxLogValueBytes {
				return a
			}
			text = string(raw)
		}
	default:
		return a
	}
	if len(text) <= maxLogValueBytes {
		return a
	}
	return slog.String(a.Key, fmt.Sprintf("%s... (%d bytes, cut)", text[:maxLogValueBytes], len(text)))
}

// beyondLoopback reports whether a listening address can be reached from
// other hosts: an unspecified address (all interfaces) or any other than
// loopback.
func beyondLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
