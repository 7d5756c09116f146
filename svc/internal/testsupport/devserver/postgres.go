package devserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a throwaway PostgreSQL server.
type Postgres struct {
	// URL connects as the superuser "postgres" to database "postgres" (trust auth on
	// 127.0.0.1 only).
	URL  string
	Port int
	// CAFile is the CA that signed the server certificate, when TLS is on.
	CAFile string
	dir    string
	proc   *process
	// store holds what survives a Crash: the WAL archive and the base backups.
	store, archive string
}

// PostgresOptions tune the server.
type PostgresOptions struct {
	// Durable keeps fsync and synchronous_commit on, as in production; benchmarks want
	// it so that group commit is measured honestly. Tests turn it off for speed.
	Durable bool
	// ArchiveTimeout, when set, archives the WAL (BaseBackup, Crash and Restore in
	// pitr.go) and switches segments at least this often (whole seconds, at least 1):
	// the most a crash can lose from the archive while the server is writing.
	ArchiveTimeout time.Duration
	// TLS serves TLS with a throwaway CA (CAFile) and lets every role but the superuser
	// in only over TLS, with a cleartext password: how RDS Proxy takes an IAM token
	// (require_tls, the token sent as the password). The superuser keeps trust over
	// plain TCP (URL), so tests can set things up as before.
	TLS bool
}

// StartPostgres runs initdb in a new temporary directory and starts the server.
func StartPostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	initdb, err := findBinary("PG_BIN_INITDB", "/usr/lib/postgresql/*/bin/initdb", "initdb")
	if err != nil {
		return nil, err
	}
	postgres := filepath.Join(filepath.Dir(initdb), "postgres")
	cred, uid, gid, err := unprivileged()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "txv-pg-")
	if err != nil {
		return nil, err
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	init := exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	init.Dir = dir
	init.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := init.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var caFile string
	var tlsArgs []string
	if o.TLS {
		if caFile, tlsArgs, err = postgresTLS(dir, data, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	durability := []string{"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"}
	if o.Durable {
		durability = []string{"-c", "fsync=on", "-c", "synchronous_commit=on"}
	}
	var store, archive string
	if o.ArchiveTimeout > 0 {
		store = filepath.Join(dir, "store")
		archive = filepath.Join(store, "wal")
		for _, d := range []string{store, archive} {
			if err := os.Mkdir(d, 0o700); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			if uid >= 0 {
				if err := os.Chown(d, uid, gid); err != nil {
					os.RemoveAll(dir)
					return nil, err
				}
			}
		}
		durability = append(durability, archiveSettings(archive, o.ArchiveTimeout)...)
	}
	argv := append([]string{postgres, "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-c", "max_connections=200", "-c", "shared_buffers=256MB", "-c", "log_min_messages=warning"}, durability...)
	argv = append(argv, tlsArgs...)
	p := &Postgres{
		URL:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		Port: port, CAFile: caFile, dir: dir, store: store, archive: archive,
		proc: &process{name: "postgres", argv: argv, dir: dir, cred: cred, logf: logf},
	}
	if err := p.Start(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// postgresTLS writes the server's certificates into dir and a pg_hba.conf that admits the
// superuser over plain TCP (trust) and everyone else over TLS with a password only. It
// returns the CA's path and the server's extra arguments.
func postgresTLS(dir, data string, uid, gid int) (string, []string, error) {
	caFile, err := writeTestPKI(dir)
	if err != nil {
		return "", nil, err
	}
	if uid >= 0 {
		// PostgreSQL reads its key as the unprivileged user and refuses one others can read.
		for _, f := range []string{"ca.crt", "server.crt", "server.key"} {
			if err := os.Chown(filepath.Join(dir, f), uid, gid); err != nil {
				return "", nil, err
			}
		}
	}
	// First match wins; a role other than postgres on plain TCP matches no line and is
	// refused, as RDS Proxy with require_tls refuses it.
	hba := "local all all trust\n" +
		"host all postgres 127.0.0.1/32 trust\n" +
		"hostssl all all 127.0.0.1/32 password\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return "", nil, err
	}
	if uid >= 0 {
		if err := os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid); err != nil {
			return "", nil, err
		}
	}
	return caFile, []string{"-c", "ssl=on",
		"-c", "ssl_cert_file=" + filepath.Join(dir, "server.crt"),
		"-c", "ssl_key_file=" + filepath.Join(dir, "server.key")}, nil
}

// Start (re)starts a stopped server and waits until it accepts queries.
func (p *Postgres) Start(ctx context.Context) error {
	if err := p.proc.start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, p.URL)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres did not start (log in %s): %w", p.dir, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop shuts the server down ("fast" mode: open transactions are rolled back).
func (p *Postgres) Stop() { p.proc.stop(syscall.SIGINT) }

// Freeze suspends the server (SIGSTOP): connections stay open and nothing answers, the
// way a hung or partitioned database looks to a client. Thaw resumes it.
func (p *Postgres) Freeze() error { return p.proc.signalTree(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (p *Postgres) Thaw() error { return p.proc.signalTree(syscall.SIGCONT) }

// CreateDatabase creates a fresh database and returns its URL, so tests sharing one
// server do not see each other's rows.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, name), nil
}

// Close stops the server and removes its directory.
func (p *Postgres) Close() {
	if p.proc != nil {
		p.proc.stop(syscall.SIGINT)
		p.proc.logf.Close()
	}
	os.RemoveAll(p.dir)
}
