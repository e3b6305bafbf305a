// Package kafkaconn turns a cluster's connection settings into franz-go
// client options, so every part of the agent connects the same way.
package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Conn is everything needed to reach a cluster, secrets included. It lives
// in memory only; never log it or put it in an answer.
type Conn struct {
	Name             string
	BootstrapServers []string
	SASLMechanism    string
	SASLUsername     string
	SASLPassword     string
	TLS              bool
	CAPEM            string
	CertPEM          string
	KeyPEM           string
	InsecureTLS      bool
	// Observer, when set, receives the logs and metrics of every client
	// built from these options.
	Observer *Observer
}

// Opts returns the client options that connect to c. The slice has no room
// to grow: its users share it among goroutines and each appends options of
// its own client, which must copy rather than write where another's are.
func Opts(c Conn) ([]kgo.Opt, error) {
	if len(c.BootstrapServers) == 0 {
		return nil, fmt.Errorf("cluster %q has no bootstrap servers", c.Name)
	}
	// One dialer for both: franz-go refuses a Dialer beside DialTLSConfig.
	// The timeout bounds the TLS handshake too.
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	dial := dialer.DialContext
	if c.TLS {
		cfg, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		// An empty ServerName is taken from each broker's host.
		dial = (&tls.Dialer{NetDialer: dialer, Config: cfg}).DialContext
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.BootstrapServers...), kgo.Dialer(dial)}
	switch c.SASLMechanism {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("cluster %q: unknown SASL mechanism %q", c.Name, c.SASLMechanism)
	}
	if c.Observer != nil {
		opts = append(opts, c.Observer.opts(c.Name)...)
	}
	return slices.Clip(opts), nil
}

func tlsConfig(c Conn) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureTLS} //nolint:gosec // the user asked for it per cluster
	if c.CAPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(c.CAPEM)) {
			return nil, fmt.Errorf("cluster %q: tls.ca_pem holds no PEM certificate", c.Name)
		}
		cfg.RootCAs = pool
	}
	if (c.CertPEM == "") != (c.KeyPEM == "") {
		return nil, errors.New("tls.cert_pem and tls.key_pem go together: set both for a client certificate, or neither")
	}
	if c.CertPEM != "" {
		cert, err := tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM))
		if err != nil {
			return nil, fmt.Errorf("cluster %q: client certificate: %w", c.Name, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Principal answers the principal a Kafka broker's default principal
// builder gives a client connecting with c: the SASL username; without
// SASL, the client certificate's subject as ssl.principal.mapping.rules
// DEFAULT writes it (RFC 2253); without either, ANONYMOUS.
func Principal(c Conn) (string, error) {
	switch {
	case c.SASLMechanism != "":
		return "User:" + c.SASLUsername, nil
	case c.TLS && c.CertPEM != "":
		block, _ := pem.Decode([]byte(c.CertPEM))
		if block == nil {
			return "", fmt.Errorf("cluster %q: tls.cert_pem holds no PEM certificate", c.Name)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("cluster %q: client certificate: %w", c.Name, err)
		}
		return "User:" + cert.Subject.String(), nil
	}
	return "User:ANONYMOUS", nil
}
