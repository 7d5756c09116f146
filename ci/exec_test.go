package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCutRanFindsTheStampAndRemovesIt: the stamp line goes from the output a report shows,
// wherever in it the engine put stderr, and its times come back.
func TestCutRanFindsTheStampAndRemovesIt(t *testing.T) {
	out, r := cutRan("ok one\n" + ranMarker + " 1700000000 1700000090\nok two\n")
	if out != "ok one\nok two\n" {
		t.Errorf("output = %q, want the stamp line removed", out)
	}
	if r != (ran{1700000000, 1700000090}) {
		t.Errorf("ran = %+v, want {1700000000 1700000090}", r)
	}
	if out, r := cutRan("no stamp\n"); out != "no stamp\n" || r != (ran{}) {
		t.Errorf("unstamped output = %q, %+v; want it unchanged and no times", out, r)
	}
	// A line that only mentions the marker is the step's own output, kept.
	if out, r := cutRan("grep " + ranMarker + " found nothing\n"); r != (ran{}) || !strings.Contains(out, "found nothing") {
		t.Errorf("a line mentioning the marker = %q, %+v; want it kept and no times", out, r)
	}
}

// TestCachedLineOnlyForRunsBeforeTheCall: a stamp older than the call is a cache hit and
// says when it ran and how long it took; one from this call, or an unknown time (an
// image without date prints 0), claims nothing.
func TestCachedLineOnlyForRunsBeforeTheCall(t *testing.T) {
	call := time.Unix(1700000300, 0)
	got := ran{1700000000, 1700000090}.cachedLine("go test", call)
	want := "CACHED go test: the result of a run at 2023-11-14 22:13:20 UTC that took 90s"
	if got != want {
		t.Errorf("cached line = %q, want %q", got, want)
	}
	for name, r := range map[string]ran{
		"ran in this call": {1700000300, 1700000390},
		"started a second before the call (clock granularity)": {1700000299, 1700000310},
		"no date in the image":                                 {0, 0},
		"end before start":                                     {1700000000, 1699999999},
	} {
		if line := r.cachedLine("go test", call); line != "" {
			t.Errorf("%s: cached line = %q, want none", name, line)
		}
	}
}

// TestStampedScriptKeepsItsExitStatus runs stamped scripts with sh -ec, as sh does: the
// stamp is printed by a trap, so the script's own status (and set -e) decide the step, and
// a script that exits early or fails is stamped too.
func TestStampedScriptKeepsItsExitStatus(t *testing.T) {
	for script, want := range map[string]int{
		"echo ok":                   0,
		"echo early; exit 0; false": 0,
		"exit 3":                    3,
		"false; echo unreachable":   1,
	} {
		cmd := exec.Command("sh", "-ec", stamped(script))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("%q: %v", script, err)
		}
		if code != want {
			t.Errorf("%q: exit status %d, want %d", script, code, want)
		}
		if strings.Contains(string(out), "unreachable") {
			t.Errorf("%q: ran past a failing command: set -e lost", script)
		}
		_, r := cutRan(stderr.String())
		if r.from <= 0 || r.to < r.from {
			t.Errorf("%q: stderr %q has no stamp", script, stderr.String())
		}
	}
}
