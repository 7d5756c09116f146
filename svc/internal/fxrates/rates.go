// Package fxrates is the scheduled ETL job that fetches the ECB's daily euro foreign
// exchange reference rates, validates and normalises them, and writes them to S3 under
// a date-partitioned key. They are meant for per-merchant limits in one base currency;
// nothing reads them yet (planned: docs/fx-rates-etl.md). A run is idempotent: the
// object's content depends only on the source data, and an identical object already in
// place is left alone.
package fxrates

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/currency"
)

// Rates is one day's reference rates: units of each currency per one unit of Base.
type Rates struct {
	Source string            `json:"source"`
	Base   string            `json:"base"`
	Date   string            `json:"date"` // YYYY-MM-DD, the ECB's publication date
	Rates  map[string]string `json:"rates"`
}

// The ECB's namespaces: the GESMES envelope, and the eurofxref vocabulary of its Cubes.
const (
	gesmesNS    = "http://www.gesmes.org/xml/2002-08-01"
	eurofxrefNS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
)

// ecbEnvelope mirrors eurofxref-daily.xml: gesmes:Envelope > Cube > Cube[time] >
// Cube[currency,rate], each Cube in the eurofxref namespace.
type ecbEnvelope struct {
	Cube struct {
		Days []struct {
			Time  string `xml:"time,attr"`
			Rates []struct {
				Currency string `xml:"currency,attr"`
				Rate     string `xml:"rate,attr"`
			} `xml:"http://www.ecb.int/vocabulary/2002-08-01/eurofxref Cube"`
		} `xml:"http://www.ecb.int/vocabulary/2002-08-01/eurofxref Cube"`
	} `xml:"http://www.ecb.int/vocabulary/2002-08-01/eurofxref Cube"`
}

// DataError means the source answered, but with data the job must not publish. It is not
// retried: the same source would give the same data.
type DataError struct{ Reason string }

func (e *DataError) Error() string { return "fx rates rejected: " + e.Reason }

func dataErr(format string, args ...any) error {
	return &DataError{Reason: fmt.Sprintf(format, args...)}
}

var decimalRate = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,8})?$`)

// Limits on what a plausible daily file holds.
const (
	MinCurrencies = 20 // the ECB publishes about 30
	maxBodyBytes  = 1 << 20
)

// ParseECB reads eurofxref-daily.xml and checks it: exactly one day, dated YYYY-MM-DD,
// at least MinCurrencies ISO 4217 currencies in circulation, each once, each with a
// positive decimal rate. Whether the date is fresh is CheckFresh's question.
func ParseECB(body []byte) (Rates, error) {
	if len(body) > maxBodyBytes {
		return Rates{}, dataErr("document larger than %d bytes", maxBodyBytes)
	}
	// The root must be the ECB's own envelope: an HTML error page, a proxy's notice or
	// another source's document that happens to hold Cube elements is not the ECB's data.
	dec := xml.NewDecoder(bytes.NewReader(body))
	root, err := rootElement(dec)
	if err != nil {
		return Rates{}, dataErr("not the ECB XML document: %v", err)
	}
	if root.Name.Space != gesmesNS || root.Name.Local != "Envelope" {
		return Rates{}, dataErr("not the ECB XML document: root element is <%s> in namespace %q, want gesmes:Envelope in %q",
			root.Name.Local, root.Name.Space, gesmesNS)
	}
	var env ecbEnvelope
	if err := dec.DecodeElement(&env, &root); err != nil {
		return Rates{}, dataErr("not the ECB XML document: %v", err)
	}
	if err := rest(dec); err != nil {
		return Rates{}, dataErr("not the ECB XML document: %v", err)
	}
	if len(env.Cube.Days) != 1 {
		return Rates{}, dataErr("expected one day of rates, found %d", len(env.Cube.Days))
	}
	day := env.Cube.Days[0]
	if _, err := time.Parse(time.DateOnly, day.Time); err != nil {
		return Rates{}, dataErr("publication date %q is not YYYY-MM-DD", day.Time)
	}
	out := Rates{Source: "ecb-eurofxref-daily", Base: "EUR", Date: day.Time, Rates: make(map[string]string, len(day.Rates))}
	for _, r := range day.Rates {
		if _, ok := currency.Lookup(r.Currency); !ok || r.Currency == "EUR" {
			return Rates{}, dataErr("unknown or invalid currency %q", r.Currency)
		}
		if _, dup := out.Rates[r.Currency]; dup {
			return Rates{}, dataErr("currency %s listed twice", r.Currency)
		}
		f, err := strconv.ParseFloat(r.Rate, 64)
		if !decimalRate.MatchString(r.Rate) || err != nil || f <= 0 || math.IsInf(f, 0) {
			return Rates{}, dataErr("rate for %s is not a positive decimal: %q", r.Currency, r.Rate)
		}
		out.Rates[r.Currency] = r.Rate
	}
	if len(out.Rates) < MinCurrencies {
		return Rates{}, dataErr("only %d currencies, expected at least %d", len(out.Rates), MinCurrencies)
	}
	return out, nil
}

// rootElement returns the document's first element, skipping the prolog (declaration,
// comments, whitespace).
func rootElement(dec *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, fmt.Errorf("no root element: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, errors.New("text before the root element")
			}
		}
	}
}

// rest checks that nothing but whitespace, comments and processing instructions follows
// the root element: a second document appended to the first is not the ECB's file.
func rest(dec *xml.Decoder) error {
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return fmt.Errorf("a second element <%s> after the root element", t.Name.Local)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text after the root element")
			}
		}
	}
}

// Canonical is the object body: JSON with sorted keys and a final newline, so that the
// same rates always give the same bytes and the same checksum.
func (r Rates) Canonical() []byte {
	codes := make([]string, 0, len(r.Rates))
	for c := range r.Rates {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"source":%q,"base":%q,"date":%q,"rates":{`, r.Source, r.Base, r.Date)
	for i, c := range codes {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", c, r.Rates[c])
	}
	b.WriteString("}}\n")
	return b.Bytes()
}

// ParseCanonical reads an object written by the job back, for verification.
func ParseCanonical(body []byte) (Rates, error) {
	var r Rates
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Rates{}, err
	}
	if !bytes.Equal(r.Canonical(), body) {
		return Rates{}, errors.New("object is not in canonical form")
	}
	return r, nil
}
