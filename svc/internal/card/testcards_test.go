package card

import (
	"errors"
	"testing"
)

func TestCheckDigitCompletesKnownPANs(t *testing.T) {
	for _, pan := range []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "3530111333300000", "79927398713"} {
		got, err := CheckDigit(pan[:len(pan)-1])
		if err != nil || got != pan[len(pan)-1] {
			t.Errorf("CheckDigit(%s) = %q, %v; want %q", pan[:len(pan)-1], got, err, pan[len(pan)-1])
		}
	}
	for _, bad := range []string{"", "12a4", "٤١١", " 4111"} {
		if _, err := CheckDigit(bad); !errors.Is(err, ErrPANFormat) {
			t.Errorf("CheckDigit(%q): err = %v, want ErrPANFormat", bad, err)
		}
	}
}

// FuzzCheckDigit: for any digit payload, the check digit is the one digit of ten that
// LuhnValid accepts after it.
func FuzzCheckDigit(f *testing.F) {
	for _, s := range []string{"0", "7992739871", "411111111111111", "123456789012345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		cd, err := CheckDigit(payload)
		digits := payload != ""
		for i := 0; i < len(payload); i++ {
			digits = digits && payload[i] >= '0' && payload[i] <= '9'
		}
		if !digits {
			if err == nil {
				t.Fatalf("CheckDigit(%q) accepted a non-digit payload", payload)
			}
			return
		}
		if err != nil {
			t.Fatalf("CheckDigit(%q): %v", payload, err)
		}
		for d := byte('0'); d <= '9'; d++ {
			if LuhnValid(payload+string(d)) != (d == cd) {
				t.Fatalf("payload %q: check digit %q, but LuhnValid with %q = %v", payload, cd, d, !(d == cd))
			}
		}
	})
}

func TestTestPANPerBrand(t *testing.T) {
	brands := []Brand{Visa, Mastercard, Amex, Discover, JCB, UnionPay, Diners, Maestro}
	seen := map[string]Brand{}
	for _, b := range brands {
		r := testRanges[b]
		width := r.length - len(r.prefix) - 1
		maxSerial := 1
		for range width {
			maxSerial *= 10
		}
		maxSerial--
		for _, serial := range []int{0, 1, 9, 10, 12345, maxSerial} {
			pan, err := TestPAN(b, serial)
			if err != nil {
				t.Fatalf("TestPAN(%s, %d): %v", b, serial, err)
			}
			if len(pan) != r.length || DetectBrand(pan) != b || !LuhnValid(pan) {
				t.Errorf("TestPAN(%s, %d) = %s: length %d, brand %s, Luhn %v", b, serial, pan, len(pan), DetectBrand(pan), LuhnValid(pan))
			}
			if other, dup := seen[pan]; dup {
				t.Errorf("TestPAN(%s, %d) = %s repeats a PAN of %s", b, serial, pan, other)
			}
			seen[pan] = b
		}
		for _, serial := range []int{-1, maxSerial + 1} {
			if pan, err := TestPAN(b, serial); !errors.Is(err, ErrTestPAN) {
				t.Errorf("TestPAN(%s, %d) = %q, %v; want ErrTestPAN", b, serial, pan, err)
			}
		}
	}
	if _, err := TestPAN(Unknown, 0); !errors.Is(err, ErrTestPAN) {
		t.Errorf("TestPAN(Unknown) err = %v, want ErrTestPAN", err)
	}
}

// The canary's probe cards are TestPAN(Visa, i); this pins the numbers it has always sent.
func TestTestPANVisaIsTheCanaryRange(t *testing.T) {
	for serial, want := range map[int]string{0: "4000000000000002", 1: "4000000000000010", 123456789: "4000001234567899"} {
		if got, err := TestPAN(Visa, serial); err != nil || got != want {
			t.Errorf("TestPAN(Visa, %d) = %s, %v; want %s", serial, got, err, want)
		}
	}
}
