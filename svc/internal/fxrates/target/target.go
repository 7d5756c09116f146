// Package target is the TARGET2 calendar: the days on which the Eurosystem's payment
// system is open, and so the days on which the ECB publishes its euro foreign exchange
// reference rates. The closing days are computed, not listed, so the calendar never runs
// out: Saturdays and Sundays, New Year's Day, Good Friday, Easter Monday, Labour Day
// (1 May), Christmas Day and 26 December.
//
// Days are civil dates: a time.Time is read for its year, month and day in its own
// location, and every date returned is midnight UTC.
package target

import "time"

// Easter returns Easter Sunday of the Gregorian calendar in year, by the anonymous
// Gregorian algorithm (Meeus/Jones/Butcher), valid for every year from 1583.
func Easter(year int) time.Time {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	n := h + l - 7*m + 114
	return time.Date(year, time.Month(n/31), n%31+1, 0, 0, 0, 0, time.UTC)
}

// Date is t's civil date as midnight UTC.
func Date(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Holiday names the TARGET2 closing day that falls on t's date, other than a weekend,
// or returns "" when there is none.
func Holiday(t time.Time) string {
	day := Date(t)
	_, m, d := day.Date()
	switch {
	case m == time.January && d == 1:
		return "New Year's Day"
	case m == time.May && d == 1:
		return "Labour Day"
	case m == time.December && d == 25:
		return "Christmas Day"
	case m == time.December && d == 26:
		return "26 December"
	}
	switch easter := Easter(day.Year()); {
	case day.Equal(easter.AddDate(0, 0, -2)):
		return "Good Friday"
	case day.Equal(easter.AddDate(0, 0, 1)):
		return "Easter Monday"
	}
	return ""
}

// IsBusinessDay reports whether TARGET2 is open on t's date.
func IsBusinessDay(t time.Time) bool {
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday && Holiday(t) == ""
}

// OnOrBefore returns the latest TARGET2 business day on or before t's date.
func OnOrBefore(t time.Time) time.Time {
	day := Date(t)
	for !IsBusinessDay(day) {
		day = day.AddDate(0, 0, -1)
	}
	return day
}

// Before returns the latest TARGET2 business day strictly before t's date.
func Before(t time.Time) time.Time {
	return OnOrBefore(Date(t).AddDate(0, 0, -1))
}
