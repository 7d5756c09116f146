package console_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth/albauthtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/console"
)

// counter is the value of the series name{labels} in reg (0 when there is none).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			if len(got) == len(labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestConsoleMetrics(t *testing.T) {
	fc := startFakeConsole(t)
	expired := fc.ops.header(t, "op-late", -5*time.Minute, albauthtest.TesterGroup)
	foreignKey := albauthtest.NewKeyService(t).NewKey(t, fc.ops.key.ID)
	forged := albauthtest.Sign(t, foreignKey, albauthtest.ALB, albauthtest.Claims("op-forger", "", albauthtest.TesterGroup))
	otherALB := albauthtest.Sign(t, fc.ops.key, "arn:aws:elasticloadbalancing:eu-west-1:999999999999:loadbalancer/app/other/1", albauthtest.Claims("op-x", "", albauthtest.TesterGroup))
	viewer := fc.ops.header(t, "op-viewer", time.Minute, albauthtest.ViewerGroup)
	stranger := fc.ops.header(t, "op-sales", time.Minute, "sales")
	json := []string{"Content-Type", "application/json", "Origin", fc.url}

	for id, reason := range map[string]string{"": "missing", "a.b.c": "malformed", expired: "expired", forged: "bad_signature",
		otherALB: "wrong_signer", stranger: "no_console_group"} {
		before := counter(t, fc.reg, console.MetricAuthFailures, map[string]string{"reason": reason})
		do(t, "GET", fc.url+"/console/api/recent", id, "")
		if after := counter(t, fc.reg, console.MetricAuthFailures, map[string]string{"reason": reason}); after != before+1 {
			t.Errorf("refusal %s: counter %v -> %v", reason, before, after)
		}
	}
	if r := do(t, "POST", fc.url+"/console/api/test-transaction", viewer, testForm, json...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer posting: %d", r.StatusCode)
	}
	do(t, "POST", fc.url+"/console/api/test-transaction", fc.ops.tester(t), testForm, json...)
	do(t, "POST", fc.url+"/console/api/test-transaction", fc.ops.tester(t), testForm, json...)
	do(t, "GET", fc.url+"/console/api/decisions?last4=12", viewer, "")
	do(t, "GET", fc.url+"/console/", viewer, "")
	do(t, "GET", fc.url+"/livez", "", "")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{console.MetricAuthFailures, map[string]string{"reason": "not_tester"}, 1},
		{console.MetricTestTransactions, map[string]string{"code": "200"}, 2},
		{console.MetricSearches, map[string]string{"outcome": "invalid"}, 1},
		{console.MetricSearches, map[string]string{"outcome": "ok"}, 0},
		{console.MetricRequests, map[string]string{"route": "test_transaction", "code": "200"}, 2},
		{console.MetricRequests, map[string]string{"route": "test_transaction", "code": "403"}, 1},
		{console.MetricRequests, map[string]string{"route": "recent", "code": "401"}, 5},
		{console.MetricRequests, map[string]string{"route": "recent", "code": "403"}, 1},
		{console.MetricRequests, map[string]string{"route": "search", "code": "400"}, 1},
		{console.MetricRequests, map[string]string{"route": "page_view", "code": "200"}, 1},
		{console.MetricRequests, map[string]string{"route": "probe", "code": "200"}, 1},
	} {
		if got := counter(t, fc.reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
