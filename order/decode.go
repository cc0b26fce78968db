package order

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// DecodeError says which field of a detail payload could not be decoded.
type DecodeError struct {
	// Path is the field's dotted path inside data (list indexes are not named), or empty
	// when the payload is not JSON at all.
	Path string
	Err  error
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "decode order detail: " + e.Err.Error()
	}
	return fmt.Sprintf("decode order detail: field %s: %v", e.Path, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decode decodes the data object of an order detail 2.0 response leniently (see the types
// in this package). Unknown fields are ignored; the caller keeps the raw payload for them.
func Decode(data []byte) (*Detail, error) {
	var d Detail
	type plain Detail // the top level needs no leniency of its own: skip one decoding pass
	if err := json.Unmarshal(data, (*plain)(&d)); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &DecodeError{Path: jsonPath(te.Field), Err: fmt.Errorf("cannot use %s as %s", te.Value, te.Type)}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &DecodeError{Err: fmt.Errorf("malformed JSON at byte %d: %w", se.Offset, err)}
		}
		return nil, &DecodeError{Err: err}
	}
	return &d, nil
}

// jsonPath drops the Go names of embedded structs (GoodsFields) that encoding/json puts in
// a field path: the API's names are all lower case.
func jsonPath(p string) string {
	segs := strings.Split(p, ".")
	out := segs[:0]
	for _, s := range segs {
		if s != "" && !unicode.IsUpper(rune(s[0])) {
			out = append(out, s)
		}
	}
	return strings.Join(out, ".")
}

// Hash is the content hash of a detail payload: equal payloads, byte for byte up to
// insignificant white space, have equal hashes.
func Hash(data []byte) [32]byte {
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return sha256.Sum256(data)
	}
	return sha256.Sum256(buf.Bytes())
}
