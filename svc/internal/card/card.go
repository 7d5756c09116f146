// Package card holds everything the service knows about payment cards: PAN syntax, the
// Luhn check digit, brand detection by IIN range, and the keyed hash that stands in for a
// PAN wherever one would otherwise be stored or logged (PCI DSS requirement 3.5).
package card

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"sync"
)

// Brand is a card scheme, identified from the PAN's issuer identification number.
type Brand string

// Brands the service recognises. Unknown means the IIN matched no supported range.
const (
	Unknown    Brand = "unknown"
	Visa       Brand = "visa"
	Mastercard Brand = "mastercard"
	Amex       Brand = "amex"
	Discover   Brand = "discover"
	JCB        Brand = "jcb"
	UnionPay   Brand = "unionpay"
	Diners     Brand = "diners"
	Maestro    Brand = "maestro"
)

// ErrPANFormat is returned for a PAN that is not 12 to 19 ASCII digits.
var ErrPANFormat = errors.New("card number must be 12 to 19 digits")

// MinPANLength and MaxPANLength bound a PAN per ISO/IEC 7812-1.
const (
	MinPANLength = 12
	MaxPANLength = 19
)

// NormalizePAN strips the spaces and dashes people type between digit groups and checks
// that what is left is 12 to 19 ASCII digits. It never echoes the input in its error, so
// the error is safe to log.
func NormalizePAN(s string) (string, error) {
	if len(s) > 2*MaxPANLength {
		return "", ErrPANFormat
	}
	buf := make([]byte, 0, MaxPANLength)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if len(buf) == MaxPANLength {
				return "", ErrPANFormat
			}
			buf = append(buf, c)
		case c == ' ' || c == '-':
		default:
			return "", ErrPANFormat
		}
	}
	if len(buf) < MinPANLength {
		return "", ErrPANFormat
	}
	return string(buf), nil
}

// LuhnValid reports whether digits (ASCII digits only) carries a correct mod-10 check digit.
func LuhnValid(digits string) bool {
	if len(digits) < 2 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// iinRange is an inclusive range over the first `digits` digits of a PAN, with the PAN
// lengths the scheme issues in that range.
type iinRange struct {
	lo, hi  int
	digits  int
	brand   Brand
	lengths []int
}

// iinRanges are checked in order, most specific first, so that e.g. Diners' 36 is not
// read as another scheme. Sources: the schemes' published IIN tables (2024 editions).
var iinRanges = []iinRange{
	{2221, 2720, 4, Mastercard, []int{16}},
	{51, 55, 2, Mastercard, []int{16}},
	{34, 34, 2, Amex, []int{15}},
	{37, 37, 2, Amex, []int{15}},
	{6011, 6011, 4, Discover, []int{16, 17, 18, 19}},
	{644, 649, 3, Discover, []int{16, 17, 18, 19}},
	{65, 65, 2, Discover, []int{16, 17, 18, 19}},
	{3528, 3589, 4, JCB, []int{16, 17, 18, 19}},
	{62, 62, 2, UnionPay, []int{16, 17, 18, 19}},
	{300, 305, 3, Diners, []int{14, 15, 16, 17, 18, 19}},
	{36, 36, 2, Diners, []int{14, 15, 16, 17, 18, 19}},
	{38, 39, 2, Diners, []int{16, 17, 18, 19}},
	{50, 50, 2, Maestro, []int{12, 13, 14, 15, 16, 17, 18, 19}},
	{56, 58, 2, Maestro, []int{12, 13, 14, 15, 16, 17, 18, 19}},
	{6, 6, 1, Maestro, []int{12, 13, 14, 15, 16, 17, 18, 19}},
	{4, 4, 1, Visa, []int{13, 16, 19}},
}

// DetectBrand returns the scheme whose IIN range and length table match the normalised
// PAN, or Unknown.
func DetectBrand(pan string) Brand {
	for _, r := range iinRanges {
		if len(pan) < r.digits {
			continue
		}
		prefix := 0
		for i := 0; i < r.digits; i++ {
			prefix = prefix*10 + int(pan[i]-'0')
		}
		if prefix < r.lo || prefix > r.hi {
			continue
		}
		for _, n := range r.lengths {
			if n == len(pan) {
				return r.brand
			}
		}
		return Unknown
	}
	return Unknown
}

// CVVLength is the security-code length the brand prints on its cards.
func CVVLength(b Brand) int {
	if b == Amex {
		return 4
	}
	return 3
}

// Last4 returns the last four digits, the only part of a PAN PCI DSS allows to be shown.
func Last4(pan string) string {
	if len(pan) < 4 {
		return ""
	}
	return pan[len(pan)-4:]
}

// Hasher computes keyed hashes (HMAC-SHA-256) of card data. A keyed hash, unlike a plain
// SHA-256, cannot be reversed by enumerating the small space of valid PANs without the
// key, which lives in a secret store and never in the database that holds the hashes.
type Hasher struct {
	pool sync.Pool
}

// MinKeyLength is the shortest HMAC key accepted: 256 bits.
const MinKeyLength = 32

// NewHasher returns a Hasher for key, which must be at least MinKeyLength bytes.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinKeyLength {
		return nil, errors.New("card hash key must be at least 32 bytes")
	}
	k := append([]byte(nil), key...)
	h := &Hasher{}
	h.pool.New = func() any { return hmac.New(sha256.New, k) }
	return h, nil
}

// Sum returns HMAC-SHA-256(key, domain || 0x00 || data). The domain separates hashes of
// different kinds of data (a PAN, a token, a request body) so that equal inputs of
// different kinds never collide.
func (h *Hasher) Sum(domain string, data []byte) [sha256.Size]byte {
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write(data)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	h.pool.Put(m)
	return out
}
