-- Deferred derivation. A bulk writer (indexer import, a backfill) stores chain events first and
-- derives the ledger and positions from them afterwards, a large block range in one set-based
-- statement (functions/050_positions.sql: flow.derive). Its sessions set
-- `orderflow.derive = 'deferred'`; the event tables' triggers then queue the block ranges they
-- leave underived here instead of deriving them at once. Every other session (psql, a test, an
-- analyst's INSERT) derives immediately, as before.
CREATE TABLE flow.derive_queue (
    id         bigserial PRIMARY KEY,
    source     regclass NOT NULL,     -- the chain event table the rows went into
    from_block bigint   NOT NULL,
    to_block   bigint   NOT NULL,
    rows       bigint   NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (from_block <= to_block)
);
COMMENT ON TABLE flow.derive_queue IS
    'Block ranges of chain events stored by a deferring writer and not yet folded into flow.ledger/flow.positions; flow.derive() empties it.';

INSERT INTO strategy.parameters (name, value, description) VALUES
    ('derive_every_rows', 500000,
     'A deferring writer (indexer import, backfill) derives positions after about this many stored events, and at its end.'),
    ('derive_merge_blocks', 100000,
     'flow.derive() merges queued ranges less than this many blocks apart into one statement.'),
    ('derive_conversion_blocks', 300,
     'NegRisk conversions are priced at the NO shares'' average cost as of the last conversion block of their window of this many blocks (1: exactly their own block).')
ON CONFLICT (name) DO NOTHING;
