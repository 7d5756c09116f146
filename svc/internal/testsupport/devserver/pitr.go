package devserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file gives a throwaway PostgreSQL the pieces of point-in-time recovery: a WAL
// archive (PostgresOptions.ArchiveTimeout), a base backup, a crash that loses the data
// directory, and a restore of the backup plus the archive to a target time. The archive
// and the backups live outside the server's directory, as a backup store would: losing
// the server does not lose them.

// ErrNoArchive means the server was started without a WAL archive.
var ErrNoArchive = errors.New("postgres was started without a WAL archive (PostgresOptions.ArchiveTimeout)")

// archiveSettings are the server options of a server that archives its WAL into dir and
// switches to a new segment at least every timeout, which bounds what a crash can lose
// from the archive.
func archiveSettings(dir string, timeout time.Duration) []string {
	secs := int(timeout.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return []string{
		"-c", "wal_level=replica",
		"-c", "archive_mode=on",
		// Never overwrite a segment already archived (PostgreSQL's documented example).
		"-c", "archive_command=test ! -f " + dir + "/%f && cp %p " + dir + "/%f",
		"-c", "archive_timeout=" + strconv.Itoa(secs),
	}
}

// BaseBackup takes a base backup of the running server (pg_basebackup, as the
// replication superuser) into a new directory under the backup store and returns it. The
// WAL it needs is taken from the archive at restore time (-X none): the backup is only
// usable together with the archive, as with a continuous backup.
func (p *Postgres) BaseBackup(ctx context.Context) (string, error) {
	if p.archive == "" {
		return "", ErrNoArchive
	}
	initdb, err := findBinary("PG_BIN_INITDB", "/usr/lib/postgresql/*/bin/initdb", "initdb")
	if err != nil {
		return "", err
	}
	backup, err := os.MkdirTemp(p.store, "base-")
	if err != nil {
		return "", err
	}
	if err := p.chown(backup); err != nil {
		return "", err
	}
	dest := filepath.Join(backup, "data")
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(initdb), "pg_basebackup"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", "postgres",
		"-D", dest, "-X", "none", "--checkpoint=fast", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.proc.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pg_basebackup: %v: %s", err, out)
	}
	return dest, nil
}

// Crash kills the server (SIGKILL, no shutdown checkpoint, no last archive switch) and
// deletes its data directory: the database is lost, the WAL archive and the base backups
// are not.
func (p *Postgres) Crash() error {
	p.proc.stop(syscall.SIGKILL)
	return os.RemoveAll(filepath.Join(p.dir, "data"))
}

// RestoreOptions choose what a restore replays.
type RestoreOptions struct {
	// Target is the recovery target time; zero replays every archived segment (the
	// latest restorable point). A target must be covered by the archive: PostgreSQL
	// refuses to start when the archive ends before it.
	Target time.Time
}

// Restore starts a new server from the base backup backup plus this server's WAL
// archive, replayed up to o.Target, and returns it once it is promoted and accepts
// queries (the server from which the backup was taken may be gone). The new server
// archives nothing.
func (p *Postgres) Restore(ctx context.Context, backup string, o RestoreOptions) (*Postgres, error) {
	if p.archive == "" {
		return nil, ErrNoArchive
	}
	initdb, err := findBinary("PG_BIN_INITDB", "/usr/lib/postgresql/*/bin/initdb", "initdb")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "txv-pg-restored-")
	if err != nil {
		return nil, err
	}
	r := &Postgres{dir: dir}
	fail := func(err error) (*Postgres, error) {
		r.Close()
		return nil, err
	}
	if err := p.chown(dir); err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	// cp -a keeps the owner and the 0700 mode PostgreSQL insists on.
	if out, err := exec.CommandContext(ctx, "cp", "-a", backup, data).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("copy the base backup: %v: %s", err, out))
	}
	settings := []string{
		"restore_command = 'cp " + p.archive + "/%f %p'",
		"recovery_target_action = 'promote'",
	}
	if !o.Target.IsZero() {
		settings = append(settings,
			"recovery_target_time = '"+o.Target.UTC().Format("2006-01-02 15:04:05.999999")+"+00'",
			// A transaction that committed exactly at the target is kept.
			"recovery_target_inclusive = on")
	}
	if err := appendFile(filepath.Join(data, "postgresql.auto.conf"), strings.Join(settings, "\n")+"\n"); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(data, "recovery.signal"), nil, 0o600); err != nil {
		return fail(err)
	}
	if err := p.chownTree(data); err != nil {
		return fail(err)
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return fail(err)
	}
	port, err := freePort()
	if err != nil {
		logf.Close()
		return fail(err)
	}
	r.Port = port
	r.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	r.proc = &process{name: "postgres (restored)", dir: dir, cred: p.proc.cred, logf: logf,
		argv: []string{filepath.Join(filepath.Dir(initdb), "postgres"), "-D", data, "-h", "127.0.0.1",
			"-p", strconv.Itoa(port), "-k", dir, "-c", "archive_mode=off", "-c", "log_min_messages=warning",
			// Recovery refuses settings below the primary's (as Aurora refuses a smaller
			// instance class's limits): the same as StartPostgres.
			"-c", "max_connections=200"}}
	if err := r.proc.start(); err != nil {
		return fail(err)
	}
	if err := r.waitPromoted(ctx); err != nil {
		return fail(err)
	}
	return r, nil
}

// waitPromoted waits until the restored server has finished recovery and accepts writes.
// It answers read-only queries while it replays (hot standby), so accepting a connection
// is not enough.
func (p *Postgres) waitPromoted(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		conn, err := pgx.Connect(ctx, p.URL)
		if err == nil {
			var inRecovery bool
			err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
			conn.Close(ctx)
			if err == nil && !inRecovery {
				return nil
			}
			if err == nil {
				err = errors.New("still in recovery")
			}
		}
		last = err
		if p.proc.exited() {
			return fmt.Errorf("restored postgres exited: %v; its log:\n%s", last, lastLines(p.Log(), 15))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("restored postgres not promoted (log in %s): %w", p.dir, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Log returns the server's log, for a test's failure message.
func (p *Postgres) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
	return string(b)
}

func (p *Postgres) chown(path string) error {
	if p.proc == nil || p.proc.cred == nil {
		return nil
	}
	return os.Chown(path, int(p.proc.cred.Uid), int(p.proc.cred.Gid))
}

func (p *Postgres) chownTree(root string) error {
	if p.proc == nil || p.proc.cred == nil {
		return nil
	}
	return filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(p.proc.cred.Uid), int(p.proc.cred.Gid))
	})
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
