package services

import (
	_ "embed" // the common-password list
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/vanehq/vane/internal/errs"
)

// MinPasswordLength is the fewest characters a new password may have.
const MinPasswordLength = 10

// maxPasswordBytes is bcrypt's limit: it ignores everything past 72 bytes.
const maxPasswordBytes = 72

// commonPasswordsText is 2,494 passwords seen in breaches, one a line, lowercased, 10 to 72 bytes
// (shorter ones fail the length rule anyway). It is the union of Django's common-passwords list by
// Royce Williams (BSD-3-Clause), zxcvbn's password frequency list (MIT, Dropbox) and SecLists'
// ten-million-list top 10,000 (MIT, Daniel Miessler); common_passwords_NOTICE.txt has the
// details and the licences.
//
//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is the embedded list as a set, built on first use and never changed.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 2600)
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			set[line] = struct{}{}
		}
	}
	return set
})

// isCommonPassword reports whether pw, lowercased, is on the embedded list.
func isCommonPassword(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(strings.TrimSpace(pw))]
	return ok
}

// validatePassword checks a new password against the policy: at least MinPasswordLength
// characters, at most 72 bytes (bcrypt's limit), not the account's own email address, the part of
// it before the @, or its username (any case), and not on the list of commonly breached passwords.
// identities are the account's email and username ("" when it has none).
func validatePassword(v *errs.Validation, field, pw string, identities ...string) {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLength:
		v.Add(field, "must be at least %d characters", MinPasswordLength)
		return
	case len(pw) > maxPasswordBytes:
		v.Add(field, "must be at most %d bytes", maxPasswordBytes)
		return
	}
	candidate := strings.TrimSpace(pw)
	for _, id := range identities {
		local, _, _ := strings.Cut(id, "@")
		if id != "" && (strings.EqualFold(candidate, id) || strings.EqualFold(candidate, local)) {
			v.Add(field, "must not be your email address or username")
			return
		}
	}
	if isCommonPassword(pw) {
		v.Add(field, "is one of the most common passwords seen in breaches; choose another (a few unrelated words work well)")
	}
}
