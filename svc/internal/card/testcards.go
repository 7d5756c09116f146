package card

import (
	"errors"
	"strconv"
)

// ErrTestPAN is returned by TestPAN for a brand it has no test range for, or a serial
// that does not fit the range.
var ErrTestPAN = errors.New("card: no test PAN for this brand and serial")

// CheckDigit returns the Luhn check digit, an ASCII '0' to '9', that completes payload:
// payload followed by it passes LuhnValid. payload must be one or more ASCII digits.
func CheckDigit(payload string) (byte, error) {
	if payload == "" {
		return 0, ErrPANFormat
	}
	sum := 0
	for k := 0; k < len(payload); k++ {
		c := payload[len(payload)-1-k]
		if c < '0' || c > '9' {
			return 0, ErrPANFormat
		}
		d := int(c - '0')
		// The rightmost payload digit is the second from the right once the check digit
		// is appended: it and every other one to its left are doubled.
		if k%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10), nil
}

// testRange is where a brand's test PANs are made: a fixed prefix inside one of the
// brand's IIN ranges (iinRanges), the serial zero-padded after it, then the check digit.
type testRange struct {
	prefix string
	length int
}

// testRanges gives each brand DetectBrand recognises one range. Visa's is the 4000 00
// prefix the canary probe has always used, so its traffic is what it was.
var testRanges = map[Brand]testRange{
	Visa:       {"400000", 16},
	Mastercard: {"222300", 16},
	Amex:       {"370000", 15},
	Discover:   {"601100", 16},
	JCB:        {"353000", 16},
	UnionPay:   {"620000", 16},
	Diners:     {"360000", 14},
	Maestro:    {"500000", 16},
}

// TestPAN returns the serial-th synthetic PAN of brand b: a number DetectBrand reads as b
// that passes LuhnValid, different for every serial. It is for traffic that is not a
// customer's (the canary probe, the load generator, tests), which needs many distinct
// cards so that the per-card velocity limit does not turn it into a rate-limit test.
// Serials run from 0 up to the range's capacity (10^8 for a 14-digit brand, 10^9 for
// the 16-digit ones); outside it, or for Unknown, the error is ErrTestPAN.
func TestPAN(b Brand, serial int) (string, error) {
	r, ok := testRanges[b]
	if !ok || serial < 0 {
		return "", ErrTestPAN
	}
	width := r.length - len(r.prefix) - 1
	s := strconv.Itoa(serial)
	if len(s) > width {
		return "", ErrTestPAN
	}
	payload := make([]byte, 0, r.length)
	payload = append(payload, r.prefix...)
	for range width - len(s) {
		payload = append(payload, '0')
	}
	payload = append(payload, s...)
	cd, err := CheckDigit(string(payload))
	if err != nil {
		return "", err
	}
	return string(append(payload, cd)), nil
}
