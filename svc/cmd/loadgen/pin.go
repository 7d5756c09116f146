package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// pinStores gives PostgreSQL and Redis the last CPU to themselves and this process (the
// load generator, and the echo and the service it starts afterwards, which inherit its
// affinity) the others, so that the stores' work and the service's stop taking turns on
// the same core and the tail shows the service rather than their scheduling. It must run
// after the stores start and before the targets do: every process below this one at that
// moment is a store's (PostgreSQL's backends fork from the postmaster later, and inherit
// its CPU). taskset -a sets every thread of a process.
func pinStores() (stores, rest string, err error) {
	n := runtime.NumCPU()
	if n < 2 {
		return "", "", fmt.Errorf("pinning needs at least 2 CPUs, this machine has %d", n)
	}
	stores, rest = strconv.Itoa(n-1), fmt.Sprintf("0-%d", n-2)
	for _, pid := range descendants(os.Getpid()) {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", stores, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("taskset %d: %v: %s", pid, err, out)
		}
	}
	if out, err := exec.Command("taskset", "-a", "-p", "-c", rest, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("taskset self: %v: %s", err, out)
	}
	return stores, rest, nil
}

// descendants lists every process below pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The parent is the second field after the command name, which is in parentheses.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}
