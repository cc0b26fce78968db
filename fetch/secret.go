package fetch

import (
	"log/slog"
	"net/url"
	"strings"
	"sync"
)

// Secret is a credential. It prints, formats and logs as "REDACTED"; only string(s) gives the
// value, and the client does that in one place: building the token request.
type Secret string

const redacted = "REDACTED"

func (Secret) String() string { return redacted }

// GoString keeps %#v from printing the value.
func (Secret) GoString() string { return redacted }

// LogValue keeps slog from printing the value, also inside groups and structs it walks.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps encoders that honour it (JSON, slog's JSON handler) from writing the value.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// sensitiveParams are the query and body parameters that carry credentials.
var sensitiveParams = []string{"secret_key", "access_token"}

// sanitizeURL returns u with the values of sensitiveParams replaced by REDACTED.
func sanitizeURL(u *url.URL) *url.URL {
	if u == nil {
		return nil
	}
	q := u.Query()
	changed := false
	for _, p := range sensitiveParams {
		if len(q[p]) > 0 {
			q.Set(p, redacted)
			changed = true
		}
	}
	if !changed {
		return u
	}
	c := *u
	c.RawQuery = q.Encode()
	return &c
}

// sanitizeURLString is sanitizeURL for a URL in text form; text that does not parse is
// returned with only its query dropped.
func sanitizeURLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.IndexByte(s, '?'); i >= 0 {
			return s[:i] + "?" + redacted
		}
		return s
	}
	return sanitizeURL(u).String()
}

// sanitizeError rewrites the URL of a *url.Error (what http.Client.Do returns for every
// transport failure) so that the error text carries no credential; the cause is kept for
// errors.Is/As.
func sanitizeError(err error) error {
	ue, ok := err.(*url.Error)
	if !ok {
		return err
	}
	c := *ue
	c.URL = sanitizeURLString(ue.URL)
	return &c
}

// redactor replaces known secret values (the secret key and the last tokens this client
// held) in text that came from elsewhere: a reply body, an API message. It is safe for
// concurrent use.
type redactor struct {
	mu     sync.RWMutex
	secret string
	tokens []string // newest last
}

// maxRedactedTokens bounds the tokens remembered: a token older than a few refreshes has
// long been retired by the API.
const maxRedactedTokens = 8

func (r *redactor) addToken(tok string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, tok)
	if len(r.tokens) > maxRedactedTokens {
		r.tokens = r.tokens[1:]
	}
}

func (r *redactor) redact(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.secret != "" {
		s = strings.ReplaceAll(s, r.secret, redacted)
	}
	for _, t := range r.tokens {
		if t != "" {
			s = strings.ReplaceAll(s, t, redacted)
		}
	}
	return s
}
