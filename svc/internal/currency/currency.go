// Package currency knows the ISO 4217 currencies a card transaction may be denominated in,
// their minor-unit exponents, and the amount bounds the service enforces per currency.
package currency

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

//go:embed iso4217.csv
var iso4217CSV []byte

// Currency is one ISO 4217 currency.
type Currency struct {
	Code       string // alphabetic code, e.g. "EUR"
	Numeric    int    // numeric code, e.g. 978
	MinorUnits int    // digits after the decimal point: 2 for EUR, 0 for JPY, 3 for BHD
}

// Bounds are the inclusive limits of one transaction's amount, in minor units.
type Bounds struct {
	Min, Max int64
}

var table = mustParse(iso4217CSV)

func mustParse(data []byte) map[string]Currency {
	t := make(map[string]Currency, 160)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		f := strings.Split(s, ",")
		if len(f) != 3 || len(f[0]) != 3 {
			panic(fmt.Sprintf("iso4217.csv:%d: malformed line", line))
		}
		num, err1 := strconv.Atoi(f[1])
		minor, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || minor < 0 || minor > 4 {
			panic(fmt.Sprintf("iso4217.csv:%d: malformed number", line))
		}
		t[f[0]] = Currency{Code: f[0], Numeric: num, MinorUnits: minor}
	}
	return t
}

// Lookup returns the currency with alphabetic code (upper case), if it is in circulation.
func Lookup(code string) (Currency, bool) {
	c, ok := table[code]
	return c, ok
}

// Len is the number of currencies known.
func Len() int { return len(table) }

// pow10 is 10^n for the exponents ISO 4217 uses.
func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// majorBounds overrides DefaultMajorMax for currencies whose unit is worth much less (or
// more) than a US dollar, expressed in major units, so that one bound means roughly the same
// value everywhere. Amounts beyond these go to a human, not to a processor.
var majorBounds = map[string]int64{
	"JPY": 15_000_000,
	"KRW": 130_000_000,
	"IDR": 1_500_000_000,
	"VND": 2_500_000_000,
	"INR": 8_000_000,
	"CLP": 90_000_000,
	"COP": 400_000_000,
	"HUF": 35_000_000,
	"ISK": 13_000_000,
	"PYG": 700_000_000,
	"UGX": 370_000_000,
	"KWD": 30_000,
	"BHD": 37_000,
	"OMR": 38_000,
	"JOD": 70_000,
}

// DefaultMajorMax is the largest amount of one transaction, in major units, for
// currencies without an entry in majorBounds.
const DefaultMajorMax = 100_000

// AmountBounds returns the per-transaction bounds for c in minor units: at least one
// minor unit, at most the currency's major-unit ceiling scaled by its exponent.
func AmountBounds(c Currency) Bounds {
	maxMajor, ok := majorBounds[c.Code]
	if !ok {
		maxMajor = DefaultMajorMax
	}
	return Bounds{Min: 1, Max: maxMajor * pow10(c.MinorUnits)}
}
