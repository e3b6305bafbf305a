package agent

import (
	"fmt"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// bound refuses a body with a field over its limit (agentapi.Max*) before
// anything else looks at it: whatever is stored, or written into a failover
// record, must fit in one record of the state topic.
func bound(v any) error {
	var c limits
	switch b := v.(type) {
	case *agentapi.Cluster:
		c.list("bootstrap_servers", b.BootstrapServers, agentapi.MaxHostPortBytes)
		if b.SASL != nil {
			c.atMost("sasl.username", b.SASL.Username, agentapi.MaxIDBytes)
			c.atMost("sasl.password", b.SASL.Password, agentapi.MaxSecretBytes)
		}
		if b.TLS != nil {
			c.atMost("tls.ca_pem", b.TLS.CAPEM, agentapi.MaxPEMBytes)
			c.atMost("tls.cert_pem", b.TLS.CertPEM, agentapi.MaxPEMBytes)
			c.atMost("tls.key_pem", b.TLS.KeyPEM, agentapi.MaxPEMBytes)
		}
	case *agentapi.Mirror:
		c.atMost("source", b.Source, agentapi.MaxNameBytes)
		c.atMost("target", b.Target, agentapi.MaxNameBytes)
		c.list("topics.include", b.Topics.Include, agentapi.MaxRegexBytes)
		c.list("topics.exclude", b.Topics.Exclude, agentapi.MaxRegexBytes)
		c.list("groups.include", b.Groups.Include, agentapi.MaxRegexBytes)
		c.list("groups.exclude", b.Groups.Exclude, agentapi.MaxRegexBytes)
		c.atMost("refresh_interval", b.RefreshInterval, agentapi.MaxDurationBytes)
		c.atMost("checkpoint_interval", b.CheckpointInterval, agentapi.MaxDurationBytes)
	case *agentapi.Policy:
		c.list("clusters", b.Clusters, agentapi.MaxNameBytes)
		c.atMost("primary", b.Primary, agentapi.MaxNameBytes)
		c.list("mirrors", b.Mirrors, agentapi.MaxNameBytes)
		c.atMost("drain_timeout", b.DrainTimeout, agentapi.MaxDurationBytes)
	case *agentapi.FailoverRequest:
		c.atMost("request_id", b.RequestID, agentapi.MaxIDBytes)
		c.atMost("requested_by", b.RequestedBy, agentapi.MaxIDBytes)
		c.atMost("to", b.To, agentapi.MaxNameBytes)
	case *agentapi.ReverseRequest:
		c.atMost("request_id", b.RequestID, agentapi.MaxIDBytes)
		c.atMost("cluster", b.Cluster, agentapi.MaxNameBytes)
	}
	return c.err
}

// limits keeps the first field found over its limit.
type limits struct{ err error }

// atMost refuses a value over limit bytes. The value is not echoed back:
// it may be a secret.
func (c *limits) atMost(field, value string, limit int) {
	if c.err == nil && len(value) > limit {
		c.err = invalid(field, "is %d bytes, over the limit of %d", len(value), limit)
	}
}

// list refuses more than agentapi.MaxListItems items, or an item over each
// bytes.
func (c *limits) list(field string, items []string, each int) {
	if c.err == nil && len(items) > agentapi.MaxListItems {
		c.err = invalid(field, "holds %d items, over the limit of %d", len(items), agentapi.MaxListItems)
	}
	for i, v := range items {
		c.atMost(fmt.Sprintf("%s[%d]", field, i), v, each)
	}
}
