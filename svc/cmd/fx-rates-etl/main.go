// Command fx-rates-etl publishes the ECB's daily euro reference rates to S3. It runs as
// a Kubernetes CronJob; see docs/fx-rates-etl.md.
//
//	fx-rates-etl                 fetch, validate, write (idempotent)
//	fx-rates-etl verify DATE     read the object for DATE back and check it
//
// Its exit code says how a run ended (fxrates.ExitCode): 0 done, 1 a transient failure,
// 3 bad configuration, 4 data rejected, 5 still stale when the late window closed.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/fxrates"
	"github.com/transaction-validator/transaction-validator/svc/internal/telemetry"
)

func main() {
	err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fx-rates-etl:", err)
	}
	os.Exit(fxrates.ExitCode(err))
}

func run(args []string) error {
	cfg, err := fxrates.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s3c, smc, err := fxrates.Clients(ctx, cfg)
	if err != nil {
		return err
	}
	log := telemetry.NewLogger(os.Stdout, slog.LevelInfo, "fx-rates-etl")
	switch {
	case len(args) == 0:
		j := &fxrates.Job{Config: cfg, S3: s3c, Secrets: smc, Log: log, Now: time.Now}
		_, err := j.Run(ctx)
		return err
	case len(args) == 2 && args[0] == "verify":
		store := &fxrates.Store{S3: s3c, Bucket: cfg.Bucket, Prefix: cfg.Prefix}
		r, out, err := store.Verify(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Printf("ok: s3://%s/%s sha256=%s date=%s base=%s currencies=%d USD=%s\n",
			cfg.Bucket, out.Key, out.SHA256, r.Date, r.Base, len(r.Rates), r.Rates["USD"])
		return nil
	default:
		return &fxrates.ConfigError{Err: errors.New("usage: fx-rates-etl [verify YYYY-MM-DD]")}
	}
}
