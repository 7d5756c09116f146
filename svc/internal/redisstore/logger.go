package redisstore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// slogAdapter routes go-redis's internal messages (reconnects, pool dial failures) into
// the service's JSON log instead of unstructured lines on stderr.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Printf(ctx context.Context, format string, v ...any) {
	a.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// SetLogger sends go-redis's internal log to log. The setting is process-wide.
func SetLogger(log *slog.Logger) { redis.SetLogger(slogAdapter{log: log}) }
