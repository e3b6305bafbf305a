package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// testPKI is a CA and a client certificate it signed, in PEM.
type testPKI struct {
	caPEM, certPEM, keyPEM string
	key                    *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mirror"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{
		caPEM:   pemText("CERTIFICATE", caDER),
		certPEM: pemText("CERTIFICATE", leafDER),
		keyPEM:  pemText("PRIVATE KEY", pkcs8),
		key:     key,
	}
}

func pemText(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// checkString runs a string validator on v and answers its error detail.
func checkString(v validator.String, s string) string {
	var resp validator.StringResponse
	v.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("tls").AtName("x"), ConfigValue: types.StringValue(s)}, &resp)
	if !resp.Diagnostics.HasError() {
		return ""
	}
	return resp.Diagnostics.Errors()[0].Detail()
}

func TestPEMValidatorsAcceptWhatGoTLSAccepts(t *testing.T) {
	pki := newTestPKI(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(pki.key)
	if err != nil {
		t.Fatal(err)
	}
	edPKCS8, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	certs := pemCertificates("cert_pem", "the client certificate", "client.crt", "")
	for name, text := range map[string]string{
		"one certificate":               pki.caPEM,
		"a chain":                       pki.certPEM + pki.caPEM,
		"openssl's text before the PEM": "Certificate:\n    Data: ...\n" + pki.caPEM,
		"empty means unset":             "",
	} {
		if why := checkString(certs, text); why != "" {
			t.Errorf("certificate check refused %s: %s", name, why)
		}
	}
	key := pemPrivateKey("key_pem", "client.key")
	for name, text := range map[string]string{
		"PKCS #8 ECDSA":                pki.keyPEM,
		"PKCS #8 Ed25519":              pemText("PRIVATE KEY", edPKCS8),
		"PKCS #1 RSA":                  pemText("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)),
		"SEC 1 EC after EC PARAMETERS": pemText("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}) + pemText("EC PRIVATE KEY", sec1),
	} {
		if why := checkString(key, text); why != "" {
			t.Errorf("key check refused %s: %s", name, why)
		}
	}
}

func TestPEMValidatorsSayWhatToPasteAndNeverQuoteTheKey(t *testing.T) {
	pki := newTestPKI(t)
	certs := pemCertificates("cert_pem", "the client certificate", "client.crt", "; the client key goes in key_pem, which is sensitive")
	key := pemPrivateKey("key_pem", "client.key")
	broken := pemText("CERTIFICATE", []byte("not DER"))
	encrypted := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
	cases := []struct {
		name string
		v    validator.String
		text string
		want string
	}{
		{"a file name", certs, "client.crt", `holds no PEM certificate: paste the client certificate itself, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE----- (from a file: cert_pem = file("client.crt"))`},
		{"a key with the certificate", certs, pki.certPEM + pki.keyPEM, `holds a private key (a PRIVATE KEY block), which would show in plans and state unmarked: paste the client certificate itself`},
		{"the key goes elsewhere", certs, pki.keyPEM, `; the client key goes in key_pem, which is sensitive.`},
		{"another block first", certs, pemText("PUBLIC KEY", []byte{1}) + pki.certPEM, `starts with a PUBLIC KEY block, not a CERTIFICATE`},
		{"a broken certificate", certs, pki.caPEM + broken, `holds a CERTIFICATE block (number 2) that is not a valid X.509 certificate`},
		{"a certificate as key", key, pki.certPEM, `holds a certificate, not a private key: the certificate goes in cert_pem; paste the private key of cert_pem, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----`},
		{"no key", key, "client.key", `holds no PEM private key: paste the private key of cert_pem`},
		{"only spaces", certs, " \n", `holds no PEM certificate`},
		{"an encrypted PKCS #8 key", key, pemText("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), `holds an encrypted private key, which the agent cannot use: decrypt it first`},
		{"an encrypted PKCS #1 key", key, encrypted, `holds an encrypted private key`},
		{"an OpenSSH key", key, pemText("OPENSSH PRIVATE KEY", []byte("openssh-key-v1")), `holds an OpenSSH key, not a TLS private key`},
		{"a broken key", key, pemText("PRIVATE KEY", []byte("secret-bytes-0123456789")), `holds a PRIVATE KEY block that is not a valid RSA, ECDSA or Ed25519 private key`},
	}
	for _, c := range cases {
		why := checkString(c.v, c.text)
		if !strings.Contains(why, c.want) {
			t.Errorf("%s: got %q, want it to contain %q", c.name, why, c.want)
		}
		if strings.Contains(why, "secret-bytes") || strings.Contains(why, "AAAA") || strings.Contains(why, "MIG") {
			t.Errorf("%s: the message quotes the value: %q", c.name, why)
		}
	}
}

func TestDurationBetweenNamesTheRangeAsTheAgentDoes(t *testing.T) {
	v := durationBetween(100*time.Millisecond, time.Hour)
	for s, want := range map[string]string{
		"100ms": "", "1h": "", "1s": "", "59m59s": "",
		"99ms":     `"99ms" is out of range: use 100ms to 1h.`,
		"1h0m1s":   `"1h0m1s" is out of range: use 100ms to 1h.`,
		"-1s":      `"-1s" is out of range: use 100ms to 1h.`,
		"1 second": `"1 second" is not a duration: write it like "1s" or "500ms" (Go duration syntax).`,
	} {
		if got := checkString(v, s); got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	}
}
