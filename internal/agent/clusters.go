package agent

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// namePattern is what a cluster or mirror name may be: it becomes part of
// Kafka topic and transactional ids.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

func validName(kind, name string) error {
	if !namePattern.MatchString(name) {
		return invalid("name", "%s name %q must start with a letter or digit and hold only letters, digits, '.', '_' and '-' (at most 100)", kind, name)
	}
	return nil
}

// nameFromPath checks that a body's name, when given, matches the path.
func nameFromPath(r *http.Request, kind string, bodyName *string) error {
	name := r.PathValue("name")
	if err := validName(kind, name); err != nil {
		return err
	}
	if *bodyName != "" && *bodyName != name {
		return invalid("name", "the body names %q but the path names %q: they must be the same", *bodyName, name)
	}
	*bodyName = name
	return nil
}

func (s *server) putCluster(w http.ResponseWriter, r *http.Request) {
	var c agentapi.Cluster
	if err := decode(r, &c); err != nil {
		s.badBody(w, r, err)
		return
	}
	if err := nameFromPath(r, "cluster", &c.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	var stored agentapi.Cluster
	created, err := storeObject("cluster", c.Name, func() error { return s.validateCluster(&c) }, func() (created bool, err error) {
		stored, created, err = s.Store.PutCluster(r.Context(), c)
		return created, err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("cluster stored", "cluster", c.Name, "bootstrap_servers", strings.Join(c.BootstrapServers, ","))
	writeJSON(w, putStatus(created), stored)
}

func (s *server) validateCluster(c *agentapi.Cluster) error {
	if len(c.BootstrapServers) == 0 {
		return invalid("bootstrap_servers", "give at least one broker address as host:port, for example [\"kafka-1:9092\"]")
	}
	for i, b := range c.BootstrapServers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" || !validPort(port) {
			return invalid(fmt.Sprintf("bootstrap_servers[%d]", i), "%q is not host:port with a port from 1 to 65535, for example kafka-1:9092", b)
		}
	}
	if !s.Store.CanSeal() {
		if c.SASL != nil && c.SASL.Password != "" {
			return invalid("sasl.password", "%v", store.ErrNoSecretKey)
		}
		if c.TLS != nil && c.TLS.KeyPEM != "" {
			return invalid("tls.key_pem", "%v", store.ErrNoSecretKey)
		}
	}
	if c.SASL != nil {
		if !slices.Contains(agentapi.SASLMechanisms, c.SASL.Mechanism) {
			return invalid("sasl.mechanism", "%q is not supported: use one of %s", c.SASL.Mechanism, strings.Join(agentapi.SASLMechanisms, ", "))
		}
		if c.SASL.Username == "" {
			return invalid("sasl.username", "required with sasl: the user the agent authenticates as")
		}
		if c.SASL.PasswordSet {
			return invalid("sasl.password_set", "is set by the agent in answers; send sasl.password instead")
		}
	}
	if c.TLS != nil {
		if c.TLS.KeyPEMSet {
			return invalid("tls.key_pem_set", "is set by the agent in answers; send tls.key_pem instead")
		}
		if c.TLS.CAPEM != "" && !holdsCertificate(c.TLS.CAPEM) {
			return invalid("tls.ca_pem", "holds no PEM certificate: paste the CA certificate, starting with -----BEGIN CERTIFICATE-----")
		}
		if c.TLS.CertPEM != "" && !holdsCertificate(c.TLS.CertPEM) {
			return invalid("tls.cert_pem", "holds no PEM certificate: paste the client certificate, starting with -----BEGIN CERTIFICATE-----")
		}
		if c.TLS.KeyPEM != "" && c.TLS.CertPEM == "" {
			return invalid("tls.cert_pem", "required with tls.key_pem: a client key needs its certificate")
		}
		// The pair is checked now: a bad one would fail every connection
		// later. tls's errors never quote the key.
		if c.TLS.KeyPEM != "" {
			if _, err := tls.X509KeyPair([]byte(c.TLS.CertPEM), []byte(c.TLS.KeyPEM)); err != nil {
				return invalid("tls.key_pem", "is not the PEM private key of tls.cert_pem (%v)", err)
			}
		}
	}
	if field, why := s.Store.MissingSecret(*c); field != "" {
		return invalid(field, "%s", why)
	}
	return nil
}

// validPort accepts a numeric TCP port a broker can listen on.
func validPort(port string) bool {
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

func holdsCertificate(text string) bool {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE" {
		return false
	}
	_, err := x509.ParseCertificate(block.Bytes)
	return err == nil
}

func (s *server) getCluster(w http.ResponseWriter, r *http.Request) {
	c, err := s.Store.GetCluster(r.PathValue("name"))
	if err != nil {
		s.notFound(w, "cluster", r.PathValue("name"), err, r)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *server) listClusters(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Store.Clusters())
}

// deleteCluster refuses while a mirror uses the cluster, so no mirror is
// left pointing at nothing.
func (s *server) deleteCluster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.keptForPolicy(w, r, s.Store.ClusterNeeded, name) {
		return
	}
	for _, m := range s.Store.Mirrors() {
		if m.Source == name || m.Target == name {
			writeError(w, http.StatusConflict, agentapiErr(codeConflict, "", fmt.Sprintf("cluster %q is used by mirror %q: delete the mirror first", name, m.Name)))
			return
		}
	}
	if _, err := s.Store.GetCluster(name); err != nil {
		s.notFound(w, "cluster", name, err, r)
		return
	}
	if err := s.Store.DeleteCluster(r.Context(), name); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("cluster deleted", "cluster", name)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) notFound(w http.ResponseWriter, kind, name string, err error, r *http.Request) {
	if err == store.ErrNotFound {
		writeError(w, http.StatusNotFound, agentapiErr(codeNotFound, "", fmt.Sprintf("no %s named %q", kind, name)))
		return
	}
	s.fail(w, r, err)
}
