package target

import (
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Published Easter Sundays, including both dates on which Gauss's formula needs its
// exceptions (1954, 1981) and the earliest and latest possible dates (22 March, 25 April).
func TestEasterKnownDates(t *testing.T) {
	for year, want := range map[int]string{
		1583: "1583-04-10", 1818: "1818-03-22", 1943: "1943-04-25", 1954: "1954-04-18", 1981: "1981-04-19",
		2000: "2000-04-23", 2019: "2019-04-21", 2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05",
		2027: "2027-03-28", 2028: "2028-04-16", 2029: "2029-04-01", 2030: "2030-04-21", 2038: "2038-04-25",
		2285: "2285-03-22",
	} {
		if got := Easter(year).Format(time.DateOnly); got != want {
			t.Errorf("Easter(%d) = %s, want %s", year, got, want)
		}
	}
}

// gaussEaster is Gauss's Easter algorithm for the Gregorian calendar with its two
// exceptions: a second method, independent of the anonymous algorithm under test.
func gaussEaster(year int) time.Time {
	a, b, c := year%19, year%4, year%7
	k := year / 100
	p := (13 + 8*k) / 25
	q := k / 4
	M := (15 - p + k - q) % 30
	N := (4 + k - q) % 7
	d := (19*a + M) % 30
	e := (2*b + 4*c + 6*d + N) % 7
	switch {
	case d == 29 && e == 6:
		return time.Date(year, time.April, 19, 0, 0, 0, 0, time.UTC)
	case d == 28 && e == 6 && (11*M+11)%30 < 19:
		return time.Date(year, time.April, 18, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(year, time.March, 22+d+e, 0, 0, 0, 0, time.UTC) // time.Date normalises March 32+ into April
}

// Every year from the Gregorian reform (1583) to 4099: both methods agree, and the date is
// a Sunday between 22 March and 25 April. Exhaustive, so stronger than a fuzz target.
func TestEasterAgreesWithGauss(t *testing.T) {
	for year := 1583; year <= 4099; year++ {
		got, want := Easter(year), gaussEaster(year)
		if !got.Equal(want) {
			t.Fatalf("%d: anonymous algorithm %s, Gauss %s", year, got.Format(time.DateOnly), want.Format(time.DateOnly))
		}
		if got.Weekday() != time.Sunday || got.Before(time.Date(year, 3, 22, 0, 0, 0, 0, time.UTC)) ||
			got.After(time.Date(year, 4, 25, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("%d: Easter %s is not a Sunday from 22 March to 25 April", year, got.Format("2006-01-02 Mon"))
		}
	}
}

func TestHolidaysAndWeekends(t *testing.T) {
	closed := map[string]string{
		"2024-01-01": "New Year's Day", "2024-03-29": "Good Friday", "2024-04-01": "Easter Monday",
		"2024-05-01": "Labour Day", "2024-12-25": "Christmas Day", "2024-12-26": "26 December",
		"2025-04-18": "Good Friday", "2025-04-21": "Easter Monday", "2025-12-26": "26 December",
		"2026-01-01": "New Year's Day", "2026-04-03": "Good Friday", "2026-04-06": "Easter Monday",
		"2026-05-01": "Labour Day", "2026-12-25": "Christmas Day", "2026-12-26": "26 December",
		"2027-03-26": "Good Friday", "2027-03-29": "Easter Monday", "2028-04-14": "Good Friday",
		"2028-04-17": "Easter Monday", "2029-03-30": "Good Friday", "2029-04-02": "Easter Monday",
		"2030-04-19": "Good Friday", "2030-04-22": "Easter Monday", "2030-12-26": "26 December",
	}
	for d, want := range closed {
		if got := Holiday(day(d)); got != want {
			t.Errorf("Holiday(%s) = %q, want %q", d, got, want)
		}
		if IsBusinessDay(day(d)) {
			t.Errorf("%s (%s) is a business day", d, want)
		}
	}
	// Christmas Eve and New Year's Eve are open; so are the days either side of Easter.
	open := []string{
		"2024-12-24", "2024-12-27", "2024-12-31", "2025-01-02", "2026-04-02", "2026-04-07",
		"2026-11-23", "2026-05-04", "2027-04-05",
	}
	for _, d := range open {
		if !IsBusinessDay(day(d)) {
			t.Errorf("%s (%s) is closed (%q)", d, day(d).Weekday(), Holiday(day(d)))
		}
	}
	for _, d := range []string{"2026-11-21", "2026-11-22", "2027-05-01", "2027-12-25"} { // weekends, one also a holiday
		if IsBusinessDay(day(d)) {
			t.Errorf("%s (%s) is a business day", d, day(d).Weekday())
		}
	}
}

func TestPreviousBusinessDay(t *testing.T) {
	for _, c := range []struct{ at, onOrBefore, before string }{
		{"2026-11-23", "2026-11-23", "2026-11-20"}, // Monday: the previous one is Friday
		{"2026-11-22", "2026-11-20", "2026-11-20"}, // Sunday
		{"2026-04-06", "2026-04-02", "2026-04-02"}, // Easter Monday: back over Easter to Maundy Thursday
		{"2026-04-07", "2026-04-07", "2026-04-02"},
		{"2026-12-28", "2026-12-28", "2026-12-24"}, // Monday after a Christmas on Friday and 26 December on Saturday
		{"2025-12-29", "2025-12-29", "2025-12-24"}, // 25 and 26 December on Thursday and Friday
		{"2027-01-01", "2026-12-31", "2026-12-31"},
	} {
		if got := OnOrBefore(day(c.at)).Format(time.DateOnly); got != c.onOrBefore {
			t.Errorf("OnOrBefore(%s) = %s, want %s", c.at, got, c.onOrBefore)
		}
		if got := Before(day(c.at)).Format(time.DateOnly); got != c.before {
			t.Errorf("Before(%s) = %s, want %s", c.at, got, c.before)
		}
	}
}

// A time is read for its date in its own location: late on 1 January in New York is
// already 2 January in UTC, but the day asked about is New Year's Day.
func TestDateIsReadInItsOwnLocation(t *testing.T) {
	ny := time.FixedZone("EST", -5*3600)
	late := time.Date(2026, 1, 1, 22, 0, 0, 0, ny)
	if IsBusinessDay(late) || !Date(late).Equal(day("2026-01-01")) {
		t.Fatalf("%s read as %s", late, Date(late))
	}
}
