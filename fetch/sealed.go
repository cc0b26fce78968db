package fetch

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// A shared access token is stored sealed: AES-256-GCM under a key derived (HKDF-SHA256)
// from the shop's credentials, the secret among them. Processes configured with the
// secret open it; someone who can only read the table gets nothing usable.

// sealer seals and opens the tokens of one set of credentials.
type sealer struct{ aead cipher.AEAD }

func newSealer(appID, clientID string, secret Secret) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), []byte(appID+"\x00"+clientID), "ordersync access token v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the token key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead}, nil
}

// seal returns tok encrypted, as text: base64 of the nonce and the ciphertext.
func (s *sealer) seal(tok string) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(tok), nil))
}

var errNotSealed = errors.New("the shared access token does not open with these credentials")

// open returns the token sealed in text.
func (s *sealer) open(text string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(text)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errNotSealed
	}
	n := s.aead.NonceSize()
	tok, err := s.aead.Open(nil, b[:n], b[n:], nil)
	if err != nil {
		return "", errNotSealed
	}
	return string(tok), nil
}
