// Command restore-drill rehearses the point-in-time restore of docs/disaster-recovery.md
// on a local PostgreSQL (Debian's binaries, on 127.0.0.1 in a temporary directory): the
// database is lost while the validator's audit writer records decisions, and is restored
// from a base backup plus the WAL archive, to the latest point and to a chosen time. It
// prints the measured RPO and RTO and exits non-zero when a restore lacks a decision
// acknowledged before its recovery point. A developer's tool, never shipped.
//
//	go run ./svc/cmd/restore-drill -load 10s -clients 8 -archive-timeout 1s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/restoredrill"
)

func main() {
	var o restoredrill.Options
	flag.DurationVar(&o.Load, "load", 10*time.Second, "how long decisions are recorded before the loss")
	flag.IntVar(&o.Clients, "clients", 4, "concurrent clients recording decisions")
	flag.DurationVar(&o.ArchiveTimeout, "archive-timeout", time.Second, "PostgreSQL archive_timeout (whole seconds)")
	timeout := flag.Duration("timeout", 5*time.Minute, "the whole drill's time limit")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rep, err := restoredrill.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "restore-drill:", err)
		os.Exit(1)
	}
	fmt.Printf("decisions acknowledged before the loss: %d (%d approved)\n", rep.Acknowledged, rep.Approved)
	for _, x := range []struct {
		name string
		r    restoredrill.Restore
	}{{"latest point (after the loss)", rep.Latest}, {"target time", rep.Target}} {
		fmt.Printf("restore to the %s: RTO %v, recovery point %s, %d rows, %d acknowledged missing, %d acknowledged after the recovery point\n",
			x.name, x.r.RTO.Round(time.Millisecond), x.r.RecoveryPoint.UTC().Format(time.RFC3339Nano), x.r.Rows,
			x.r.MissingAcknowledged, x.r.LostAcknowledged)
	}
	fmt.Printf("RPO of the loss: %v (archive_timeout %v)\n", rep.RPO.Round(time.Millisecond), o.ArchiveTimeout)
	if err := rep.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "restore-drill: FAILED:", err)
		os.Exit(1)
	}
}
