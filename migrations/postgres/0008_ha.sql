-- See migrations/sqlite/0007_ha.sql for the outbox's claim columns.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claim_expires_at BIGINT;
ALTER TABLE outbox ADD COLUMN reclaimed_from TEXT;
ALTER TABLE outbox ADD COLUMN reclaims BIGINT NOT NULL DEFAULT 0;

-- The leader's lease: one row. The leader renews `expires_at`; another instance takes the row
-- over only once it has lapsed, and each new holder gets the next `token` (a fencing token).
-- Instants are the server's clock (clock_timestamp()), so that the instances' own clocks
-- never decide who leads.
CREATE TABLE leader_lease (
    name        TEXT        PRIMARY KEY,
    holder      TEXT        NOT NULL,
    token       BIGINT      NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
