package fetchtest

import (
	"encoding/json"
	"testing"
)

// TestAppendString checks that strings of every kind come back from a JSON decoder as they
// went in, invalid bytes as U+FFFD.
func TestAppendString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain ascii", "plain ascii"},
		{`say "hi" \ bye`, `say "hi" \ bye`},
		{"line\nbreak\ttab\rreturn", "line\nbreak\ttab\rreturn"},
		{"bell\x07 and \x1f", "bell\x07 and \x1f"},
		{"高一下生物同步课（教材套装）", "高一下生物同步课（教材套装）"},
		{"混合 \"引号\"\n末尾", "混合 \"引号\"\n末尾"},
		{"bad \xff byte", "bad \ufffd byte"},
		{"中\xe4\xb8文", "中\ufffd\ufffd文"},
	} {
		b := appendString([]byte("x"), tc.in)
		var got string
		if err := json.Unmarshal(b[1:], &got); err != nil || got != tc.want {
			t.Errorf("appendString(%q) = %s, decodes to %q (%v), want %q", tc.in, b[1:], got, err, tc.want)
		}
	}
}
