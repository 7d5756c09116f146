package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

// binary builds the command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "transaction-validator")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestBinary(t *testing.T) {
	bin := binary(t)

	t.Run("bad configuration names the variable and exits 1", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "MAX_TRANSACTIONS_PER_SECOND=lots", "LOG_LEVEL=chatty")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v", err)
		}
		for _, want := range []string{"MAX_TRANSACTIONS_PER_SECOND", "LOG_LEVEL"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr does not name %s: %s", want, stderr.String())
			}
		}
	})

	t.Run("migrate applies the schema once and is idempotent", func(t *testing.T) {
		pg := devtest.Postgres(t, devserver.PostgresOptions{})
		for i := 0; i < 2; i++ {
			cmd := exec.Command(bin, "migrate")
			cmd.Env = append(os.Environ(), "DATABASE_URL="+pg.URL, "REDIS_ENDPOINT=", "PAN_HMAC_KEY=")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("migrate run %d: %v\n%s", i+1, err, out)
			}
		}
		conn, err := pgx.Connect(context.Background(), pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables
			WHERE table_name IN ('audit_decisions', 'idempotency_keys', 'merchant_limits')`).Scan(&n); err != nil || n != 3 {
			t.Fatalf("tables: %d %v", n, err)
		}
	})

	t.Run("migrate without a database fails clearly", func(t *testing.T) {
		cmd := exec.Command(bin, "migrate")
		cmd.Env = append(os.Environ(), "DATABASE_URL=", "REDIS_ENDPOINT=")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "DATABASE_URL") {
			t.Fatalf("%v %s", err, out)
		}
	})

	t.Run("unknown command", func(t *testing.T) {
		if err := exec.Command(bin, "frobnicate").Run(); err == nil {
			t.Fatal("accepted")
		}
	})

	t.Run("in-memory mode, then SIGTERM drains and exits 0", func(t *testing.T) {
		api, metrics := freeAddr(t), freeAddr(t)
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "HTTP_ADDR="+api, "METRICS_ADDR="+metrics, "SHUTDOWN_DRAIN_DELAY=200ms",
			"DATABASE_URL=", "REDIS_ENDPOINT=")
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		first := <-lines
		var rec map[string]any
		if err := json.Unmarshal([]byte(first), &rec); err != nil || !strings.Contains(rec["msg"].(string), "in-memory") {
			t.Fatalf("first log line does not announce in-memory mode: %s", first)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get("http://" + api + "/readyz")
			if err == nil && resp.StatusCode == 200 {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("never ready")
			}
			time.Sleep(50 * time.Millisecond)
		}
		body := `{"merchant_id":"m","amount":100,"currency":"USD","country":"US","timestamp":"` +
			time.Now().UTC().Format(time.RFC3339) + `","card":{"number":"4111111111111111","expiry_month":1,"expiry_year":2035}}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+api+"/api/validate", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "bin-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("validate: %v %v", resp, err)
		}
		resp.Body.Close()
		if resp, err := http.Get("http://" + metrics + "/metrics"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("metrics: %v", err)
		}

		_ = cmd.Process.Signal(syscall.SIGTERM)
		var rest []string
		for l := range lines {
			rest = append(rest, l)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
		all := strings.Join(rest, "\n")
		if !strings.Contains(all, `"msg":"draining"`) || !strings.Contains(all, `"msg":"stopped"`) {
			t.Fatalf("shutdown not logged:\n%s", all)
		}
		if strings.Contains(all, "4111111111111111") {
			t.Fatal("PAN in the log")
		}
	})
}
