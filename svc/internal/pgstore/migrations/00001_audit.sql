-- +goose Up
-- The audit log: one row per decision, never updated, never deleted by the service.
-- Card data is reduced to a keyed hash (HMAC-SHA-256, key outside the database), the
-- last four digits and the brand: PCI DSS 3.4/3.5 allow exactly this much.
CREATE TABLE audit_decisions (
    request_id       uuid        PRIMARY KEY,
    merchant_id      text        NOT NULL CHECK (length(merchant_id) BETWEEN 1 AND 64),
    idempotency_key  text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    fingerprint      bytea       NOT NULL CHECK (length(fingerprint) = 32),
    card_hash        bytea       NOT NULL CHECK (length(card_hash) = 32),
    card_last4       text        NOT NULL CHECK (card_last4 ~ '^([0-9]{4})?$'),
    card_brand       text        NOT NULL,
    amount_minor     bigint      NOT NULL CHECK (amount_minor > 0),
    currency         char(3)     NOT NULL,
    country          char(2)     NOT NULL,
    txn_time         timestamptz NOT NULL,
    decision         text        NOT NULL CHECK (decision IN ('approve', 'review', 'decline')),
    reasons          text[]      NOT NULL,
    decided_at       timestamptz NOT NULL
);
CREATE INDEX audit_decisions_merchant_time ON audit_decisions (merchant_id, decided_at);

-- Idempotency keys, the source of truth behind the Redis fast path. A key is taken in
-- the same statement that writes its audit row, so a decision and its key commit
-- together or not at all. Rows older than the TTL are purged by the service.
CREATE TABLE idempotency_keys (
    merchant_id      text        NOT NULL,
    idempotency_key  text        NOT NULL,
    request_id       uuid        NOT NULL REFERENCES audit_decisions (request_id) DEFERRABLE INITIALLY DEFERRED,
    fingerprint      bytea       NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Per-merchant ceilings on one transaction, in the currency's minor units. Loaded into
-- memory by every replica and refreshed periodically.
CREATE TABLE merchant_limits (
    merchant_id       text    NOT NULL,
    currency          char(3) NOT NULL,
    max_amount_minor  bigint  NOT NULL CHECK (max_amount_minor > 0),
    PRIMARY KEY (merchant_id, currency)
);

-- +goose Down
DROP TABLE merchant_limits;
DROP TABLE idempotency_keys;
DROP TABLE audit_decisions;
