// Command loadgen measures the transaction-validator against a bare net/http JSON echo,
// side by side in one run, on this machine's loopback only.
//
// It starts a real PostgreSQL (fsync on) and Redis (devserver), then runs the service
// and the echo baseline as child processes (this same binary, re-executed), and drives
// each in two phases:
//
//   - closed loop: -concurrency workers send back to back for -duration: the maximum
//     throughput and its latency;
//   - open loop: requests scheduled at -rate per second for -duration, latency measured
//     from the scheduled send time, so a stall shows up in the percentiles instead of
//     silently lowering the offered load (no coordinated omission).
//
// Every loop is bounded by -duration (at most 60 s) and -max-requests. With -pin-stores,
// PostgreSQL and Redis get the last CPU to themselves (taskset), the generator and the
// targets the others. The report ends with the validator/echo ratios of one run,
// CPU per request among them.
//
//	go run ./svc/cmd/loadgen -duration 10s -rate 2000 -concurrency 32 [-pin-stores]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/transaction-validator/transaction-validator/svc/internal/app"
	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/config"
	"github.com/transaction-validator/transaction-validator/svc/internal/synthetic"
	"github.com/transaction-validator/transaction-validator/svc/internal/telemetry"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
)

const maxDuration = 60 * time.Second

func main() {
	serve := flag.String("serve", "", "internal: run as the child process: echo or validator")
	listen := flag.String("listen", "127.0.0.1:0", "internal: child listen address")
	duration := flag.Duration("duration", 10*time.Second, "length of each phase (at most 60s)")
	rate := flag.Int("rate", 2000, "open-loop request rate per second")
	concurrency := flag.Int("concurrency", 32, "closed-loop workers")
	maxRequests := flag.Int("max-requests", 500_000, "upper bound on requests per phase")
	warmup := flag.Duration("warmup", 2*time.Second, "closed-loop warm-up before each target's phases")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	durable := flag.Bool("durable", true, "PostgreSQL with fsync and synchronous_commit on, as in production; false shows what the service costs without the disk")
	pin := flag.Bool("pin-stores", false, "PostgreSQL and Redis on the last CPU, the generator and the targets on the others (taskset)")
	flag.Parse()

	switch *serve {
	case "echo":
		runEcho(*listen)
		return
	case "validator":
		runValidator(*listen)
		return
	}
	if *duration > maxDuration {
		*duration = maxDuration
	}
	if err := run(*duration, *warmup, *rate, *concurrency, *maxRequests, *jsonOut, *durable, *pin); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// runEcho is the baseline: decode the JSON body, encode it back. The least any JSON
// HTTP service on this machine does per request.
func runEcho(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String() + " -")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/validate", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&v); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	})
	_ = http.Serve(ln, mux)
}

// runValidator runs the real service (the app package, configured from the environment
// the parent sets) on addr; the metrics listener takes any free port.
func runValidator(addr string) {
	cfg, err := config.FromEnv(os.Getenv)
	if err == nil {
		err = cfg.ForServing()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := app.New(ctx, cfg, telemetry.NewLogger(io.Discard, cfg.LogLevel, telemetry.ServiceName), "loadgen")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	api, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	metrics, _ := net.Listen("tcp", "127.0.0.1:0")
	if path := os.Getenv("LOADGEN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	fmt.Println(api.Addr().String() + " " + metrics.Addr().String())
	_ = a.Serve(ctx, api, metrics)
}

type child struct {
	kind    string
	cmd     *exec.Cmd
	addr    string
	metrics string // "-" when the child has no metrics endpoint
}

func startChild(kind string, env []string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve", kind)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		buf := make([]byte, 256)
		n, _ := out.Read(buf)
		line <- strings.TrimSpace(string(buf[:n]))
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		addr, metrics, _ := strings.Cut(l, " ")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("%s child printed %q", kind, l)
		}
		return &child{kind: kind, cmd: cmd, addr: addr, metrics: metrics}, nil
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s child did not start", kind)
	}
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
	}
}

// result is one phase's figures.
type result struct {
	Target     string  `json:"target"`
	Phase      string  `json:"phase"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Throughput float64 `json:"throughput_rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Maxms      float64 `json:"max_ms"`
	// LagP99ms is the open loop's own lateness: how long after its scheduled time a request
	// was handed to a worker, 99th percentile. It is part of every latency figure (they are
	// measured from the schedule), so a large lag means the generator, not the target, is
	// what the tail shows.
	LagP99ms float64 `json:"client_lag_p99_ms,omitempty"`
	// TargetCPUus is the target process's own CPU time per request, in microseconds.
	TargetCPUus float64 `json:"target_cpu_us_per_request"`
	// MachineBusy is the share of all cores' time that was busy during the phase.
	MachineBusy float64 `json:"machine_busy"`
}

func run(d, warmup time.Duration, rate, conc, maxReq int, jsonOut string, durable, pin bool) error {
	ctx := context.Background()
	fmt.Fprintf(os.Stderr, "starting PostgreSQL (durable=%v) and Redis on 127.0.0.1 ...\n", durable)
	pg, err := devserver.StartPostgres(ctx, devserver.PostgresOptions{Durable: durable})
	if err != nil {
		return err
	}
	defer pg.Close()
	rds, err := devserver.StartRedis(ctx, devserver.RedisOptions{})
	if err != nil {
		return err
	}
	defer rds.Close()
	if pin {
		stores, rest, err := pinStores()
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "PostgreSQL and Redis on CPU %s; generator, echo and service on CPU %s\n", stores, rest)
	}

	echo, err := startChild("echo", nil)
	if err != nil {
		return err
	}
	defer echo.stop()
	validator, err := startChild("validator", []string{
		"DATABASE_URL=" + pg.URL, "REDIS_ENDPOINT=" + rds.Endpoint,
		"PAN_HMAC_KEY=" + strings.Repeat("5a", 32), "LOG_LEVEL=warn",
		"MAX_TRANSACTIONS_PER_SECOND=1000000", "VELOCITY_CARD_PER_MINUTE=1000000",
		"VELOCITY_MERCHANT_PER_MINUTE=100000000", "SHUTDOWN_DRAIN_DELAY=0s",
		"DB_POOL_MAX_CONNS=16",
	})
	if err != nil {
		return err
	}
	defer validator.stop()

	gen, err := newBodies()
	if err != nil {
		return err
	}
	var results []result
	for _, target := range []*child{echo, validator} {
		url := "http://" + target.addr + "/api/validate"
		cl := newClient(conc * 4)
		fmt.Fprintf(os.Stderr, "%s: warm-up %s\n", target.kind, warmup)
		closedLoop(cl, url, gen, conc, warmup, maxReq)
		fmt.Fprintf(os.Stderr, "%s: closed loop, %d workers, %s\n", target.kind, conc, d)
		before := sampleCPU(target.cmd.Process.Pid)
		r := closedLoop(cl, url, gen, conc, d, maxReq)
		cpuBetween(&r, before, sampleCPU(target.cmd.Process.Pid))
		r.Target, r.Phase = target.kind, fmt.Sprintf("closed loop, %d workers", conc)
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "%s: open loop, %d req/s, %s\n", target.kind, rate, d)
		before = sampleCPU(target.cmd.Process.Pid)
		r = openLoop(cl, url, gen, rate, d, maxReq)
		cpuBetween(&r, before, sampleCPU(target.cmd.Process.Pid))
		r.Target, r.Phase = target.kind, fmt.Sprintf("open loop, %d req/s", rate)
		results = append(results, r)
	}
	report(os.Stdout, results)
	auditReport(os.Stdout, validator.metrics)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		return os.WriteFile(jsonOut, b, 0o644)
	}
	return nil
}

func newClient(conns int) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: time.Second}).DialContext,
	}}
}

// bodies hands out distinct valid transactions: distinct idempotency keys, a pool of
// test cards (card.TestPAN) with valid check digits, varied amounts and merchants.
type bodies struct {
	seq   atomic.Int64
	cards []string
	now   time.Time
}

func newBodies() (*bodies, error) {
	b := &bodies{now: time.Now()}
	for i := 0; i < 1000; i++ {
		pan, err := card.TestPAN(card.Visa, i)
		if err != nil {
			return nil, err
		}
		b.cards = append(b.cards, pan)
	}
	return b, nil
}

func (b *bodies) next() (key string, tx synthetic.Transaction) {
	n := b.seq.Add(1)
	key = "lg-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(n, 36)
	tx = synthetic.New("m_"+strconv.FormatInt(n%50, 10), 100+n%9000, b.cards[n%int64(len(b.cards))], b.now)
	tx.Card.CVV = "123"
	return key, tx
}

func send(cl *http.Client, url string, gen *bodies) bool {
	key, tx := gen.next()
	req, err := synthetic.NewRequest(context.Background(), url, key, tx)
	if err != nil {
		return false
	}
	resp, err := cl.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func closedLoop(cl *http.Client, url string, gen *bodies, conc int, d time.Duration, maxReq int) result {
	var mu sync.Mutex
	var lat []time.Duration
	var errs, total atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && total.Add(1) <= int64(maxReq) {
				t0 := time.Now()
				if !send(cl, url, gen) {
					errs.Add(1)
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return summarize(lat, int(errs.Load()), time.Since(start))
}

func openLoop(cl *http.Client, url string, gen *bodies, rate int, d time.Duration, maxReq int) result {
	n := int(d.Seconds() * float64(rate))
	if n > maxReq {
		n = maxReq
	}
	interval := time.Second / time.Duration(rate)
	lat, lag := make([]time.Duration, n), make([]time.Duration, n)
	var errs atomic.Int64
	jobs := make(chan int, n)
	start := time.Now()
	var wg sync.WaitGroup
	// Enough workers that the client never becomes the queue: a request waits only for
	// the server.
	for w := 0; w < 512; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				sched := start.Add(time.Duration(i) * interval)
				lag[i] = time.Since(sched)
				if !send(cl, url, gen) {
					errs.Add(1)
				}
				lat[i] = time.Since(sched)
			}
		}()
	}
	for i := 0; i < n; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	r := summarize(lat, int(errs.Load()), time.Since(start))
	r.LagP99ms = summarize(lag, 0, time.Second).P99ms
	return r
}

func summarize(lat []time.Duration, errs int, elapsed time.Duration) result {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	return result{Requests: len(lat), Errors: errs, Throughput: float64(len(lat)) / elapsed.Seconds(),
		P50ms: pct(0.50), P99ms: pct(0.99), Maxms: pct(1)}
}

// auditReport prints what the service's own metrics say about group commit over the
// whole run: how many decisions one commit carried, and how long a commit took.
func auditReport(w io.Writer, metricsAddr string) {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		fmt.Fprintln(w, "service metrics unavailable:", err)
		return
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		fmt.Fprintln(w, "service metrics unreadable:", err)
		return
	}
	hist := func(name string) (sum float64, count uint64) {
		if f := families[name]; f != nil && len(f.GetMetric()) == 1 {
			h := f.GetMetric()[0].GetHistogram()
			return h.GetSampleSum(), h.GetSampleCount()
		}
		return 0, 0
	}
	decisions, commits := hist("txv_audit_batch_size")
	seconds, writes := hist("txv_audit_write_duration_seconds")
	if commits == 0 || writes == 0 {
		return
	}
	fmt.Fprintf(w, "group commit: %d commits for %.0f decisions, %.1f decisions per commit, %.2f ms per commit on average\n",
		commits, decisions, decisions/float64(commits), 1000*seconds/float64(writes))
}

func report(w io.Writer, rs []result) {
	fmt.Fprintf(w, "\n%-10s %-26s %9s %7s %11s %8s %8s %8s %14s %12s %13s\n", "target", "phase", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms", "client lag p99", "CPU us/req", "machine busy")
	for _, r := range rs {
		lag := "-"
		if r.LagP99ms > 0 {
			lag = fmt.Sprintf("%.2f", r.LagP99ms)
		}
		fmt.Fprintf(w, "%-10s %-26s %9d %7d %11.0f %8.2f %8.2f %8.2f %14s %12.0f %12.0f%%\n", r.Target, r.Phase, r.Requests, r.Errors, r.Throughput, r.P50ms, r.P99ms, r.Maxms, lag, r.TargetCPUus, 100*r.MachineBusy)
	}
	if len(rs) == 4 {
		// CPU per request is the per-replica goal's figure (issue 21: at most 2x the echo's):
		// the target's own CPU, whatever the stores and the generator cost.
		fmt.Fprintf(w, "\nvalidator / echo, closed loop: throughput %.2f, p50 %.2fx, p99 %.2fx, CPU per request %.2fx\n",
			rs[2].Throughput/rs[0].Throughput, rs[2].P50ms/rs[0].P50ms, rs[2].P99ms/rs[0].P99ms, rs[2].TargetCPUus/rs[0].TargetCPUus)
		fmt.Fprintf(w, "validator / echo, open loop:   throughput %.2f, p50 %.2fx, p99 %.2fx, CPU per request %.2fx\n",
			rs[3].Throughput/rs[1].Throughput, rs[3].P50ms/rs[1].P50ms, rs[3].P99ms/rs[1].P99ms, rs[3].TargetCPUus/rs[1].TargetCPUus)
	}
}
