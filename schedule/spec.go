package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"
)

// SpecError reports a schedule spec that does not parse or that never fires.
type SpecError struct {
	Spec string
	Err  error
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("invalid schedule %q: %v (want 5 fields \"minute hour day-of-month month day-of-week\" such as \"*/5 * * * *\", or a descriptor such as \"@hourly\" or \"@every 5m\")", e.Spec, e.Err)
}

func (e *SpecError) Unwrap() error { return e.Err }

// ValidateSpec reports whether spec is a schedule that Scheduler.Add accepts, as a
// *SpecError when it is not. Accepted are standard 5-field cron specs
// ("minute hour day-of-month month day-of-week"), the descriptors @yearly, @monthly,
// @weekly, @daily, @midnight, @hourly and @every <duration> (whole seconds, at least 1s),
// each optionally prefixed by CRON_TZ=<zone> to override the scheduler's location.
func ValidateSpec(spec string) error {
	_, err := parseSpec(spec, time.UTC)
	return err
}

// parseSpec parses spec with robfig/cron's standard parser, rejecting what it would
// accept silently or crash on: it panics on a time zone prefix with nothing after it,
// rounds "@every 0s", "@every -5m" and "@every 1500ms" to whole positive seconds, and
// returns a schedule that never fires for dates like "0 0 30 2 *". loc is only used to
// check that the schedule fires.
func parseSpec(spec string, loc *time.Location) (cron.Schedule, error) {
	fail := func(err error) (cron.Schedule, error) { return nil, &SpecError{Spec: spec, Err: err} }

	rest := strings.TrimSpace(spec)
	if strings.HasPrefix(rest, "TZ=") || strings.HasPrefix(rest, "CRON_TZ=") {
		zone, after, ok := strings.Cut(rest, " ")
		_, zone, _ = strings.Cut(zone, "=")
		switch {
		case !ok || strings.TrimSpace(after) == "":
			return fail(errors.New("nothing after the time zone"))
		case zone == "":
			// time.LoadLocation("") is UTC, which nobody means by leaving it out.
			return fail(errors.New("empty time zone"))
		}
		rest = strings.TrimSpace(after)
	}
	if d, ok := strings.CutPrefix(rest, "@every "); ok {
		every, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return fail(err)
		}
		if every < time.Second || every%time.Second != 0 {
			return fail(fmt.Errorf("@every %v: the interval must be a whole number of seconds, at least 1s", every))
		}
	}

	sched, err := cron.ParseStandard(strings.TrimSpace(spec))
	if err != nil {
		return fail(err)
	}
	if sched.Next(time.Now().In(loc)).IsZero() {
		return fail(errors.New("it never fires"))
	}
	return sched, nil
}

// Schedule parses spec (see ValidateSpec) as the periodic schedule of River's jobs, in
// loc unless the spec names its own zone.
func Schedule(spec string, loc *time.Location) (river.PeriodicSchedule, error) {
	sched, err := parseSpec(spec, loc)
	if err != nil {
		return nil, err
	}
	return inZone{sched, loc}, nil
}

// inZone reads a spec without a zone in loc: cron reads it in the zone of the time it
// is given.
type inZone struct {
	sched cron.Schedule
	loc   *time.Location
}

func (z inZone) Next(t time.Time) time.Time { return z.sched.Next(t.In(z.loc)) }
