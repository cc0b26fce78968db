package order

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// JSONOptions are the options of every decoding of the API's JSON: they keep what the API
// may send and a strict decoder would refuse, a name twice (the last wins) and text that
// is not valid UTF-8 (replaced). Names match exactly, as the API spells them: a folded
// match would let an unknown "orderid" overwrite order_id.
var JSONOptions = jsonv2.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// Shanghai is the zone of every time the Xiaoe API sends: its strings carry no offset.
var Shanghai = mustLoadShanghai()

func mustLoadShanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		// Without tzdata on the host the fixed offset is still exact: China has had no DST since 1991.
		return time.FixedZone("Asia/Shanghai", 8*3600)
	}
	return loc
}

// The lenient types below accept what the API documents and what it has been seen to send
// instead: numbers as numeric strings, "" or "--" for nothing, null anywhere. Each one knows
// its SQL value (nil for NULL) so that Flatten needs no per-field code.

// Str is a text field. "", "--" and null are empty and stored as NULL. A number or boolean
// is kept as its literal text; an array or object (a field that changed type) as its
// compact JSON, unless it is empty.
type Str string

func (s *Str) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || isNull(b):
		*s = ""
	case b[0] == '"':
		v, err := unquote(b)
		if err != nil {
			return typeError(b, reflect.TypeFor[string]())
		}
		if v == "--" {
			v = ""
		}
		*s = Str(v)
	case b[0] == '[' || b[0] == '{':
		if isEmptyContainer(b) {
			*s = ""
			return nil
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return typeError(b, reflect.TypeFor[string]())
		}
		*s = Str(buf.String())
	default: // number, true, false
		*s = Str(b)
	}
	return nil
}

func (s Str) SQL() any {
	if s == "" {
		return nil
	}
	return string(s)
}

// Int is an integer field: a code, a count, a quantity. Valid is false when the field
// was missing, null, "" or "--".
type Int struct {
	V     int64
	Valid bool
}

func (i *Int) UnmarshalJSON(b []byte) error {
	v, ok, err := parseInt(b, math.MinInt32, math.MaxInt32)
	if err != nil {
		return err
	}
	*i = Int{V: v, Valid: ok}
	return nil
}

func (i Int) SQL() any {
	if !i.Valid {
		return nil
	}
	return i.V
}

// Fen is an amount of money in fen (0.01 yuan), the unit of every amount in the 2.0 API.
// A fractional value is refused rather than rounded: it would mean the unit has changed.
type Fen struct {
	V     int64
	Valid bool
}

func (f *Fen) UnmarshalJSON(b []byte) error {
	v, ok, err := parseInt(b, math.MinInt64, math.MaxInt64)
	if err != nil {
		return err
	}
	*f = Fen{V: v, Valid: ok}
	return nil
}

func (f Fen) SQL() any {
	if !f.Valid {
		return nil
	}
	return f.V
}

// Int64 is a wide integer that is not money (a Unix timestamp).
type Int64 Fen

func (i *Int64) UnmarshalJSON(b []byte) error { return (*Fen)(i).UnmarshalJSON(b) }
func (i Int64) SQL() any                      { return Fen(i).SQL() }

// Bool is a flag. Besides true and false it accepts 0/1 and their strings.
type Bool struct {
	V     bool
	Valid bool
}

func (x *Bool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return typeError(b, reflect.TypeFor[bool]())
		}
	}
	switch s {
	case "true", "1", "True", "TRUE":
		*x = Bool{V: true, Valid: true}
	case "false", "0", "False", "FALSE":
		*x = Bool{V: false, Valid: true}
	case "null", "", "--":
		*x = Bool{}
	default:
		return typeError(b, reflect.TypeFor[bool]())
	}
	return nil
}

func (x Bool) SQL() any {
	if !x.Valid {
		return nil
	}
	return x.V
}

// Ratio is a decimal that is not money (distribution_ratio).
type Ratio struct {
	V     float64
	Valid bool
}

func (r *Ratio) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s, empty, err := scalarText(b, reflect.TypeFor[float64]())
	if err != nil || empty {
		*r = Ratio{}
		return err
	}
	v, perr := strconv.ParseFloat(s, 64)
	if perr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return typeError(b, reflect.TypeFor[float64]())
	}
	*r = Ratio{V: v, Valid: true}
	return nil
}

func (r Ratio) SQL() any {
	if !r.Valid {
		return nil
	}
	return r.V
}

// Time is a Beijing-time instant. The API's "no time" spellings ("", "--",
// "0000-00-00 00:00:00", "0001-01-01 00:00:00", "-0001-11-30 00:00:00") are the zero Time,
// stored as NULL.
type Time struct{ time.Time }

var timeLayouts = []string{
	time.DateTime,
	"2006-01-02T15:04:05",
	time.DateOnly,
	"2006-01-02 15:04",
	"2006/01/02 15:04:05",
}

func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s, empty, err := scalarText(b, reflect.TypeFor[time.Time]())
	if err != nil || empty || isZeroTime(s) {
		*t = Time{}
		return err
	}
	if len(s) == len(time.DateTime) {
		// The API's own spelling, tried first: each layout that fails costs an error value.
		if v, perr := time.ParseInLocation(time.DateTime, s, Shanghai); perr == nil {
			*t = Time{v}
			return nil
		}
	}
	if sec, perr := strconv.ParseInt(s, 10, 64); perr == nil {
		// Unix seconds, bare or quoted: no sample shows one, but a timestamp is unambiguous,
		// and 0 is one more spelling of "no time".
		switch {
		case sec == 0:
			*t = Time{}
		case sec >= 1e9 && sec < 1e10: // seconds, 2001 to 2286
			*t = Time{time.Unix(sec, 0).In(Shanghai)}
		case sec >= 1e12 && sec < 1e13: // milliseconds
			*t = Time{time.UnixMilli(sec).In(Shanghai)}
		default:
			return typeError(b, reflect.TypeFor[time.Time]())
		}
		return nil
	}
	if len(b) > 0 && b[0] != '"' {
		return typeError(b, reflect.TypeFor[time.Time]())
	}
	if v, perr := time.Parse(time.RFC3339, s); perr == nil {
		*t = Time{v.In(Shanghai)}
		return nil
	}
	for _, layout := range timeLayouts {
		if v, perr := time.ParseInLocation(layout, s, Shanghai); perr == nil {
			*t = Time{v}
			return nil
		}
	}
	return typeError(b, reflect.TypeFor[time.Time]())
}

func (t Time) SQL() any {
	if t.IsZero() {
		return nil
	}
	return t.Time
}

// Date is a calendar day (birth_date). The zero Date is NULL.
type Date struct{ time.Time }

func (d *Date) UnmarshalJSON(b []byte) error {
	var t Time
	if err := t.UnmarshalJSON(b); err != nil {
		return typeError(b, reflect.TypeFor[time.Time]())
	}
	if t.IsZero() {
		*d = Date{}
		return nil
	}
	y, m, day := t.Date()
	*d = Date{time.Date(y, m, day, 0, 0, 0, 0, time.UTC)}
	return nil
}

func (d Date) SQL() any {
	if d.IsZero() {
		return nil
	}
	return d.Time
}

// List is an array that the API may also send as "", null, {} or a string: all of them mean
// no elements.
type List[T any] []T

func (l *List[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	*l = nil
	if dec.PeekKind() == '[' {
		var v []T
		err := jsonv2.UnmarshalDecode(dec, &v)
		*l = v
		return err
	}
	b, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if b[0] == '"' {
		// A list sent as a string: "" means none, and a string holding a JSON array is that
		// array (as PHP code that encodes twice sends it).
		inner, err := unquote(b)
		if err != nil {
			return typeError(b, reflect.TypeFor[[]T]())
		}
		inner = strings.TrimSpace(inner)
		if strings.HasPrefix(inner, "[") {
			var v []T
			if err := jsonv2.Unmarshal([]byte(inner), &v, JSONOptions); err != nil {
				return err
			}
			*l = v
			return nil
		}
		if inner == "" || inner == "--" {
			return nil
		}
		return typeError(b, reflect.TypeFor[[]T]())
	}
	if isNull(b) || isEmptyContainer(b) {
		return nil
	}
	return typeError(b, reflect.TypeFor[[]T]())
}

// decodeSection decodes a section: an object, or one of the spellings of "nothing" that the
// API uses for a missing section (null, "", [] or {}). T has no methods of its own, so that
// an object is decoded in the same pass over the input as the rest of the detail.
func decodeSection[T any](dec *jsontext.Decoder, v *T) error {
	if dec.PeekKind() == '{' {
		return jsonv2.UnmarshalDecode(dec, v)
	}
	b, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if isNull(b) || isEmptyContainer(b) || string(b) == `""` {
		return nil
	}
	return typeError(b, reflect.TypeFor[T]())
}

func parseInt(b []byte, lo, hi int64) (int64, bool, error) {
	b = bytes.TrimSpace(b)
	t := reflect.TypeFor[int64]()
	s, empty, err := scalarText(b, t)
	if err != nil || empty {
		return 0, false, err
	}
	switch s {
	case "true":
		return 1, true, nil
	case "false":
		return 0, true, nil
	}
	v, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		// 12.0 and 1e3 are integers too; 12.5 is not.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
			return 0, false, typeError(b, t)
		}
		v = int64(f)
	}
	if v < lo || v > hi {
		return 0, false, typeError(b, t)
	}
	return v, true, nil
}

// scalarText returns the text of a JSON number, string or boolean; empty reports the
// spellings of "nothing".
func scalarText(b []byte, t reflect.Type) (s string, empty bool, err error) {
	if len(b) == 0 || isNull(b) {
		return "", true, nil
	}
	switch b[0] {
	case '"':
		u, err := unquote(b)
		if err != nil {
			return "", false, typeError(b, t)
		}
		s = strings.TrimSpace(u)
		return s, s == "" || s == "--", nil
	case '[', '{':
		if isEmptyContainer(b) {
			return "", true, nil
		}
		return "", false, typeError(b, t)
	}
	return string(b), false, nil
}

// unquote returns the string a JSON string literal holds; most hold no escapes and need
// no decoding.
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 && bytes.IndexByte(b[1:len(b)-1], '"') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

func isZeroTime(s string) bool {
	switch s {
	case "0000-00-00 00:00:00", "0000-00-00", "0001-01-01 00:00:00", "0001-01-01",
		"-0001-11-30 00:00:00", "1970-01-01 08:00:00":
		return true
	}
	return false
}

func isNull(b []byte) bool { return string(b) == "null" }

func isEmptyContainer(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	open, closing := b[0], b[len(b)-1]
	if !(open == '[' && closing == ']') && !(open == '{' && closing == '}') {
		return false
	}
	return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}

// typeError is the error encoding/json understands: it fills in the field path, so the
// message names the field that could not be decoded.
func typeError(b []byte, t reflect.Type) error {
	v := string(b)
	if len(v) > 64 {
		v = v[:61] + "..."
	}
	return &json.UnmarshalTypeError{Value: v, Type: t}
}
