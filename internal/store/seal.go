package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Sealer encrypts secrets before they reach the state topic, so that anyone
// who can read the topic still cannot read SASL passwords or TLS keys.
type Sealer struct{ aead cipher.AEAD }

// ErrNoSecretKey is returned when a secret must be stored but the agent was
// started without a secret key file.
var ErrNoSecretKey = errors.New("the agent has no secret key: start it with --secret-key-file (or KFO_SECRET_KEY_FILE) to store passwords and TLS keys")

// LoadSealer reads a secret key file: at least 32 bytes of random text, for
// example made by `head -c 32 /dev/urandom | base64 > secret.key`.
func LoadSealer(path string) (*Sealer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	text := strings.TrimSpace(string(raw))
	if len(text) < 32 {
		return nil, fmt.Errorf("secret key file %s holds %d bytes; it needs at least 32 random bytes, for example from `head -c 32 /dev/urandom | base64`", path, len(text))
	}
	key := sha256.Sum256([]byte(text))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain for what binding describes (AES-GCM additional data:
// see secrets.go); the nonce travels in front of the ciphertext.
func (s *Sealer) Seal(plain string, binding []byte) ([]byte, error) {
	if s == nil {
		return nil, ErrNoSecretKey
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), binding), nil
}

// errNotOpened is a secret that does not open: sealed for another binding,
// altered, or sealed under another key.
var errNotOpened = errors.New("cannot decrypt a stored secret: it was sealed for another cluster or other connection settings (a record copied or altered on the state topic?), or the agent was started with a different --secret-key-file; send the secret again")

// Open decrypts what Seal produced for the same binding.
func (s *Sealer) Open(sealed, binding []byte) (string, error) {
	if s == nil {
		return "", ErrNoSecretKey
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret is truncated")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], binding)
	if err != nil {
		return "", errNotOpened
	}
	return string(plain), nil
}
