package card

import (
	"bytes"
	"strings"
	"testing"
)

func TestNormalizePAN(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"4111111111111111", "4111111111111111", true},
		{"4111 1111 1111 1111", "4111111111111111", true},
		{"4111-1111-1111-1111", "4111111111111111", true},
		{"41111111111", "", false},            // 11 digits
		{"41111111111111111111", "", false},   // 20 digits
		{"4111x11111111111", "", false},       // letter
		{"٤١١١١١١١١١١١١١١١", "", false},       // Arabic-Indic digits are not ASCII
		{"4111111111111111\x00", "", false},   // NUL
		{strings.Repeat(" ", 100), "", false}, // too long before stripping
		{"", "", false},
	}
	for _, c := range cases {
		got, err := NormalizePAN(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("NormalizePAN(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && strings.Contains(err.Error(), "4111") {
			t.Errorf("error leaks input: %v", err)
		}
	}
}

func TestLuhn(t *testing.T) {
	valid := []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "3530111333300000", "79927398713"}
	for _, p := range valid {
		if !LuhnValid(p) {
			t.Errorf("LuhnValid(%s) = false", p)
		}
	}
	invalid := []string{"4111111111111112", "5555555555554445", "79927398710", "", "7", "12a4"}
	for _, p := range invalid {
		if LuhnValid(p) {
			t.Errorf("LuhnValid(%s) = true", p)
		}
	}
}

func TestDetectBrand(t *testing.T) {
	cases := map[string]Brand{
		"4111111111111111":    Visa,
		"4222222222222":       Visa,
		"4111111111111111110": Visa,
		"5555555555554444":    Mastercard,
		"2223003122003222":    Mastercard,
		"2720999999999999":    Mastercard,
		"2721000000000000":    Unknown, // just past the 2-series range
		"378282246310005":     Amex,
		"371449635398431":     Amex,
		"3782822463100050":    Unknown, // Amex range, wrong length
		"6011111111111117":    Discover,
		"6445644564456445":    Discover,
		"3530111333300000":    JCB,
		"6200000000000005":    UnionPay,
		"30569309025904":      Diners,
		"36227206271667":      Diners,
		"6759649826438453":    Maestro,
		"1234567890123456":    Unknown,
		"9999999999999999":    Unknown,
	}
	for pan, want := range cases {
		if got := DetectBrand(pan); got != want {
			t.Errorf("DetectBrand(%s) = %s, want %s", pan, got, want)
		}
	}
}

func TestHasherIsKeyedAndDomainSeparated(t *testing.T) {
	if _, err := NewHasher(make([]byte, 31)); err == nil {
		t.Fatal("31-byte key accepted")
	}
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 32)
	h1, _ := NewHasher(k1)
	h2, _ := NewHasher(k2)
	pan := []byte("4111111111111111")
	if h1.Sum("pan", pan) != h1.Sum("pan", pan) {
		t.Fatal("hash is not deterministic")
	}
	if h1.Sum("pan", pan) == h2.Sum("pan", pan) {
		t.Fatal("different keys give the same hash")
	}
	if h1.Sum("pan", pan) == h1.Sum("token", pan) {
		t.Fatal("domains are not separated")
	}
	sum := h1.Sum("pan", pan)
	if bytes.Contains(sum[:], pan) {
		t.Fatal("hash contains the PAN")
	}
}

func TestLast4(t *testing.T) {
	if Last4("4111111111111234") != "1234" || Last4("12") != "" {
		t.Fatal("Last4 wrong")
	}
}

// FuzzPAN checks that no input makes the PAN handling panic, that a normalised PAN is
// always 12-19 ASCII digits, and that the error never carries the input.
func FuzzPAN(f *testing.F) {
	for _, s := range []string{"4111111111111111", "4111 1111 1111 1111", "", "x", "3782-822463-10005", strings.Repeat("9", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pan, err := NormalizePAN(s)
		if err != nil {
			// The one constant error can carry nothing of the input (a substring test
			// would flag inputs like " 12 " that occur in the constant's own text).
			if err != ErrPANFormat {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(pan) < MinPANLength || len(pan) > MaxPANLength {
			t.Fatalf("normalised PAN has length %d", len(pan))
		}
		for i := 0; i < len(pan); i++ {
			if pan[i] < '0' || pan[i] > '9' {
				t.Fatalf("non-digit in normalised PAN")
			}
		}
		_ = LuhnValid(pan)
		b := DetectBrand(pan)
		if b != Unknown && CVVLength(b) < 3 {
			t.Fatalf("bad CVV length")
		}
		if Last4(pan) != pan[len(pan)-4:] {
			t.Fatalf("Last4 mismatch")
		}
	})
}
