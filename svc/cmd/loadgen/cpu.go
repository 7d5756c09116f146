package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuSample is how much CPU the target process and the whole machine had used by a
// moment. Two samples around a phase give the target's CPU per request, which, unlike
// latency, hardly depends on what else the machine is doing: it is the figure to compare
// across runs and commits. The machine's busy share says how close to saturation the
// phase ran (the load generator, PostgreSQL and Redis share the same cores).
type cpuSample struct {
	process   time.Duration // user + system time of the target, all its threads
	busy, all uint64        // machine-wide ticks: not idle or iowait; all
	ok        bool
}

func sampleCPU(pid int) cpuSample {
	var s cpuSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s
	}
	// Fields after the command name, which is in parentheses and may contain spaces:
	// utime and stime are the 14th and 15th fields of the line, 12th and 13th after it.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	machine, err3 := os.ReadFile("/proc/stat")
	if err1 != nil || err2 != nil || err3 != nil {
		return s
	}
	line, _, _ := strings.Cut(string(machine), "\n")
	cols := strings.Fields(line) // "cpu" user nice system idle iowait irq softirq steal ...
	if len(cols) < 9 || cols[0] != "cpu" {
		return s
	}
	for i, c := range cols[1:9] {
		v, err := strconv.ParseUint(c, 10, 64)
		if err != nil {
			return s
		}
		s.all += v
		if i != 3 && i != 4 { // idle, iowait
			s.busy += v
		}
	}
	s.process = time.Duration(ut+st) * time.Second / clockTicks
	s.ok = true
	return s
}

// cpuBetween fills r's CPU figures from samples taken before and after its phase.
func cpuBetween(r *result, before, after cpuSample) {
	if !before.ok || !after.ok || r.Requests == 0 || after.all <= before.all {
		return
	}
	r.TargetCPUus = float64((after.process - before.process).Microseconds()) / float64(r.Requests)
	r.MachineBusy = float64(after.busy-before.busy) / float64(after.all-before.all)
}
