package main

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestCPUSamplesCountThisProcess(t *testing.T) {
	before := sampleCPU(os.Getpid())
	if !before.ok {
		t.Fatal("could not read /proc")
	}
	// Burn about 200 ms of CPU; /proc counts in 10 ms ticks.
	sum := sha256.Sum256(nil)
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		sum = sha256.Sum256(sum[:])
	}
	after := sampleCPU(os.Getpid())
	r := result{Requests: 1000}
	cpuBetween(&r, before, after)
	// Wall time bounds CPU time from above (one busy goroutine); the lower bound leaves
	// room for a machine so loaded that the loop ran a fraction of the time.
	if r.TargetCPUus < 10 || r.TargetCPUus > 260 {
		t.Fatalf("%.0f us per request for ~200 us of CPU each", r.TargetCPUus)
	}
	if r.MachineBusy <= 0 || r.MachineBusy > 1 {
		t.Fatalf("machine busy %.2f", r.MachineBusy)
	}
	if sampleCPU(-1).ok {
		t.Fatal("a missing process was sampled")
	}
}

// TestDescendantsFindsAChild: the stores are found as processes below the generator.
func TestDescendantsFindsAChild(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if !slices.Contains(descendants(os.Getpid()), cmd.Process.Pid) {
		t.Fatalf("child %d not among %v", cmd.Process.Pid, descendants(os.Getpid()))
	}
	if slices.Contains(descendants(cmd.Process.Pid), os.Getpid()) {
		t.Fatal("the parent is listed below its child")
	}
}
