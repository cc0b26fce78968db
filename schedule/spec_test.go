package schedule

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateSpec(t *testing.T) {
	t.Parallel()
	valid := []string{
		"*/5 * * * *",
		"0 3 * * 1-5",
		" 30 2 1 * * ",
		"@hourly",
		"@daily",
		"@every 5m",
		"@every 1s",
		"@every 1h30m",
		"CRON_TZ=UTC 0 3 * * *",
		"TZ=Asia/Shanghai @every 10m",
	}
	for _, spec := range valid {
		if err := ValidateSpec(spec); err != nil {
			t.Errorf("ValidateSpec(%q) = %v, want nil", spec, err)
		}
	}

	invalid := []struct {
		spec string
		want string // in the error
	}{
		{"", "empty spec"},
		{"   ", "empty spec"},
		{"* * * *", "expected exactly 5 fields, found 4"},
		{"0 * * * * *", "expected exactly 5 fields, found 6"}, // no seconds field
		{"61 * * * *", "above maximum (59)"},
		{"*/0 * * * *", "step of range"},
		{"0 0 30 2 *", "never fires"}, // 30 February
		{"@fortnightly", "unrecognized descriptor"},
		{"@every", "unrecognized descriptor"},
		{"@every five minutes", "invalid duration"},
		// cron would round these to 1s, or to whole seconds, without a word.
		{"@every 0s", "at least 1s"},
		{"@every -5m", "at least 1s"},
		{"@every 500ms", "at least 1s"},
		{"@every 1500ms", "whole number of seconds"},
		// cron panics on these (slice bounds out of range).
		{"TZ=UTC", "nothing after the time zone"},
		{"CRON_TZ=Asia/Shanghai", "nothing after the time zone"},
		{"CRON_TZ=UTC   ", "nothing after the time zone"},
		// time.LoadLocation("") is UTC.
		{"TZ= 0 * * * *", "empty time zone"},
		{"CRON_TZ=Nowhere/City 0 * * * *", "bad location"},
	}
	for _, tt := range invalid {
		err := ValidateSpec(tt.spec)
		var specErr *SpecError
		if !errors.As(err, &specErr) {
			t.Errorf("ValidateSpec(%q) = %v, want a *SpecError", tt.spec, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.Contains(msg, "@every 5m") {
			t.Errorf("ValidateSpec(%q) = %q, want it to contain %q and the hint", tt.spec, msg, tt.want)
		}
	}
}
