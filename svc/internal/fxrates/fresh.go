package fxrates

import (
	"fmt"
	"time"
	// The image has no zoneinfo; the publication time is Frankfurt's.
	_ "time/tzdata"

	"github.com/transaction-validator/transaction-validator/svc/internal/fxrates/target"
)

// ecbZone is Frankfurt's time zone, in which the ECB publishes: CET in winter, CEST in
// summer.
var ecbZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err) // embedded by time/tzdata: cannot happen
	}
	return loc
}()

// PublicationHour is the hour, Frankfurt time, from which a TARGET business day's rates
// are due: the ECB publishes them "usually around 16:00 CET".
const PublicationHour = 16

// Due returns the publication date the source should carry at now: the latest TARGET
// business day whose publication time (PublicationHour, Frankfurt time) has passed.
func Due(now time.Time) time.Time {
	local := now.In(ecbZone)
	due := target.OnOrBefore(local)
	if due.Equal(target.Date(local)) && local.Hour() < PublicationHour {
		due = target.Before(local)
	}
	return due
}

// StaleError means the source answered with well-formed rates that are older than the
// freshness rule allows: the publication is late (or the source is stuck). A later fetch
// may find the new day's rates.
type StaleError struct {
	Date   string // the publication date the source carries
	Due    string // the latest publication date due
	MaxLag int    // business days of lag allowed
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("fx rates stale: the source carries %s, but %s is due (at most %d TARGET business days of lag)",
		e.Date, e.Due, e.MaxLag)
}

// CheckFresh applies the freshness rule to a publication date at now. The date must be a
// TARGET business day, not after today in Frankfurt (an early publication is fine), and
// not older than Due(now) less maxLag TARGET business days. A date that breaks the first
// two is a DataError (the ECB never publishes so); one too old is a StaleError.
func CheckFresh(date string, now time.Time, maxLag int) error {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return dataErr("publication date %q is not YYYY-MM-DD", date)
	}
	if !target.IsBusinessDay(d) {
		return dataErr("publication date %s (%s) is not a TARGET business day", date, d.Weekday())
	}
	if today := target.Date(now.In(ecbZone)); d.After(today) {
		return dataErr("publication date %s is in the future (today is %s in Frankfurt)", date, today.Format(time.DateOnly))
	}
	due := Due(now)
	oldest := due
	for range maxLag {
		oldest = target.Before(oldest)
	}
	if d.Before(oldest) {
		return &StaleError{Date: date, Due: due.Format(time.DateOnly), MaxLag: maxLag}
	}
	return nil
}
