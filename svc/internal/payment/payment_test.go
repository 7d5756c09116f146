package payment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestDecide(t *testing.T) {
	if Decide(nil) != Approve {
		t.Fatal("no reasons should approve")
	}
	if Decide([]Reason{ReasonMerchantLimit}) != Review {
		t.Fatal("merchant limit should review")
	}
	if Decide([]Reason{ReasonMerchantLimit, ReasonCardExpired}) != Decline {
		t.Fatal("decline must win over review")
	}
	for r := range severity {
		if Decide([]Reason{r}) == Approve {
			t.Fatalf("reason %s approves", r)
		}
	}
}

func TestPANIsRedactedEverywhere(t *testing.T) {
	const digits = "4111111111111111"
	p := PAN(digits)
	tx := Transaction{PAN: p, MerchantID: "m1", CVV: "123"}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "pan", p, "tx", tx)
	js, _ := json.Marshal(struct{ P PAN }{p})
	outs := []string{
		fmt.Sprint(p), fmt.Sprintf("%v %s %q %#v %+v %x", p, p, p, p, tx, p),
		buf.String(), string(js),
	}
	for _, out := range outs {
		if strings.Contains(out, digits) || strings.Contains(out, "41111111") {
			t.Errorf("PAN leaked: %s", out)
		}
	}
	for _, out := range outs {
		if strings.Contains(out, "123") {
			t.Errorf("CVV leaked: %s", out)
		}
	}
	if p.Reveal() != digits {
		t.Fatal("Reveal")
	}
}
