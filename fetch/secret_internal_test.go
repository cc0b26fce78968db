package fetch

import (
	"net/url"
	"strings"
	"testing"
)

func TestSanitizeURL(t *testing.T) {
	raw := "https://api.example.com/token?app_id=app1&client_id=xop1&secret_key=s3cr3t-value&grant_type=client_credential&access_token=tok-value"
	for _, got := range []string{
		sanitizeURLString(raw),
		sanitizeError(&url.Error{Op: "Get", URL: raw, Err: errTest}).Error(),
		sanitizeURLString("http://[bad/token?secret_key=s3cr3t-value"), // does not parse
	} {
		if strings.Contains(got, "s3cr3t-value") || strings.Contains(got, "tok-value") {
			t.Errorf("sanitized text %q still holds a credential", got)
		}
	}
	if got := sanitizeURLString(raw); !strings.Contains(got, "app_id=app1") || !strings.Contains(got, "secret_key=REDACTED") {
		t.Errorf("sanitizeURLString kept too little: %q", got)
	}
}

func TestRedactor(t *testing.T) {
	r := &redactor{secret: "the-secret"}
	for i := range maxRedactedTokens + 2 {
		r.addToken(strings.Repeat("t", 10+i))
	}
	got := r.redact("secret the-secret token " + strings.Repeat("t", 10+maxRedactedTokens+1))
	if strings.Contains(got, "the-secret") || strings.Contains(got, "tttttttttt") {
		t.Errorf("redact left a secret in %q", got)
	}
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("connection refused")
