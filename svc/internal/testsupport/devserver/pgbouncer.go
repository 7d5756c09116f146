package devserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgBouncer is a throwaway PgBouncer in transaction pooling mode in front of a Postgres,
// the configuration under which named prepared statements and session state break.
type PgBouncer struct {
	// URL reaches database db through the pooler.
	URL  string
	dir  string
	proc *process
}

// StartPgBouncer pools connections to database db of pg in transaction mode.
func StartPgBouncer(ctx context.Context, pg *Postgres, db string) (*PgBouncer, error) {
	bin, err := findBinary("PGBOUNCER_BIN", "/usr/sbin/pgbouncer", "pgbouncer")
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := unprivileged() // PgBouncer refuses to run as root, too
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "txv-pgbouncer-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ini := fmt.Sprintf(`[databases]
%s = host=127.0.0.1 port=%d dbname=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 8
max_client_conn = 400
ignore_startup_parameters = extra_float_digits,application_name
`, db, pg.Port, db, port, filepath.Join(dir, "users.txt"))
	files := map[string]string{"pgbouncer.ini": ini, "users.txt": `"postgres" ""` + "\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if uid >= 0 {
		for _, f := range []string{dir, filepath.Join(dir, "pgbouncer.ini"), filepath.Join(dir, "users.txt")} {
			_ = os.Chown(f, uid, gid)
		}
	}
	logf, err := os.Create(filepath.Join(dir, "pgbouncer.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &PgBouncer{
		URL:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db),
		dir:  dir,
		proc: &process{name: "pgbouncer", argv: []string{bin, filepath.Join(dir, "pgbouncer.ini")}, dir: dir, cred: cred, logf: logf},
	}
	if err := b.proc.start(); err != nil {
		b.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := waitTCP(ctx, "127.0.0.1:"+strconv.Itoa(port)); err != nil {
		b.Close()
		return nil, err
	}
	for {
		conn, err := pgx.Connect(ctx, b.URL)
		if err == nil {
			conn.Close(ctx)
			return b, nil
		}
		if ctx.Err() != nil {
			b.Close()
			return nil, fmt.Errorf("pgbouncer: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Close stops PgBouncer and removes its directory.
func (b *PgBouncer) Close() {
	if b.proc != nil {
		b.proc.stop(syscall.SIGINT)
		b.proc.logf.Close()
	}
	os.RemoveAll(b.dir)
}
