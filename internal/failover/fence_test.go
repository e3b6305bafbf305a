package failover

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// The fence reads who may write to a topic from the ACLs as the authorizer
// matches them: literal by name or *, prefixed by prefix, Write or All.
func TestWritersOfATopicAreThePrincipalsItsMatchingAllowWriteACLsName(t *testing.T) {
	k := kafkatest.NewCluster(t, "north-america", kafkatest.ClusterOptions{Secure: true})
	cl := kafkatest.Client(t, k.Bootstrap(), k.ClientOpts()...)
	lit, pre := kadm.ACLPatternLiteral, kadm.ACLPatternPrefixed
	for _, a := range []struct {
		principal, topic string
		pattern          kadm.ACLPattern
		op               kadm.ACLOperation
		deny             bool
	}{
		{"User:literal", "LH.ORDERS", lit, kadm.OpWrite, false},
		{"User:prefixed", "LH.", pre, kadm.OpAll, false},
		{"User:everytopic", "*", lit, kadm.OpWrite, false},
		{"User:elsewhere", "XX.", pre, kadm.OpWrite, false},
		{"User:reader", "LH.ORDERS", lit, kadm.OpRead, false},
		{"User:denied", "LH.ORDERS", lit, kadm.OpWrite, true},
		{"User:deniedbyprefix", "LH.", pre, kadm.OpWrite, true},
	} {
		b := kadm.NewACLs().Topics(a.topic).ResourcePatternType(a.pattern).Operations(a.op)
		if a.deny {
			b.Deny(a.principal).DenyHosts()
		} else {
			b.Allow(a.principal).AllowHosts()
		}
		res, err := kadm.NewClient(cl).CreateACLs(context.Background(), b)
		if err == nil && res[0].Err != nil {
			err = res[0].Err
		}
		if err != nil {
			t.Fatalf("create %+v: %v", a, err)
		}
	}
	acls, err := topicACLs(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		topic   string
		allowed []string
		denied  []string
		named   bool
	}{
		{"LH.ORDERS", []string{"User:everytopic", "User:literal", "User:prefixed"}, []string{"User:denied"}, true},
		{"LH.PAYMENTS", []string{"User:everytopic", "User:prefixed"}, nil, true},
		{"XX.ORDERS", []string{"User:elsewhere", "User:everytopic"}, nil, true},
	} {
		w := writersOf(acls, c.topic)
		allowed, denied := slices.Sorted(maps.Keys(w.allowed)), slices.Sorted(maps.Keys(w.denied))
		if !slices.Equal(allowed, c.allowed) || !slices.Equal(denied, c.denied) || w.named != c.named {
			t.Errorf("%s: allowed %v denied %v named %v; want %v %v %v", c.topic, allowed, denied, w.named, c.allowed, c.denied, c.named)
		}
	}
}
