package fetchtest

import (
	"strconv"
	"time"
	"unicode/utf8"

	"ordersync/order"
)

// jw writes JSON in the order its methods are called, which encoding/json cannot do for
// the API's quirks (a field that is a number in one order and a string in the next) and
// does slowly for thousands of orders. Each value method writes a key first when k != "";
// elements of an array pass "".
type jw struct {
	b     []byte
	comma bool
}

func (w *jw) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
}

func (w *jw) key(k string) {
	w.sep()
	if k != "" {
		w.b = appendString(w.b, k)
		w.b = append(w.b, ':')
		w.comma = false
	}
}

func (w *jw) obj(k string) { w.key(k); w.b = append(w.b, '{'); w.comma = false }
func (w *jw) end()         { w.b = append(w.b, '}'); w.comma = true }
func (w *jw) arr(k string) { w.key(k); w.b = append(w.b, '['); w.comma = false }
func (w *jw) endArr()      { w.b = append(w.b, ']'); w.comma = true }

func (w *jw) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
	w.comma = true
}

func (w *jw) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
	w.comma = true
}

// numStr writes an integer as a numeric string, as the API sometimes does.
func (w *jw) numStr(k string, v int64) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = strconv.AppendInt(w.b, v, 10)
	w.b = append(w.b, '"')
	w.comma = true
}

func (w *jw) float(k string, v float64) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64)
	w.comma = true
}

func (w *jw) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
	w.comma = true
}

func (w *jw) null(k string) {
	w.key(k)
	w.b = append(w.b, "null"...)
	w.comma = true
}

// raw writes already encoded JSON.
func (w *jw) raw(k string, v []byte) {
	w.key(k)
	w.b = append(w.b, v...)
	w.comma = true
}

// time writes a Beijing time, or zero (one of the API's "no time" spellings) when t is zero.
func (w *jw) time(k string, t time.Time, zero string) {
	if t.IsZero() {
		w.str(k, zero)
		return
	}
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.In(order.Shanghai).AppendFormat(w.b, time.DateTime)
	w.b = append(w.b, '"')
	w.comma = true
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Non-ASCII text is kept as UTF-8, and an invalid
// byte becomes \ufffd. Runs that need no escaping are copied whole: this is the hot loop of
// rendering.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	valid := utf8.ValidString(s)
	done := 0 // s[:done] is written
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf && !valid {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[done:i]...)
				b = append(b, `\ufffd`...)
				done = i + 1
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[done:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		done = i
	}
	b = append(b, s[done:]...)
	return append(b, '"')
}
