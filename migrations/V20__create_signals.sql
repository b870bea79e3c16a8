-- Trading signals: FOLLOW a skilled wallet's buy, FADE a panic of unskilled sellers.
-- Made in SQL by strategy.make_signals (functions/070_signals.sql), called by a statement-level
-- trigger on chain.order_filled for fills in fresh blocks. The executor claims rows with
-- status 'new' (FOR UPDATE SKIP LOCKED) and records its decision in schema exec.
CREATE TABLE strategy.signals (
    signal_id     bigserial PRIMARY KEY,
    created_at    timestamptz NOT NULL,            -- the "now" make_signals ran with
    action        text        NOT NULL CHECK (action IN ('FOLLOW', 'FADE')),
    wallet        bytea       NOT NULL,            -- the wallet whose fill triggered it
    token_id      numeric(78,0) NOT NULL,          -- the outcome token to trade
    condition_id  bytea,                           -- NULL while the token is not yet mapped
    outcome_index smallint,
    side          smallint    NOT NULL CHECK (side IN (0, 1)),   -- what to do: 0 BUY, 1 SELL
    trigger_side  smallint    NOT NULL CHECK (trigger_side IN (0, 1)),  -- what the wallet did
    trigger_role  text        NOT NULL CHECK (trigger_role IN ('maker', 'taker')),
    price         numeric     NOT NULL,            -- the triggering fill's price (USDC per share)
    size          numeric     NOT NULL,            -- the triggering fill's shares
    confidence    numeric     NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    score         numeric     NOT NULL,            -- the wallet's score in snapshot_id
    snapshot_id   bigint      NOT NULL,            -- score snapshot used (no FK: snapshots are thinned)
    panic_sellers integer,                         -- FADE: distinct low-score sellers in the window
    panic_wallets bytea[],                         -- FADE: who they were
    reason        text        NOT NULL,
    block_number  bigint      NOT NULL,
    log_index     integer     NOT NULL,
    block_time    timestamptz NOT NULL,
    tx_hash       bytea       NOT NULL,
    status        text        NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'taken', 'skipped')),
    decided_at    timestamptz,
    reorged_at    timestamptz,                     -- its fill was unwound after the executor decided
    UNIQUE (block_number, log_index, action)
);
-- The executor's queue: only undecided signals, in order.
CREATE INDEX signals_new ON strategy.signals (signal_id) WHERE status = 'new';
-- Cooldown look-ups: the newest signal of an action on a token.
CREATE INDEX signals_cooldown ON strategy.signals (token_id, action, block_time);

INSERT INTO strategy.parameters (name, value, description) VALUES
    ('follow_min', 7.0,
     'FOLLOW: a wallet scoring at least this (0-10, newest snapshot at or before the fill) that buys is followed.'),
    ('fade_max', 3.0,
     'FADE: a wallet scoring at most this (0-10) counts as unskilled; its sells can make a panic.'),
    ('panic_min', 5,
     'FADE: distinct unskilled wallets that must have sold the same outcome token within panic_window seconds (the triggering seller included).'),
    ('panic_window', 300,
     'FADE: seconds, up to and including the triggering fill, in which unskilled sellers are counted.'),
    ('panic_full_sellers', 10,
     'FADE: distinct unskilled sellers at which a panic counts at full strength (confidence fade_confidence_max).'),
    ('follow_maker_fills', 1,
     'FOLLOW: 1 counts buys by resting (maker-role) orders too, 0 only taker-role buys.'),
    ('fade_maker_fills', 0,
     'FADE: 1 counts sells by resting (maker-role) orders as panic too, 0 only taker-role sells (a resting ask being lifted is not panic).'),
    ('follow_confidence_min', 0.60,
     'FOLLOW: confidence (probability the bought outcome wins, as the executor reads it) at score follow_min.'),
    ('follow_confidence_max', 0.85,
     'FOLLOW: confidence at score 10; linear in the score between follow_min and 10.'),
    ('fade_confidence_min', 0.55,
     'FADE: confidence at panic_min sellers.'),
    ('fade_confidence_max', 0.75,
     'FADE: confidence at panic_full_sellers sellers or more; linear in between.'),
    ('signal_cooldown_seconds', 600,
     'No second signal of the same action on the same outcome token (market and outcome) within this many seconds of block time.'),
    ('signal_max_age_seconds', 120,
     'Only fills whose block_time is within this many seconds of now make signals, so a backfill does not flood.'),
    ('block_seconds_min', 1,
     'Fewest seconds between two blocks: the panic search reads only the last panic_window / this blocks (Polygon makes one about every 2 s).')
ON CONFLICT (name) DO NOTHING;
