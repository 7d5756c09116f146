// Package devserver is test support, not production code: it starts real PostgreSQL and
// Redis servers (Debian's binaries) on 127.0.0.1 in a temporary directory, for the
// integration tests (through devtest), the load generator (cmd/loadgen), the restore
// drill (restoredrill, with the WAL archive and restores of pitr.go) and local
// development. Servers can be stopped, restarted and frozen (SIGSTOP) to test how the
// service behaves when a dependency is down or hangs.
//
// No production binary imports it: TestNoProductionBinaryImportsDevserver lists the
// dependencies of every command under svc/cmd except loadgen and restore-drill (tools
// built and run on a developer's machine, never shipped) and fails if devserver is among
// them.
// It lives under svc/internal/testsupport so that its place says what it is: support for
// tests and load tests, next to the production packages but not one of them.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotInstalled means a server binary is missing: install the Debian packages
// (scripts/suites/10-service.sh does).
var ErrNotInstalled = errors.New("server binaries not installed")

// process is one server process that can be stopped and started again with the same
// command line and data.
type process struct {
	name  string
	argv  []string
	dir   string
	cred  *syscall.Credential
	logf  *os.File
	mu    sync.Mutex
	cmd   *exec.Cmd
	exitc chan struct{}
}

func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = p.logf, p.logf
	// Own process group, so a test's Ctrl-C does not hit the server before cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	exitc := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exitc) }()
	p.cmd, p.exitc = cmd, exitc
	return nil
}

// exited reports whether the process was started and has exited since.
func (p *process) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exitc:
		return true
	default:
		return false
	}
}

// stop sends sig and waits for the process to exit (SIGKILL after 10 s).
func (p *process) stop(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	for _, child := range childrenOf(p.cmd.Process.Pid) {
		_ = syscall.Kill(child, syscall.SIGCONT) // a frozen server cannot act on sig
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exitc:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exitc
	}
	p.cmd = nil
}

// signalTree signals the server and its child processes. PostgreSQL serves each
// connection from a child that leaves the process group (setsid), so freezing only the
// postmaster, or its group, would freeze nothing a client talks to. The parent is
// signalled first so that it cannot fork a new child in between.
func (p *process) signalTree(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	for _, child := range childrenOf(pid) {
		_ = syscall.Kill(child, sig)
	}
	return nil
}

// childrenOf lists the direct children of pid from /proc.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name, in parentheses, may hold spaces: parse after its last ')'.
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until something accepts connections on addr.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not come up: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findBinary returns the first existing path among candidates (globs allowed), picking
// the highest version when a glob matches several.
func findBinary(envVar string, candidates ...string) (string, error) {
	if v := os.Getenv(envVar); v != "" {
		return v, nil
	}
	for _, c := range candidates {
		matches, _ := filepath.Glob(c)
		sort.Sort(sort.Reverse(sort.StringSlice(matches)))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
				return m, nil
			}
		}
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: none of %v (set %s)", ErrNotInstalled, candidates, envVar)
}

// unprivileged returns the credential of the "postgres" user when running as root
// (PostgreSQL refuses to run as root), or nil.
func unprivileged() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root needs a postgres user to run the server: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}
