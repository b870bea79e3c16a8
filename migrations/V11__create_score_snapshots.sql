-- Point-in-time wallet scores. A snapshot scores every wallet with at least one resolved
-- position from what was known at its block: positions of markets resolved at or before it,
-- fills at or before it (functions/060_scores.sql). Snapshots are kept, so a backtest or an
-- analyst can ask what the score of a wallet was at any past moment.
CREATE TABLE flow.score_snapshots (
    snapshot_id bigserial PRIMARY KEY,
    as_of_block bigint      NOT NULL,
    as_of_time  timestamptz NOT NULL,
    taken_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason      text        NOT NULL DEFAULT 'manual',   -- manual | schedule | backtest | bench
    wallets     integer     NOT NULL DEFAULT 0,
    duration_ms numeric
);
CREATE INDEX score_snapshots_as_of_time ON flow.score_snapshots (as_of_time);
CREATE INDEX score_snapshots_as_of_block ON flow.score_snapshots (as_of_block);

CREATE TABLE flow.wallet_scores (
    snapshot_id             bigint  NOT NULL REFERENCES flow.score_snapshots ON DELETE CASCADE,
    wallet                  bytea   NOT NULL,
    score                   numeric NOT NULL,
    resolved_positions      integer NOT NULL,
    win_component           numeric NOT NULL,
    profit_factor_component numeric NOT NULL,
    consistency_component   numeric NOT NULL,
    confidence_component    numeric NOT NULL,
    early_entry_component   numeric NOT NULL,
    win_rate                numeric,
    profit_factor           numeric,
    sharpe_ratio            numeric,
    edge                    numeric,
    total_pnl               numeric,
    maker_share             numeric,
    markets_traded          integer NOT NULL,
    is_market_maker         boolean NOT NULL,
    is_wash_trader          boolean NOT NULL,
    PRIMARY KEY (snapshot_id, wallet)
);

INSERT INTO strategy.parameters (name, value, description) VALUES
    ('score_refresh_blocks',  300, 'The indexer takes a score snapshot after this many new blocks at the head (0: never by blocks).'),
    ('score_refresh_minutes', 10,  'The indexer takes a score snapshot at least this often while new blocks arrive (0: never by time).'),
    ('score_keep_days',       30,  'Scheduled snapshots older than this are thinned to one per day (manual and backtest snapshots are kept).')
ON CONFLICT (name) DO NOTHING;
