package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MerchantLimits is a payment.MerchantLimits read from the merchant_limits table. Every
// replica keeps the whole table in memory (it is small: one row per merchant and
// currency) and reloads it periodically, so the hot path never queries it.
type MerchantLimits struct {
	pool   *pgxpool.Pool
	limits atomic.Pointer[map[[2]string]int64]
}

// NewMerchantLimits loads the table once; Run keeps it fresh.
func NewMerchantLimits(ctx context.Context, pool *pgxpool.Pool) (*MerchantLimits, error) {
	m := &MerchantLimits{pool: pool}
	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// Refresh reloads the table.
func (m *MerchantLimits) Refresh(ctx context.Context) error {
	rows, err := m.pool.Query(ctx, `SELECT merchant_id, currency, max_amount_minor FROM merchant_limits`)
	if err != nil {
		return fmt.Errorf("merchant limits: %w", err)
	}
	defer rows.Close()
	next := map[[2]string]int64{}
	for rows.Next() {
		var id, cur string
		var max int64
		if err := rows.Scan(&id, &cur, &max); err != nil {
			return fmt.Errorf("merchant limits: %w", err)
		}
		next[[2]string{id, cur}] = max
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("merchant limits: %w", err)
	}
	m.limits.Store(&next)
	return nil
}

// Run refreshes every interval until ctx ends. A failed refresh keeps the last table.
func (m *MerchantLimits) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("merchant limits refresh failed; keeping the previous table", "error", err)
			}
		}
	}
}

// MaxAmount implements payment.MerchantLimits.
func (m *MerchantLimits) MaxAmount(merchantID, currency string) (int64, bool) {
	v, ok := (*m.limits.Load())[[2]string{merchantID, currency}]
	return v, ok
}
