package dashboard

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// shanghai is the shops' zone, in which a report's day is a calendar day. A fixed offset
// is exact (China has kept UTC+8 without daylight saving since 1991) and needs no tzdata.
var shanghai = time.FixedZone("Asia/Shanghai", 8*60*60)

// Yuan formats fen as yuan with two decimals and thousands separators ("-1,234.05"), in
// integer arithmetic: a float would round some amounts.
func Yuan(fen int64) string {
	u := uint64(fen)
	sign := ""
	if fen < 0 {
		sign, u = "-", -u // unsigned negation is exact even for the smallest int64
	}
	return fmt.Sprintf("%s%s.%02d", sign, group(strconv.FormatUint(u/100, 10)), u%100)
}

// count formats a whole number with thousands separators.
func count[T int | int64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	if n < 0 {
		return "-" + group(s[1:])
	}
	return group(s)
}

// group puts a comma between each three digits of s, from the right.
func group(s string) string {
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	head := len(s) % 3
	if head > 0 {
		b.WriteString(s[:head])
	}
	for i := head; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// when formats a time as Shanghai wall time to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(shanghai).Format(time.DateTime)
}

// age says how long ago t was from now, roughly: "45s", "12m", "3h 5m", "2d 4h".
func age(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// hours formats hours to one decimal, or a dash when there are none (nothing delivered).
func hours(h *float64) string {
	if h == nil {
		return "—"
	}
	return strconv.FormatFloat(*h, 'f', 1, 64)
}

// clip shortens s to n runes, marking the cut; errors can be long.
func clip(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

var funcs = template.FuncMap{
	"yuan":  Yuan,
	"count": count[int64],
	"num":   count[int],
	"when":  when,
	"age":   age,
	"hours": hours,
	"clip":  clip,
}
