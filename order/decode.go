package order

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
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
// It reads the payload once: every section decodes within the same pass.
func Decode(data []byte) (*Detail, error) {
	var d Detail
	type plain Detail // the top level needs no leniency of its own
	if err := jsonv2.Unmarshal(data, (*plain)(&d), JSONOptions); err != nil {
		return nil, decodeError(err)
	}
	return &d, nil
}

func decodeError(err error) *DecodeError {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return &DecodeError{Err: fmt.Errorf("malformed JSON at byte %d: %w", syn.ByteOffset, syn.Err)}
	}
	var se *jsonv2.SemanticError
	if !errors.As(err, &se) {
		return &DecodeError{Err: err}
	}
	de := &DecodeError{Path: fieldPath(se.JSONPointer), Err: err}
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		de.Err = fmt.Errorf("cannot use %s as %s", te.Value, te.Type)
	case se.Err != nil:
		de.Err = se.Err
	}
	return de
}

// fieldPath is the dotted path of the field at p, without list indexes: the API's names
// hold no digits alone.
func fieldPath(p jsontext.Pointer) string {
	var segs []string
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err != nil {
			segs = append(segs, tok)
		}
	}
	return strings.Join(segs, ".")
}

// Hash is the content hash of a detail payload: equal payloads, byte for byte up to
// insignificant white space, have equal hashes. Stored orders keep it, so it must not
// change for equal content (TestHashIsStable).
func Hash(data []byte) [32]byte {
	v := jsontext.Value(bytes.Clone(data))
	if err := v.Compact(); err != nil {
		return sha256.Sum256(data)
	}
	return sha256.Sum256(v)
}
