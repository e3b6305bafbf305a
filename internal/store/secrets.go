package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// This file owns what a stored secret is bound to, when a PUT may keep a
// secret it does not send, and the re-sealing of secrets sealed before
// secrets were bound.
//
// Each sealed secret carries, as AES-GCM additional data, the name of its
// cluster and the settings that decide where and how it is sent. Copied into
// another cluster's record, or left in its record with those settings
// changed, it no longer opens: whoever can write to the state cluster cannot
// have the agent send a stored password to a host of their choosing.

// The secrets of a cluster, by the API field that carries them.
const (
	secretPassword = "sasl.password"
	secretKeyPEM   = "tls.key_pem"
)

// secretsBoundKey marks a state topic whose secrets were all re-sealed bound.
// After it an unbound secret is refused, never re-sealed: it can only be an
// old blob copied into a record, or one written by an older agent.
const secretsBoundKey = "secrets-bound"

// errUnbound is a secret sealed without a binding and met after the re-seal.
var errUnbound = errors.New("the stored secret is sealed without a binding to its cluster: it was written to the state topic by an agent older than this one, or copied there from an old record, after the agents re-sealed the secrets they had; send the secret again")

// setting is one connection setting, by its API field name.
type setting struct {
	Field string `json:"field"`
	Value any    `json:"value"`
}

// connectionSettings are the settings that decide where and how a secret is
// sent. Every stored binding depends on this list and its encoding: a change
// here makes every stored secret fail to open.
func connectionSettings(c agentapi.Cluster) []setting {
	var sasl agentapi.SASL
	if c.SASL != nil {
		sasl = *c.SASL
	}
	var tls agentapi.TLS
	if c.TLS != nil {
		tls = *c.TLS
	}
	return []setting{
		{"bootstrap_servers", slices.Sorted(slices.Values(c.BootstrapServers))},
		{"sasl.mechanism", sasl.Mechanism},
		{"sasl.username", sasl.Username},
		{"tls", c.TLS != nil},
		{"tls.ca_pem", tls.CAPEM},
		{"tls.cert_pem", tls.CertPEM},
		{"tls.insecure_skip_verify", tls.InsecureSkipVerify},
	}
}

// binding is the additional data the secret of cluster c is sealed with.
func binding(c agentapi.Cluster, secret string) []byte {
	raw, err := json.Marshal(struct {
		Secret   string    `json:"secret"`
		Cluster  string    `json:"cluster"`
		Settings []setting `json:"settings"`
	}{secret, c.Name, connectionSettings(c)})
	if err != nil {
		panic(err) // strings, string slices and bools always encode
	}
	return raw
}

// changedSetting names the first connection setting in which b differs from
// a, "" when none does.
func changedSetting(a, b agentapi.Cluster) string {
	sa, sb := connectionSettings(a), connectionSettings(b)
	for i := range sa {
		if !reflect.DeepEqual(sa[i].Value, sb[i].Value) {
			return sa[i].Field
		}
	}
	return ""
}

// sealed answers the sealed secret of a stored cluster, nil when none.
func (c storedCluster) sealed(secret string) []byte {
	if secret == secretPassword {
		return c.SealedPassword
	}
	return c.SealedKeyPEM
}

// keeps reports whether a PUT of c that does not send secret keeps the one
// prev holds: only for the very connection it was given for.
func keeps(prev storedCluster, c agentapi.Cluster, secret string) bool {
	return prev.SecretsBound && prev.sealed(secret) != nil && changedSetting(prev.Cluster, c) == ""
}

// sealOrKeep answers what a PUT of c stores for secret: plain sealed bound
// to c when sent, else the stored secret when the PUT keeps it, else none.
func (s *Store) sealOrKeep(c agentapi.Cluster, secret, plain string, prev storedCluster, had bool) ([]byte, error) {
	if plain != "" {
		return s.sealer.Seal(plain, binding(c, secret))
	}
	if had && keeps(prev, c, secret) {
		return prev.sealed(secret), nil
	}
	return nil, nil
}

// MissingSecret names the secret a PUT of c must send, and says why, or
// answers "" when c sends or keeps every secret it needs: a password with
// sasl, and a client key stored for tls.cert_pem.
func (s *Store) MissingSecret(c agentapi.Cluster) (field, why string) {
	s.mu.Lock()
	prev, had := s.clusters[c.Name]
	s.mu.Unlock()
	needs := map[string]bool{
		secretPassword: c.SASL != nil && c.SASL.Password == "",
		secretKeyPEM:   c.TLS != nil && c.TLS.CertPEM != "" && c.TLS.KeyPEM == "" && had && prev.SealedKeyPEM != nil,
	}
	for _, secret := range []string{secretPassword, secretKeyPEM} {
		switch {
		case !needs[secret] || keeps(prev, c, secret):
		case !had || prev.sealed(secret) == nil:
			return secret, fmt.Sprintf("required: no password is stored for user %q yet", c.SASL.Username)
		case !prev.SecretsBound:
			return secret, "required: " + errUnbound.Error()
		default:
			return secret, fmt.Sprintf("required: %s changed, and a stored secret is only ever sent where and how it was given for: send it again with the new settings", changedSetting(prev.Cluster, c))
		}
	}
	return "", ""
}

// open decrypts a secret of stored cluster c; "" when it has none.
func (s *Store) open(c storedCluster, secret string) (string, error) {
	sealed := c.sealed(secret)
	if sealed == nil {
		return "", nil
	}
	if !c.SecretsBound {
		return "", fmt.Errorf("cluster %q %s: %w", c.Name, secret, errUnbound)
	}
	plain, err := s.sealer.Open(sealed, binding(c.Cluster, secret))
	if err != nil {
		return "", fmt.Errorf("cluster %q %s: %w", c.Name, secret, err)
	}
	return plain, nil
}

// BindSecrets re-seals, bound, the secrets that agents before the binding
// sealed unbound, then marks the state topic so that an unbound secret met
// later is refused. It does nothing once the mark is there. Call it at
// start, before anything uses a cluster.
//
// Replicas may do it at once: a re-seal record applies only over the record
// it was made from (see admit), so none undoes an update written meanwhile,
// and replaying the topic gives the same clusters whatever compaction kept.
// A secret that does not open (another key file) stays unbound, and the mark
// is left for a start that can re-seal it. It answers the clusters
// re-sealed and those that could not be.
func (s *Store) BindSecrets(ctx context.Context) (resealed, failed []string, err error) {
	// An older agent may write an unbound record meanwhile: a few passes.
	for pass := 0; pass < 3; pass++ {
		s.mu.Lock()
		if s.sealer == nil || s.secretsBound {
			s.mu.Unlock()
			return resealed, nil, nil
		}
		type unbound struct {
			c  storedCluster
			at int64
		}
		var todo []unbound
		for name, c := range s.clusters {
			if !c.SecretsBound && (c.SealedPassword != nil || c.SealedKeyPEM != nil) {
				todo = append(todo, unbound{c, s.clusterAt[name]})
			}
		}
		s.mu.Unlock()
		sort.Slice(todo, func(i, j int) bool { return todo[i].c.Name < todo[j].c.Name })
		failed = nil
		for _, u := range todo {
			value, err := s.rebound(u.c)
			if err != nil {
				failed = append(failed, u.c.Name)
				continue
			}
			reseals := kgo.RecordHeader{Key: headerReseals, Value: []byte(strconv.FormatInt(u.at, 10))}
			applied, err := s.putIf(ctx, kindCluster+u.c.Name, value, reseals)
			if err != nil {
				return resealed, failed, fmt.Errorf("re-seal the secrets of cluster %q: %w", u.c.Name, err)
			}
			if applied {
				resealed = append(resealed, u.c.Name)
			}
		}
		if len(failed) > 0 {
			return resealed, failed, nil
		}
		if len(todo) == 0 {
			mark, _ := json.Marshal(map[string]string{"at": time.Now().UTC().Format(time.RFC3339)})
			_, err = s.write(ctx, secretsBoundKey, mark)
			return resealed, nil, err
		}
	}
	return resealed, nil, nil
}

// rebound answers the record of an unbound cluster with its secrets sealed
// bound.
func (s *Store) rebound(c storedCluster) ([]byte, error) {
	out := c
	out.SecretsBound = true
	for _, secret := range []string{secretPassword, secretKeyPEM} {
		sealed := c.sealed(secret)
		if sealed == nil {
			continue
		}
		plain, err := s.sealer.Open(sealed, nil)
		if err != nil {
			return nil, err
		}
		if sealed, err = s.sealer.Seal(plain, binding(c.Cluster, secret)); err != nil {
			return nil, err
		}
		if secret == secretPassword {
			out.SealedPassword = sealed
		} else {
			out.SealedKeyPEM = sealed
		}
	}
	return json.Marshal(out)
}
