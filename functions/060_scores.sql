-- Point-in-time wallet statistics and scores.
--
-- flow.wallet_stats_at(block) is a wallet's track record as it could be known at that block:
-- positions of markets resolved at or before it, entries and fills at or before it. Nothing
-- after the block is read, so a snapshot taken for a past block equals the one a live system
-- would have taken then (tests/scores.rs changes a later outcome and checks this).
-- flow.take_score_snapshot(block) scores every wallet from those statistics into
-- flow.wallet_scores; wallet_scores_now and wallet_scores (views/) read the snapshots.
--
-- A resolved position's stored state is final: all of its trades precede the resolution, and a
-- later redemption moves realised PnL by exactly the settled PnL it replaces.

-- flow.wallet_stats_at(block): per-wallet track record known at `block` (NULL: everything).
CREATE OR REPLACE FUNCTION flow.wallet_stats_at(p_block bigint DEFAULT NULL)
RETURNS TABLE (
    wallet bytea, resolved_positions bigint, profitable_trades bigint, losing_trades bigint,
    win_rate numeric, avg_profit_pct numeric, avg_position_size numeric, avg_entry_minute numeric,
    total_pnl numeric, profit_factor numeric, sharpe_ratio numeric, confidence_score numeric,
    edge numeric, maker_share numeric, markets_traded bigint, fills bigint, tight_round_trips bigint,
    is_market_maker boolean, is_wash_trader boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    b bigint := coalesce(p_block, 9223372036854775807);
BEGIN
    RETURN QUERY
    WITH res AS (   -- the first resolution of each condition at or before the block
        SELECT DISTINCT ON (r.condition_id) r.condition_id, r.payout_numerators,
               (SELECT sum(x) FROM unnest(r.payout_numerators) x) AS total
        FROM chain.condition_resolution r
        WHERE r.block_number <= b
        ORDER BY r.condition_id, r.block_number, r.log_index
    ),
    created AS (
        SELECT DISTINCT ON (c.condition_id) c.condition_id, c.block_time
        FROM chain.condition_preparation c
        ORDER BY c.condition_id, c.block_number, c.log_index
    ),
    pos AS (        -- resolved positions, closed at their payout
        SELECT p.wallet, t.condition_id,
               (p.realized_pnl + p.amount * (res.payout_numerators[t.outcome_index + 1]::numeric
                                             / nullif(res.total, 0) - p.avg_price)) / 1e6 AS pnl,
               p.total_cost / 1e6 AS cost,
               res.payout_numerators[t.outcome_index + 1]::numeric / nullif(res.total, 0) AS payout,
               p.total_cost::numeric / nullif(p.total_bought, 0) AS entry_price,
               extract(epoch FROM p.first_buy_time - created.block_time) / 60 AS entry_minute
        FROM flow.positions p
        JOIN market.tokens t ON t.token_id = p.token_id
        JOIN res ON res.condition_id = t.condition_id
        LEFT JOIN created ON created.condition_id = t.condition_id
        WHERE p.total_bought > 0
    ),
    agg AS (
        SELECT pos.wallet,
               count(*) AS n,
               count(*) FILTER (WHERE pos.pnl > 0) AS wins,
               count(*) FILTER (WHERE pos.pnl < 0) AS losses,
               avg(pos.pnl / nullif(pos.cost, 0)) AS avg_pct,
               -- below 1e-9 the spread is rounding noise, not consistency
               nullif(greatest(stddev_samp(pos.pnl / nullif(pos.cost, 0)), 1e-9), 1e-9) AS sd_pct,
               avg(pos.cost) AS avg_cost,
               avg(pos.entry_minute) AS avg_entry,
               sum(pos.pnl) AS pnl,
               sum(pos.pnl) FILTER (WHERE pos.pnl > 0) AS gains,
               -sum(pos.pnl) FILTER (WHERE pos.pnl < 0) AS losses_usdc,
               avg(pos.payout - pos.entry_price) AS edge
        FROM pos
        GROUP BY pos.wallet
    ),
    sides AS (      -- per wallet and market: outcomes entered by the block (two = quotes both sides)
        SELECT p.wallet, t.condition_id, count(DISTINCT t.outcome_index) AS n_sides
        FROM flow.positions p
        JOIN market.tokens t ON t.token_id = p.token_id
        WHERE p.first_buy_block <= b
        GROUP BY p.wallet, t.condition_id
    ),
    markets AS (
        SELECT s.wallet, count(*) AS n_markets, avg((s.n_sides >= 2)::int) AS two_sided
        FROM sides s
        GROUP BY s.wallet
    ),
    trips AS (      -- closed positions (wholly before the block), and the tight round trips among them
        SELECT p.wallet, count(*) AS closed,
               count(*) FILTER (WHERE p.last_time - p.first_buy_time
                                      <= make_interval(mins => strategy.param('wash_round_trip_minutes')::integer)
                                  AND abs(p.realized_pnl) <= strategy.param('wash_round_trip_max_pnl') * p.total_cost) AS tight
        FROM flow.positions p
        WHERE p.amount = 0 AND p.total_bought > 0 AND p.last_block <= b
        GROUP BY p.wallet
    ),
    f AS (
        SELECT o.maker AS wallet,
               count(*) AS fills,
               count(*) FILTER (WHERE o.taker <> o.contract) AS maker_fills,
               count(*) FILTER (WHERE o.taker = o.maker) AS self_fills
        FROM chain.order_filled o
        WHERE o.block_number <= b
        GROUP BY o.maker
    )
    SELECT agg.wallet,
           agg.n,
           agg.wins,
           agg.losses,
           round(agg.wins::numeric / agg.n, 4),
           round(agg.avg_pct, 4),
           round(agg.avg_cost, 2),
           round(agg.avg_entry::numeric, 1),
           round(agg.pnl, 2),
           round(agg.gains / nullif(agg.losses_usdc, 0), 4),
           round(agg.avg_pct / nullif(agg.sd_pct, 0), 4),
           round(agg.n / (agg.n + strategy.param('min_resolved_positions')), 4),
           round(agg.edge, 4),
           round(f.maker_fills::numeric / nullif(f.fills, 0), 4),
           coalesce(markets.n_markets, 0),
           coalesce(f.fills, 0),
           coalesce(trips.tight, 0),
           coalesce(f.maker_fills::numeric / nullif(f.fills, 0) >= strategy.param('mm_min_maker_share')
                    AND markets.two_sided >= strategy.param('mm_min_two_sided')
                    AND markets.n_markets >= strategy.param('mm_min_markets'), false),
           coalesce(f.self_fills::numeric / nullif(f.fills, 0) >= strategy.param('wash_min_self_share'), false)
           OR coalesce(trips.tight >= strategy.param('wash_min_round_trips')
                       AND trips.tight >= strategy.param('wash_min_round_trip_share') * trips.closed, false)
    FROM agg
    LEFT JOIN f ON f.wallet = agg.wallet
    LEFT JOIN trips ON trips.wallet = agg.wallet
    LEFT JOIN markets ON markets.wallet = agg.wallet;
END $$;

-- flow.scores_at(block): the 0-10 score of every wallet with a resolved position by `block`.
-- The weighted components give a raw 0-10 score; it is then spread around 5 (score_spread
-- points per standard deviation of the raw scores of wallets past min_resolved_positions).
-- Every component lies in [0, 1] and is pulled toward the population's value by a prior worth
-- score_prior_positions resolved positions, so a short lucky record cannot outrank a long good
-- one; below min_resolved_positions a wallet keeps the population's components exactly.
CREATE OR REPLACE FUNCTION flow.scores_at(p_block bigint DEFAULT NULL)
RETURNS TABLE (
    wallet bytea, score numeric, resolved_positions integer,
    win_component numeric, profit_factor_component numeric, consistency_component numeric,
    confidence_component numeric, early_entry_component numeric,
    win_rate numeric, profit_factor numeric, sharpe_ratio numeric, edge numeric, total_pnl numeric,
    maker_share numeric, markets_traded integer, is_market_maker boolean, is_wash_trader boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    WITH p AS (
        SELECT strategy.param('score_weight_win_rate')      AS w_win,
               strategy.param('score_weight_profit_factor') AS w_pf,
               strategy.param('score_weight_consistency')   AS w_cons,
               strategy.param('score_weight_confidence')    AS w_conf,
               strategy.param('score_weight_early_entry')   AS w_early,
               strategy.param('score_prior_positions')      AS prior,
               strategy.param('min_resolved_positions')     AS min_n,
               strategy.param('early_entry_minutes')        AS early_min,
               strategy.param('score_spread')               AS spread
    ),
    raw AS (
        SELECT s.*,
               coalesce(s.profit_factor / (1 + s.profit_factor),
                        CASE WHEN s.profitable_trades > 0 THEN 1 ELSE 0 END) AS pf_unit,
               1 / (1 + exp(-least(greatest(coalesce(s.sharpe_ratio, 0), -30), 30))) AS cons_unit,
               1 / (1 + greatest(coalesce(s.avg_entry_minute, 0), 0) / (SELECT early_min FROM p)) AS early_unit
        FROM flow.wallet_stats_at(p_block) s
    ),
    pop AS (   -- the population, weighting every resolved position equally
        SELECT sum(r.profitable_trades)::numeric / nullif(sum(r.resolved_positions), 0) AS win,
               sum(r.pf_unit * r.resolved_positions) / nullif(sum(r.resolved_positions), 0) AS pf,
               sum(r.cons_unit * r.resolved_positions) / nullif(sum(r.resolved_positions), 0) AS cons,
               sum(r.early_unit * r.resolved_positions) / nullif(sum(r.resolved_positions), 0) AS early
        FROM raw r
    ),
    comp AS (
        SELECT r.*,
               k.k * (r.profitable_trades::numeric / r.resolved_positions) + (1 - k.k) * pop.win AS win_c,
               k.k * r.pf_unit + (1 - k.k) * pop.pf AS pf_c,
               k.k * r.cons_unit + (1 - k.k) * pop.cons AS cons_c,
               k.k * r.early_unit + (1 - k.k) * pop.early AS early_c
        FROM raw r
        CROSS JOIN p
        CROSS JOIN pop
        CROSS JOIN LATERAL (SELECT CASE WHEN r.resolved_positions < p.min_n THEN 0
                                        ELSE r.resolved_positions / (r.resolved_positions + p.prior) END AS k) k
    ),
    raw_score AS (   -- 0-10: the weighted mean of the components
        SELECT c.*, 10 * (p.w_win * c.win_c + p.w_pf * c.pf_c + p.w_cons * c.cons_c
                          + p.w_conf * c.confidence_score + p.w_early * c.early_c)
                       / nullif(p.w_win + p.w_pf + p.w_cons + p.w_conf + p.w_early, 0) AS raw
        FROM comp c CROSS JOIN p
    ),
    spread AS (      -- the raw scores of wallets with a record of their own
        SELECT avg(r.raw) AS mean, stddev_samp(r.raw) AS sd
        FROM raw_score r CROSS JOIN p
        WHERE r.resolved_positions >= p.min_n
    )
    -- Shrinkage keeps raw scores close together; the score spreads them around 5 by
    -- score_spread points per standard deviation (monotone: ranks are the raw scores' ranks),
    -- so follow_min and fade_max read as "this far from the typical wallet".
    SELECT r.wallet,
           round(CASE WHEN coalesce(sp.sd, 0) > 0 AND p.spread > 0
                      THEN least(10, greatest(0, 5 + p.spread * (r.raw - sp.mean) / sp.sd))
                      ELSE r.raw END, 3),
           r.resolved_positions::integer,
           round(r.win_c, 4), round(r.pf_c, 4), round(r.cons_c, 4), r.confidence_score, round(r.early_c, 4),
           r.win_rate, r.profit_factor, r.sharpe_ratio, r.edge, r.total_pnl, r.maker_share,
           r.markets_traded::integer, r.is_market_maker, r.is_wash_trader
    FROM raw_score r CROSS JOIN p CROSS JOIN spread sp;
END $$;

-- flow.take_score_snapshot(block, reason): scores every wallet as of `block` (default: the
-- highest block indexed) into a new snapshot; returns its id. Scheduled snapshots older than
-- score_keep_days are thinned to the last of each day. A snapshot that is now the newest starts
-- the signal trigger's kept panic sells for itself (strategy.start_panic_cover).
CREATE OR REPLACE FUNCTION flow.take_score_snapshot(p_block bigint DEFAULT NULL, p_reason text DEFAULT 'manual')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    b       bigint;
    t       timestamptz;
    id      bigint;
    n       integer;
    started timestamptz := clock_timestamp();
BEGIN
    -- One snapshot at a time, and none while a reorg unwind is deleting them (chain.unwind takes
    -- the same lock): what is read below is read after any unwind has committed.
    LOCK TABLE flow.score_snapshots IN SHARE ROW EXCLUSIVE MODE;
    -- Positions a deferring writer left underived are folded first.
    PERFORM flow.derive();
    -- The head: the newest block seen (chain.blocks; hand-loaded rows may come without it).
    b := coalesce(p_block, greatest((SELECT max(block_number) FROM chain.blocks),
                                    (SELECT max(block_number) FROM chain.order_filled),
                                    (SELECT max(block_number) FROM chain.condition_resolution)));
    IF b IS NULL THEN
        RAISE EXCEPTION 'flow.take_score_snapshot: nothing indexed yet'
            USING HINT = 'index some blocks first (indexer import FILE, or indexer --rpc-url URL)';
    END IF;
    t := coalesce((SELECT bl.block_time FROM chain.blocks bl
                   WHERE bl.block_number <= b AND bl.block_time IS NOT NULL
                   ORDER BY bl.block_number DESC LIMIT 1),
                  (SELECT max(o.block_time) FROM chain.order_filled o WHERE o.block_number <= b),
                  CASE WHEN p_block IS NULL THEN now() END);
    IF t IS NULL THEN
        RAISE EXCEPTION 'flow.take_score_snapshot: the time of block % is unknown', b
            USING HINT = 'snapshots are looked up by time; index blocks with their timestamps';
    END IF;
    INSERT INTO flow.score_snapshots (as_of_block, as_of_time, reason)
    VALUES (b, t, p_reason) RETURNING snapshot_id INTO id;
    INSERT INTO flow.wallet_scores
    SELECT id, s.* FROM flow.scores_at(b) s;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE flow.score_snapshots
    SET wallets = n, duration_ms = round(extract(epoch FROM clock_timestamp() - started) * 1000, 1)
    WHERE snapshot_id = id;
    DELETE FROM flow.score_snapshots s
    WHERE s.reason = 'schedule'
      AND s.as_of_time < t - make_interval(days => strategy.param('score_keep_days')::integer)
      AND s.snapshot_id <> (SELECT max(d.snapshot_id) FROM flow.score_snapshots d
                            WHERE d.reason = 'schedule' AND d.as_of_time::date = s.as_of_time::date);
    -- The fresh fills after it are scored in this snapshot: the signal trigger's kept panic
    -- sells start over for it now, in one scan of the panic window, and not in the first fresh
    -- block, whose signals would wait for that scan.
    IF id = flow.snapshot_at() THEN
        PERFORM strategy.start_panic_cover(id, b, t);
    END IF;
    RETURN id;
END $$;

-- flow.snapshot_at(time): the newest snapshot whose as_of_time is at or before `time` (what a
-- trader could have known then); NULL when none is.
CREATE OR REPLACE FUNCTION flow.snapshot_at(p_time timestamptz DEFAULT 'infinity')
RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT snapshot_id FROM flow.score_snapshots
    WHERE as_of_time <= p_time
    ORDER BY as_of_time DESC, snapshot_id DESC LIMIT 1
$$;

-- flow.score_at(wallet, time): the wallet's score in flow.snapshot_at(time); NULL when that
-- snapshot does not score it (no resolved position yet) or there is no snapshot.
CREATE OR REPLACE FUNCTION flow.score_at(p_wallet bytea, p_time timestamptz DEFAULT 'infinity')
RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT score FROM flow.wallet_scores
    WHERE snapshot_id = flow.snapshot_at(p_time) AND wallet = p_wallet
$$;

-- flow.score_due(): whether the schedule (score_refresh_blocks, score_refresh_minutes) asks
-- for a new snapshot, given the newest indexed block. Cheap: called by the indexer per batch.
CREATE OR REPLACE FUNCTION flow.score_due() RETURNS boolean
LANGUAGE sql STABLE AS $$
    WITH last AS (SELECT max(as_of_block) AS b, max(taken_at) AS t FROM flow.score_snapshots WHERE reason = 'schedule'),
         head AS (SELECT max(block_number) AS b FROM chain.blocks)
    SELECT head.b IS NOT NULL AND (
               last.b IS NULL
            OR (strategy.param('score_refresh_blocks') > 0
                AND head.b - last.b >= strategy.param('score_refresh_blocks'))
            OR (strategy.param('score_refresh_minutes') > 0 AND head.b > last.b
                AND now() - last.t >= make_interval(mins => strategy.param('score_refresh_minutes')::integer)))
    FROM last, head
$$;
