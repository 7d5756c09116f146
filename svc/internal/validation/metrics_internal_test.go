package validation

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// A reason code the service does not know (a bug, a code added without its severity)
// is counted as "other": the label's values stay the fixed codes plus one.
func TestUnknownReasonIsOther(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h := m.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Context().Value(outcomeKey).(*outcome)
		o.decision, o.reasons = "decline", []payment.Reason{"something_new", payment.ReasonCVVInvalid}
		w.WriteHeader(http.StatusOK)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/api/validate", nil))

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != MetricReasons {
			continue
		}
		for _, s := range mf.GetMetric() {
			var reason string
			for _, l := range s.GetLabel() {
				if l.GetName() == "reason" {
					reason = l.GetValue()
				}
			}
			got[reason] += s.GetCounter().GetValue()
		}
	}
	if got[otherReason] != 1 || got[string(payment.ReasonCVVInvalid)] != 1 || got["something_new"] != 0 {
		t.Errorf("counts by reason %v, want other=1 and cvv_invalid=1", got)
	}
	if len(got) != len(payment.Reasons())+1 {
		t.Errorf("%d reason values %v, want the %d codes and other", len(got), got, len(payment.Reasons()))
	}
}
