-- The store's identity (issue 18): one row, written when the store is created. The service
-- keeps the id beside its config and refuses a store whose id differs, or a new empty store,
-- unless started with `run --new-store`: a store replaced or lost would otherwise be refilled
-- from the sources and every escalation decided and sent again.
CREATE TABLE store_identity (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
