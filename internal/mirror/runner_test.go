package mirror

import (
	"strings"
	"testing"
)

// Kafka refuses a group.instance.id outside [a-zA-Z0-9._-] or over 249
// characters; the default agent id, hostname/listen address, is one.
func TestEveryAgentIDMakesAStaticMemberIDKafkaTakesAndTwoIDsStayApart(t *testing.T) {
	ids := []string{"eu-agent-1", "host-a/127.0.0.1:8080", "host-a_127.0.0.1_8080", "host-a/127.0.0.1:8081", ".", strings.Repeat("x", 300), strings.Repeat("x", 300) + "y", "région/α"}
	seen := map[string]string{}
	for _, id := range ids {
		got := MemberInstance(id)
		if len(got) == 0 || len(got) > 249 || got == "." || got == ".." {
			t.Errorf("MemberInstance(%q) = %q: Kafka refuses its length", id, got)
		}
		for _, c := range got {
			if !(c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				t.Errorf("MemberInstance(%q) = %q: Kafka refuses %q", id, got, c)
			}
		}
		if other, ok := seen[got]; ok {
			t.Errorf("agent ids %q and %q share the static member id %q", other, id, got)
		}
		seen[got] = id
		if MemberInstance(id) != got {
			t.Errorf("MemberInstance(%q) is not stable", id)
		}
	}
	if got := MemberInstance("eu-agent-1"); got != "eu-agent-1" {
		t.Errorf("an agent id Kafka takes as it is became %q", got)
	}
}
