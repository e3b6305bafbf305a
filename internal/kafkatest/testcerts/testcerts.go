// Package testcerts makes the TLS material of a test cluster in Go: a CA,
// a broker certificate for 127.0.0.1 and localhost, and a client
// certificate, so that no keytool or openssl is needed.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"time"
)

// Certs is the TLS material of one test cluster, PEM encoded; keys are
// PKCS#8, the only kind Kafka's PEM key store reads.
type Certs struct {
	CAPEM                       string
	ServerCertPEM, ServerKeyPEM string
	ClientCertPEM, ClientKeyPEM string
}

// New makes a CA valid for a day and the certificates it signs.
func New() (*Certs, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafka-failover test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	issue := func(serial int64, cn string, usage []x509.ExtKeyUsage, ips []net.IP, dns []string) (certPEM, keyPEM string, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  usage,
			IPAddresses:  ips,
			DNSNames:     dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return "", "", err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", "", err
		}
		return pemText("CERTIFICATE", der), pemText("PRIVATE KEY", keyDER), nil
	}
	c := &Certs{CAPEM: pemText("CERTIFICATE", caDER)}
	// The broker's certificate is also its client certificate towards
	// the other brokers, hence both usages.
	if c.ServerCertPEM, c.ServerKeyPEM, err = issue(2, "broker", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		[]net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}); err != nil {
		return nil, err
	}
	if c.ClientCertPEM, c.ClientKeyPEM, err = issue(3, "client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil); err != nil {
		return nil, err
	}
	return c, nil
}

func pemText(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

// ClientTLS trusts the CA and presents the client certificate.
func (c *Certs) ClientTLS() (*tls.Config, error) {
	pair, err := tls.X509KeyPair([]byte(c.ClientCertPEM), []byte(c.ClientKeyPEM))
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.pool(), Certificates: []tls.Certificate{pair}}, nil
}

// ServerTLS presents the broker certificate and asks for, without
// demanding, a client certificate signed by the CA.
func (c *Certs) ServerTLS() (*tls.Config, error) {
	pair, err := tls.X509KeyPair([]byte(c.ServerCertPEM), []byte(c.ServerKeyPEM))
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair},
		ClientCAs: c.pool(), ClientAuth: tls.VerifyClientCertIfGiven}, nil
}

func (c *Certs) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(c.CAPEM))
	return pool
}
