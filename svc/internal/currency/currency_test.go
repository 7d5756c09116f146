package currency

import "testing"

func TestLookup(t *testing.T) {
	cases := map[string]int{"USD": 2, "EUR": 2, "JPY": 0, "BHD": 3, "KWD": 3, "CLP": 0, "VES": 2, "XCG": 2}
	for code, minor := range cases {
		c, ok := Lookup(code)
		if !ok || c.MinorUnits != minor {
			t.Errorf("Lookup(%s) = %+v, %v; want minor %d", code, c, ok, minor)
		}
	}
	for _, code := range []string{"XXX", "XTS", "XAU", "HRK", "BGN", "usd", "US", "", "EURO", "CLF"} {
		if _, ok := Lookup(code); ok {
			t.Errorf("Lookup(%q) accepted", code)
		}
	}
	if Len() < 150 {
		t.Fatalf("only %d currencies loaded", Len())
	}
}

func TestAmountBoundsScaleByExponent(t *testing.T) {
	usd, _ := Lookup("USD")
	if b := AmountBounds(usd); b.Min != 1 || b.Max != 100_000_00 {
		t.Errorf("USD bounds %+v", b)
	}
	jpy, _ := Lookup("JPY")
	if b := AmountBounds(jpy); b.Max != 15_000_000 {
		t.Errorf("JPY bounds %+v", b)
	}
	bhd, _ := Lookup("BHD")
	if b := AmountBounds(bhd); b.Max != 37_000_000 {
		t.Errorf("BHD bounds %+v", b)
	}
}
