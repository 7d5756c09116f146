package app_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowProxy stands between the service and a real Redis on 127.0.0.1 and holds every
// reply for a delay the test sets: the commands reach Redis and run at once, only their
// answers come late. That is what a stalled network or a Redis slowed by a long command
// looks like to a client, the case in which a time-out does not mean "not executed".
type slowProxy struct {
	ln    net.Listener
	delay atomic.Int64 // nanoseconds; a function of the connection's reply count if set
	jit   atomic.Pointer[func() time.Duration]
	wg    sync.WaitGroup
}

func newSlowProxy(t *testing.T, target string) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln}
	var mu sync.Mutex
	var conns []net.Conn
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { p.replies(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// replies copies Redis's answers back to the client, each chunk after the delay.
func (p *slowProxy) replies(c, up net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			time.Sleep(p.currentDelay())
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *slowProxy) currentDelay() time.Duration {
	if f := p.jit.Load(); f != nil {
		return (*f)()
	}
	return time.Duration(p.delay.Load())
}

func (p *slowProxy) setDelay(d time.Duration) { p.jit.Store(nil); p.delay.Store(int64(d)) }

// setJitter makes every reply wait f() instead of a fixed delay.
func (p *slowProxy) setJitter(f func() time.Duration) { p.jit.Store(&f) }

func (p *slowProxy) endpoint() string { return "redis://" + p.ln.Addr().String() }
