package mirror

import (
	"slices"
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

func acl(resource, pattern, name, principal, op, perm string) agentapi.ACL {
	return agentapi.ACL{ResourceType: resource, PatternType: pattern, ResourceName: name, Principal: principal, Host: "*", Operation: op, Permission: perm}
}

// The sync copies the ACLs that name the mirrored topics and the selected
// groups, topic names mapped by the replication policy; it holds the
// mutating topic ACLs, applies the rest at once, and leaves out the agent's
// own fences, wildcards, internal topics and what the selections exclude.
func TestWantedACLsNameTheMirroredTopicsOnTheTargetAndHoldTheMutatingOnes(t *testing.T) {
	m := agentapi.Mirror{Source: "na", ReplicationPolicy: agentapi.ReplicationPrefix,
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, Groups: agentapi.Selector{Include: []string{`consumer-.*`}}}
	topics, err := CompileSelector("topics", m.Topics)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := CompileSelector("groups", m.Groups)
	if err != nil {
		t.Fatal(err)
	}
	source := []agentapi.ACL{
		acl("TOPIC", "LITERAL", "LH.ORDERS", "User:reader", "READ", "ALLOW"),
		acl("TOPIC", "LITERAL", "LH.ORDERS", "User:writer", "WRITE", "ALLOW"),
		acl("TOPIC", "PREFIXED", "LH.", "User:app", "ALL", "ALLOW"),
		acl("TOPIC", "PREFIXED", "LH.", "User:app", "DESCRIBE", "ALLOW"),
		acl("TOPIC", "PREFIXED", "XX.", "User:other", "READ", "ALLOW"),        // no mirrored topic starts with it
		acl("TOPIC", "LITERAL", "XX.ORDERS", "User:other", "READ", "ALLOW"),   // not selected
		acl("TOPIC", "LITERAL", "*", "User:everyone", "READ", "ALLOW"),        // every topic, not the mirrored ones
		acl("TOPIC", "LITERAL", "__kfo_state", "User:kfo", "READ", "ALLOW"),   // internal
		acl("TOPIC", "LITERAL", "LH.ORDERS", "User:app", "WRITE", "DENY"),     // the agent's fence
		acl("TOPIC", "LITERAL", "LH.ORDERS", "User:mallory", "WRITE", "DENY"), // someone's own deny
		acl("GROUP", "LITERAL", "consumer-1", "User:reader", "READ", "ALLOW"),
		acl("GROUP", "PREFIXED", "consumer-", "User:app", "ALL", "ALLOW"),
		acl("GROUP", "PREFIXED", "batch-", "User:app", "READ", "ALLOW"),       // no selected group starts with it
		acl("GROUP", "PREFIXED", "consumer-new", "User:new", "READ", "ALLOW"), // no group yet, but the selection may take one
		acl("TOPIC", "PREFIXED", "LH.NEW", "User:new", "READ", "ALLOW"),       // no topic yet, but the selection may take one
		acl("GROUP", "LITERAL", "batch-1", "User:app", "READ", "ALLOW"),
		acl("CLUSTER", "LITERAL", "kafka-cluster", "User:app", "IDEMPOTENT_WRITE", "ALLOW"),
	}
	fences := []agentapi.FenceACL{{Principal: "User:app", Host: "*", Topics: []string{"LH.ORDERS"}}}
	now, held := wantedACLs(m, topics, groups, []string{"LH.ORDERS"}, []string{"consumer-1"}, fences, source)
	wantNow := []agentapi.ACL{
		acl("GROUP", "LITERAL", "consumer-1", "User:reader", "READ", "ALLOW"),
		acl("GROUP", "PREFIXED", "consumer-", "User:app", "ALL", "ALLOW"),
		acl("GROUP", "PREFIXED", "consumer-new", "User:new", "READ", "ALLOW"),
		acl("TOPIC", "PREFIXED", "na.LH.NEW", "User:new", "READ", "ALLOW"),
		acl("TOPIC", "LITERAL", "na.LH.ORDERS", "User:reader", "READ", "ALLOW"),
		acl("TOPIC", "PREFIXED", "na.LH.", "User:app", "DESCRIBE", "ALLOW"),
	}
	wantHeld := []agentapi.ACL{
		acl("TOPIC", "LITERAL", "na.LH.ORDERS", "User:mallory", "WRITE", "DENY"),
		acl("TOPIC", "LITERAL", "na.LH.ORDERS", "User:writer", "WRITE", "ALLOW"),
		acl("TOPIC", "PREFIXED", "na.LH.", "User:app", "ALL", "ALLOW"),
	}
	SortACLs(wantNow)
	SortACLs(wantHeld)
	if !slices.Equal(now, wantNow) {
		t.Errorf("applied at once:\n%v\nwant\n%v", now, wantNow)
	}
	if !slices.Equal(held, wantHeld) {
		t.Errorf("held:\n%v\nwant\n%v", held, wantHeld)
	}
}
