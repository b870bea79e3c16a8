-- The recent sells of unskilled wallets, kept for FADE's panic search.
--
-- The search counts the distinct unskilled wallets that sold a token in the last panic_window.
-- Read from chain.order_filled, it reads every taker sell of the token in the window and then
-- looks up each seller's score: on a busy token at ten times the live rate that is ~1,400 sells
-- of ~750 wallets, of whom ~35 are unskilled, 4-5 ms for every token with a FADE candidate in a
-- block. The signal trigger (functions/070_signals.sql) keeps the few that count here as they
-- arrive, scored once, and the search reads them instead whenever they are known to be all of
-- them (strategy.panic_cover); otherwise it reads chain.order_filled as before. Both give the
-- same wallets.
CREATE TABLE strategy.panic_sells (
    token_id     numeric(78,0) NOT NULL,
    block_number bigint        NOT NULL,
    log_index    integer       NOT NULL,
    block_time   timestamptz   NOT NULL,
    wallet       bytea         NOT NULL,
    PRIMARY KEY (token_id, block_number, log_index)
);
-- Pruning behind the window.
CREATE INDEX panic_sells_block ON strategy.panic_sells (block_number);
COMMENT ON TABLE strategy.panic_sells IS
    'Sells FADE counts (taker sells; every sell with fade_maker_fills 1) by wallets scoring at most fade_max, not market makers or wash traders, in snapshot strategy.panic_cover.snapshot_id: every such stored fill from block panic_cover.from_block on. Kept by the signal trigger; unwound with the fills.';

-- What strategy.panic_sells holds: at most one row. A new score snapshot, or a changed
-- fade_max or fade_maker_fills, starts it anew from the current panic window.
CREATE TABLE strategy.panic_cover (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    snapshot_id bigint  NOT NULL,    -- the snapshot the sellers were scored in
    fade_max    numeric NOT NULL,    -- the fade_max they were picked with
    fade_makers boolean NOT NULL,    -- whether maker sells count (fade_maker_fills <> 0)
    from_block  bigint  NOT NULL     -- every counted sell from this block on is in panic_sells
);
COMMENT ON TABLE strategy.panic_cover IS
    'Which sells strategy.panic_sells holds: all that FADE counts, by wallets unskilled in snapshot_id (with these fade_max and fade_maker_fills), in blocks from from_block on.';
