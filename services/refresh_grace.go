package services

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/models"
)

// RefreshGrace is how long a rotated refresh token still yields the token that replaced it, so two
// tabs that refresh the same token at once both stay signed in. Presenting it later is reuse and
// revokes the whole family.
const RefreshGrace = 10 * time.Second

// successorAEAD is AES-256-GCM under a key derived from the JWT secret, used to keep a rotated
// token's successor recoverable (only hashes of live refresh tokens are stored).
func (a *Auth) successorAEAD() (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, a.s.cfg.JWTSecret)
	mac.Write([]byte("vane refresh-token successor v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSuccessor encrypts the successor's secret, bound to the rotated token's id.
func (a *Auth) sealSuccessor(rotatedID, secret string) (string, error) {
	aead, err := a.successorAEAD()
	if err != nil {
		return "", fmt.Errorf("seal refresh successor: %w", err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal refresh successor: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(secret), []byte(rotatedID))), nil
}

// openSuccessor decrypts what sealSuccessor made for rotatedID.
func (a *Auth) openSuccessor(rotatedID, sealed string) (string, error) {
	aead, err := a.successorAEAD()
	if err != nil {
		return "", err
	}
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(b) < aead.NonceSize() {
		return "", errors.New("malformed sealed refresh successor")
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(rotatedID))
	return string(plain), err
}

// successorInGrace hands back the pair a rotated token was exchanged for moments ago: the same
// refresh token and a fresh access token. Anything amiss (secret cleared, successor revoked or
// rotated in turn, JWT secret changed) is the plain invalid answer, not a reuse.
func (a *Auth) successorInGrace(tx *gorm.DB, rt *models.RefreshToken, invalid error) (*Tokens, error) {
	sealed, err := models.RefreshSuccessorSecret(tx, rt.ID)
	if err != nil {
		return nil, err
	}
	if sealed == "" {
		return nil, invalid
	}
	secret, err := a.openSuccessor(rt.ID, sealed)
	if err != nil {
		return nil, invalid
	}
	next, err := models.RefreshTokenByID(tx, *rt.ReplacedBy)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, invalid
	} else if err != nil {
		return nil, err
	}
	if next.RevokedAt != nil || next.TokenHash != keys.Hash(secret) || !a.s.now().Before(next.ExpiresAt) {
		return nil, invalid
	}
	u, err := models.UserByID(tx, rt.UserID)
	if err != nil {
		return nil, invalid
	}
	access, err := a.accessToken(u)
	if err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: secret, ExpiresIn: int64(a.s.cfg.AccessTokenTTL / time.Second),
		User: u, refreshID: next.ID}, nil
}
