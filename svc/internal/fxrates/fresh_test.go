package fxrates

import (
	"errors"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDue(t *testing.T) {
	for _, c := range []struct{ now, due string }{
		{"2026-11-23 17:00", "2026-11-23"}, // Monday 18:00 CET: today's rates are out
		{"2026-11-23 14:59", "2026-11-20"}, // Monday 15:59 CET: Friday's are the latest
		{"2026-11-23 15:00", "2026-11-23"}, // 16:00 CET exactly
		{"2026-07-01 13:59", "2026-06-30"}, // 15:59 CEST
		{"2026-07-01 14:00", "2026-07-01"}, // 16:00 CEST: summer time moves it an hour in UTC
		{"2026-11-22 12:00", "2026-11-20"}, // Sunday
		{"2026-04-06 16:15", "2026-04-02"}, // Easter Monday: Maundy Thursday's
		{"2028-12-26 16:15", "2028-12-22"}, // 26 December on a Tuesday, Christmas on Monday
		{"2026-12-31 23:30", "2026-12-31"}, // already 1 January in Frankfurt, a holiday
	} {
		if got := Due(utc(c.now)).Format(time.DateOnly); got != c.due {
			t.Errorf("Due(%s UTC) = %s, want %s", c.now, got, c.due)
		}
	}
}

func TestFreshnessInTargetBusinessDays(t *testing.T) {
	const ok, stale, bad = "ok", "stale", "rejected"
	for _, c := range []struct {
		now, date string
		lag       int
		want      string
	}{
		{"2026-11-23 17:00", "2026-11-23", 0, ok},
		{"2026-11-23 17:00", "2026-11-20", 0, stale}, // late publication: Friday's rates after Monday's were due
		{"2026-11-23 17:00", "2026-11-20", 1, ok},
		{"2026-11-23 17:00", "2026-11-19", 1, stale},
		{"2026-11-23 14:00", "2026-11-20", 0, ok},  // before 16:00 CET
		{"2026-11-23 14:00", "2026-11-23", 0, ok},  // published early
		{"2026-11-23 17:00", "2026-11-24", 0, bad}, // tomorrow in Frankfurt
		{"2026-11-23 23:30", "2026-11-25", 0, bad}, // already Tuesday in Frankfurt, but not yet Wednesday
		{"2026-11-23 17:00", "2026-11-22", 0, bad}, // a Sunday: the ECB never publishes one
		{"2026-11-23 17:00", "2026-11-2", 0, bad},
		// The calendar's holidays cost no freshness: the previous business day's rates are
		// the latest on Easter Monday and after Christmas, whatever the calendar hours.
		{"2026-04-06 16:15", "2026-04-02", 0, ok},
		{"2026-04-07 16:15", "2026-04-07", 0, ok},
		{"2026-04-07 16:15", "2026-04-02", 0, stale},
		{"2026-04-07 16:15", "2026-04-02", 1, ok}, // one business day of lag reaches over the whole of Easter
		{"2028-12-26 16:15", "2028-12-22", 0, ok},
		{"2028-12-27 16:15", "2028-12-22", 0, stale},
		{"2027-01-01 16:15", "2026-12-31", 0, ok},
		{"2027-01-04 16:15", "2026-12-31", 1, ok},
	} {
		err := CheckFresh(c.date, utc(c.now), c.lag)
		var se *StaleError
		var de *DataError
		got := ok
		switch {
		case errors.As(err, &se):
			got = stale
		case errors.As(err, &de):
			got = bad
		case err != nil:
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s at %s UTC, lag %d: %s (%v), want %s", c.date, c.now, c.lag, got, err, c.want)
		}
	}
}
