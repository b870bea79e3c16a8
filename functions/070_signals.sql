-- Signals: FOLLOW skilled wallets when they buy, FADE panic selling by unskilled ones.
--
-- strategy.make_signals(fills, now) is the whole rule; the trigger on chain.order_filled calls
-- it with now(), and a backtest replays stored history through it with the replay's own "now".
--
-- Which fills count. Every OrderFilled is credited to its maker field, the order's owner, with
-- the owner's side (0 BUY, 1 SELL); a fill whose taker field is the exchange contract is the
-- taker order's (role 'taker'), any other fill is a resting order's (role 'maker').
--   FOLLOW: a skilled wallet's buy in either role (follow_maker_fills = 1): a resting bid of
--           a skilled directional wallet says as much about the outcome as a market buy, and
--           market makers, whose resting orders say nothing, are never followed anyway.
--   FADE:   only taker-role sells, both as the trigger and as the panic sellers counted
--           (fade_maker_fills = 0): panic is hitting bids; a resting ask that someone lifts is
--           the buyer's action, not the seller's.
-- Scores are point-in-time: the wallet's row in the newest score snapshot at or before the
-- fill's block_time (flow.snapshot_at). A wallet without a row there (no resolved position
-- yet, or no snapshot at all) is neither skilled nor unskilled: it never triggers a signal and
-- never counts as a panic seller. Market makers and wash traders (their snapshot labels) never
-- trigger and never count as panic sellers.
-- Confidence is what the executor reads as the probability that the bought outcome pays out:
--   FOLLOW: follow_confidence_min + (follow_confidence_max - follow_confidence_min)
--           * (score - follow_min) / (10 - follow_min)
--   FADE:   fade_confidence_min + (fade_confidence_max - fade_confidence_min)
--           * least(1, (sellers - panic_min) / (panic_full_sellers - panic_min))
-- both clamped to [0, 1]. FADE buys the outcome the panic sells.
-- Freshness: fills without a block_time, or older than signal_max_age_seconds before "now",
-- make no signal. Cooldown: no two signals of one action on one outcome token within
-- signal_cooldown_seconds of block time of each other.
-- Panic sellers are counted from chain.order_filled, or from the copy of the unskilled ones'
-- sells that the trigger keeps in strategy.panic_sells (strategy.keep_panic_sells, below)
-- whenever strategy.panic_cover says it holds all of the window's: the same wallets, read from
-- a few dozen rows instead of every sell of a busy token.

-- strategy.panic_from_block(block, time): the first block of the panic window of a fill in
-- block `block` at `time`: the one after the newest block older than panic_window (block times
-- never decrease along the chain), found in chain.blocks among the last
-- panic_window / block_seconds_min blocks, which bound it when none is.
-- (PL/pgSQL: its query plan is kept for the session; a SQL function's would be made anew on
-- every call: 1 ms more per block at the median, replaying 100 blocks through make_signals.)
CREATE OR REPLACE FUNCTION strategy.panic_from_block(p_block bigint, p_time timestamptz) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    secs  numeric := strategy.param('panic_window');
    reach bigint  := ceil(secs / greatest(strategy.param('block_seconds_min'), 0.001))::bigint;
BEGIN
    RETURN coalesce((SELECT max(k.block_number) + 1 FROM chain.blocks k
                     WHERE k.block_number >= p_block - reach AND k.block_number <= p_block
                       AND k.block_time < p_time - make_interval(secs => secs)),
                    p_block - reach);
END $$;

-- strategy.make_signals(fills, now): the signals these fills make, inserted into
-- strategy.signals with a pg_notify('signals', id) each; returns the new ids. The fills must
-- be stored in chain.order_filled already (panic sellers are counted from there).
-- Its queries keep one generic plan per session (plan_cache_mode): left to choose, PL/pgSQL
-- plans them anew for each of a session's first five calls, with the fills' array as a
-- constant, before it settles on the generic plan it then keeps; those were the first five
-- fresh blocks at the head, each paying some milliseconds of planning for the same plan.
CREATE OR REPLACE FUNCTION strategy.make_signals(p_fills chain.order_filled[], p_now timestamptz)
RETURNS SETOF bigint
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    c        record;
    new_id   bigint;
    cooldown interval := make_interval(secs => strategy.param('signal_cooldown_seconds'));
BEGIN
    -- Finding candidates is set-based; the few candidates are then taken one by one in chain
    -- order, because whether one passes the cooldown depends on those taken before it.
    FOR c IN
        WITH p AS (
            SELECT strategy.param('follow_min')              AS follow_min,
                   strategy.param('fade_max')                AS fade_max,
                   strategy.param('panic_min')               AS panic_min,
                   strategy.param('panic_window')            AS panic_window,
                   strategy.param('panic_full_sellers')      AS panic_full,
                   strategy.param('follow_maker_fills') <> 0 AS follow_makers,
                   strategy.param('fade_maker_fills') <> 0   AS fade_makers,
                   strategy.param('follow_confidence_min')   AS follow_cmin,
                   strategy.param('follow_confidence_max')   AS follow_cmax,
                   strategy.param('fade_confidence_min')     AS fade_cmin,
                   strategy.param('fade_confidence_max')     AS fade_cmax,
                   strategy.param('signal_max_age_seconds')  AS max_age
        ),
        f AS (      -- fresh fills that may trigger (a buy, or a sell in a role FADE counts),
                    -- with price and size in whole units; the others need no score lookup
            SELECT u.*,
                   CASE WHEN u.taker = u.contract THEN 'taker' ELSE 'maker' END AS role,
                   CASE WHEN u.side = 0 THEN u.maker_amount ELSE u.taker_amount END AS collateral,
                   CASE WHEN u.side = 0 THEN u.taker_amount ELSE u.maker_amount END AS tokens
            FROM unnest(p_fills) u, p
            WHERE u.block_time IS NOT NULL
              AND u.block_time >= p_now - make_interval(secs => p.max_age)
              AND CASE WHEN u.side = 0 THEN u.taker = u.contract OR p.follow_makers
                       ELSE u.taker = u.contract OR p.fade_makers END
        ),
        snap AS MATERIALIZED (   -- the newest snapshot at or before each block time, looked up once a block
            SELECT t.block_time, flow.snapshot_at(t.block_time) AS snapshot_id
            FROM (SELECT DISTINCT block_time FROM f) t
        ),
        s AS (      -- with the wallet's row in that snapshot
            SELECT f.*, w.snapshot_id, w.score, w.is_market_maker, w.is_wash_trader
            FROM f
            JOIN snap ON snap.block_time = f.block_time
            -- by primary key, whatever the planner guesses of the sizes (LIMIT keeps it a lookup)
            CROSS JOIN LATERAL (SELECT * FROM flow.wallet_scores w
                                WHERE w.snapshot_id = snap.snapshot_id AND w.wallet = f.maker
                                LIMIT 1) w
            WHERE NOT w.is_market_maker AND NOT w.is_wash_trader
              AND f.tokens > 0
        ),
        follow AS (
            SELECT s.*, 'FOLLOW'::text AS action, NULL::integer AS sellers, NULL::bytea[] AS sellers_list,
                   least(1, greatest(0, coalesce(
                       p.follow_cmin + (p.follow_cmax - p.follow_cmin) * (s.score - p.follow_min)
                                       / nullif(10 - p.follow_min, 0),
                       p.follow_cmax))) AS confidence
            FROM s, p
            WHERE s.side = 0 AND s.score >= p.follow_min
              AND (s.role = 'taker' OR p.follow_makers)
        ),
        fade_c AS MATERIALIZED (   -- the fills that may start a FADE, if enough unskilled wallets sold too
            SELECT s.* FROM s, p
            WHERE s.side = 1 AND s.score <= p.fade_max
              AND (s.role = 'taker' OR p.fade_makers)
        ),
        fade_from AS MATERIALIZED (   -- per candidate block, the first block of its panic window
            SELECT b.block_number, b.block_time, strategy.panic_from_block(b.block_number, b.block_time) AS from_block
            FROM (SELECT DISTINCT fc.block_number, fc.block_time FROM fade_c fc) b
        ),
        fade_g AS MATERIALIZED (   -- per token and block with candidates: where its last candidate is
            SELECT fc.token_id, fc.block_number, fc.block_time, fc.snapshot_id, max(fc.log_index) AS last_log
            FROM fade_c fc
            GROUP BY fc.token_id, fc.block_number, fc.block_time, fc.snapshot_id
        ),
        cover AS MATERIALIZED (SELECT * FROM strategy.panic_cover),
        panic_sellers AS MATERIALIZED (
            -- The unskilled sellers of each such token in the window up to its last candidate,
            -- each with the position of its first sell there, found once for all the token's
            -- candidates in the block, in the trigger's snapshot. From strategy.panic_sells when
            -- it holds all of them (the same snapshot and parameters, the whole window at or
            -- above panic_cover.from_block). Otherwise from chain.order_filled: the window's
            -- sellers first, then each one's score once; the block bounds keep the search on
            -- the window's blocks, and with taker sells only (fade_maker_fills = 0) it reads the
            -- partial index of taker sells (taker_sells, chain.partition_indexes), not every
            -- fill of a busy token. numeric_eq: the exact match that keeps the planner off the
            -- btree on token_id (exec.last_trade).
            SELECT g.token_id, g.block_number, d.maker, d.first_block, d.first_log
            FROM fade_g g
            JOIN fade_from ff ON ff.block_number = g.block_number AND ff.block_time = g.block_time
            CROSS JOIN p
            LEFT JOIN cover k ON k.snapshot_id = g.snapshot_id AND k.fade_max = p.fade_max
                             AND k.fade_makers = p.fade_makers AND k.from_block <= ff.from_block
            CROSS JOIN LATERAL (
                SELECT DISTINCT ON (o.maker) o.maker, o.block_number AS first_block, o.log_index AS first_log, o.kept
                FROM (
                    -- kept: already picked as unskilled
                    SELECT ks.wallet AS maker, ks.block_number, ks.log_index, ks.block_time, true AS kept
                    FROM strategy.panic_sells ks
                    WHERE k.from_block IS NOT NULL
                      AND ks.token_id = g.token_id
                      AND ks.block_number >= ff.from_block
                      AND ks.block_number <= g.block_number
                      AND (ks.block_number, ks.log_index) <= (g.block_number, g.last_log)
                    UNION ALL
                    -- taker sells only (the default): the partial index of taker sells
                    SELECT o.maker, o.block_number, o.log_index, o.block_time, false FROM chain.order_filled o
                    WHERE k.from_block IS NULL AND NOT p.fade_makers
                      AND chain.token_key(o.token_id) = chain.token_key(g.token_id) AND numeric_eq(o.token_id, g.token_id)
                      AND o.side = 1 AND o.taker = o.contract
                      AND o.block_number >= ff.from_block
                      AND o.block_number <= g.block_number
                      AND (o.block_number, o.log_index) <= (g.block_number, g.last_log)
                    UNION ALL
                    SELECT o.maker, o.block_number, o.log_index, o.block_time, false FROM chain.order_filled o
                    WHERE k.from_block IS NULL AND p.fade_makers
                      AND chain.token_key(o.token_id) = chain.token_key(g.token_id) AND numeric_eq(o.token_id, g.token_id)
                      AND o.side = 1
                      AND o.block_number >= ff.from_block
                      AND o.block_number <= g.block_number
                      AND (o.block_number, o.log_index) <= (g.block_number, g.last_log)
                ) o
                WHERE o.block_time >= g.block_time - make_interval(secs => p.panic_window)
                ORDER BY o.maker, o.block_number, o.log_index
            ) d
            WHERE d.kept
               OR EXISTS (SELECT 1 FROM flow.wallet_scores w
                          WHERE w.snapshot_id = g.snapshot_id AND w.wallet = d.maker
                            AND w.score <= p.fade_max AND NOT w.is_market_maker AND NOT w.is_wash_trader)
        ),
        fade AS (
            SELECT fc.*, 'FADE'::text AS action, panic.n::integer AS sellers, panic.wallets AS sellers_list,
                   least(1, greatest(0,
                       p.fade_cmin + (p.fade_cmax - p.fade_cmin)
                                     * CASE WHEN p.panic_full <= p.panic_min THEN 1
                                            ELSE least(1, (panic.n - p.panic_min) / (p.panic_full - p.panic_min)) END))
                       AS confidence
            FROM fade_c fc
            CROSS JOIN p
            CROSS JOIN LATERAL (
                -- Distinct unskilled sellers of this token in the window up to this fill: those
                -- whose first sell there comes at or before it.
                SELECT count(*) AS n, array_agg(ps.maker ORDER BY ps.maker) AS wallets
                FROM panic_sellers ps
                WHERE ps.token_id = fc.token_id AND ps.block_number = fc.block_number
                  AND (ps.first_block, ps.first_log) <= (fc.block_number, fc.log_index)
            ) panic
            WHERE panic.n >= p.panic_min
        ),
        cand AS (   -- with a cooldown, only the first of one action on one token at one block
                    -- time can pass it (the others are within 0 s of it, or of what stopped it)
            SELECT * FROM (
                SELECT u.*, row_number() OVER (PARTITION BY u.token_id, u.action, u.block_time
                                               ORDER BY u.block_number, u.log_index) AS nth
                FROM (SELECT * FROM follow UNION ALL SELECT * FROM fade) u
            ) v
            WHERE v.nth = 1 OR cooldown <= interval '0'
        )
        SELECT cand.*, t.condition_id, t.outcome_index,
               round(cand.collateral::numeric / cand.tokens, 6) AS price,
               (cand.tokens / 1e6)::numeric(20,6) AS shares
        FROM cand
        LEFT JOIN market.tokens t ON t.token_id = cand.token_id
        ORDER BY cand.block_number, cand.log_index, cand.action
    LOOP
        -- Serialise signal-making per (token, action) across concurrent writers: the cooldown
        -- check below then sees what another transaction made.
        PERFORM pg_advisory_xact_lock(hashtextextended('strategy.signals:' || c.token_id::text || ':' || c.action, 0));
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM strategy.signals x
            WHERE x.token_id = c.token_id AND x.action = c.action
              AND x.block_time > c.block_time - cooldown
              AND x.block_time < c.block_time + cooldown);
        INSERT INTO strategy.signals AS x (
            created_at, action, wallet, token_id, condition_id, outcome_index, side, trigger_side,
            trigger_role, price, size, confidence, score, snapshot_id, panic_sellers, panic_wallets,
            reason, block_number, log_index, block_time, tx_hash)
        VALUES (
            p_now, c.action, c.maker, c.token_id, c.condition_id, c.outcome_index, 0, c.side,
            c.role, c.price, c.shares, round(c.confidence, 4), c.score, c.snapshot_id, c.sellers, c.sellers_list,
            CASE c.action
                WHEN 'FOLLOW' THEN format(
                    'FOLLOW: wallet %s scored %s (>= follow_min %s, snapshot %s) bought %s shares at %s as %s',
                    chain.hex(c.maker), c.score, strategy.param('follow_min'), c.snapshot_id,
                    c.shares, c.price, c.role)
                ELSE format(
                    'FADE: %s unskilled wallets (score <= fade_max %s, snapshot %s) sold this outcome within %s s; '
                    'wallet %s scored %s sold %s shares at %s as %s; buying what they sell',
                    c.sellers, strategy.param('fade_max'), c.snapshot_id, strategy.param('panic_window'),
                    chain.hex(c.maker), c.score, c.shares, c.price, c.role)
            END,
            c.block_number, c.log_index, c.block_time, c.tx_hash)
        ON CONFLICT (block_number, log_index, action) DO NOTHING
        RETURNING x.signal_id INTO new_id;
        IF new_id IS NOT NULL THEN
            PERFORM pg_notify('signals', new_id::text);
            RETURN NEXT new_id;
        END IF;
    END LOOP;
    RETURN;
END $$;
COMMENT ON FUNCTION strategy.make_signals(chain.order_filled[], timestamptz) IS
    'Makes FOLLOW/FADE signals from stored fills as of p_now (the trigger passes now(); a backtest its replay time). Returns the new signal ids; each is also sent as pg_notify(''signals'', id).';

-- strategy.start_panic_cover(snapshot, block, time): starts strategy.panic_sells anew for
-- score snapshot `snapshot`: drops the kept sells, sets strategy.panic_cover to that snapshot,
-- the current fade_max and fade_maker_fills and the first block of the panic window of
-- `block` at `time`, and keeps the counted sells of every fill stored from there on (one scan
-- of the window's fills). Returns the cover. flow.take_score_snapshot calls it for each new
-- newest snapshot, so that the first fresh block after it need not; the signal trigger calls
-- it (through strategy.keep_panic_sells) when a fresh fill finds a cover of another snapshot
-- or of other parameters. It takes the cover's row lock (held already on the trigger's path).
CREATE OR REPLACE FUNCTION strategy.start_panic_cover(p_snapshot bigint, p_block bigint, p_time timestamptz)
RETURNS strategy.panic_cover
LANGUAGE plpgsql AS $$
DECLARE
    cov strategy.panic_cover;
BEGIN
    PERFORM 1 FROM strategy.panic_cover FOR UPDATE;
    DELETE FROM strategy.panic_sells;
    INSERT INTO strategy.panic_cover AS k (snapshot_id, fade_max, fade_makers, from_block)
    VALUES (p_snapshot, strategy.param('fade_max'), strategy.param('fade_maker_fills') <> 0,
            strategy.panic_from_block(p_block, p_time))
    ON CONFLICT (only_row) DO UPDATE
        SET snapshot_id = excluded.snapshot_id, fade_max = excluded.fade_max,
            fade_makers = excluded.fade_makers, from_block = excluded.from_block
    RETURNING k.* INTO cov;
    INSERT INTO strategy.panic_sells (token_id, block_number, log_index, block_time, wallet)
    SELECT n.token_id, n.block_number, n.log_index, n.block_time, n.maker
    FROM chain.order_filled n
    JOIN flow.wallet_scores w ON w.snapshot_id = cov.snapshot_id AND w.wallet = n.maker
    WHERE n.block_number >= cov.from_block AND n.block_time IS NOT NULL
      AND n.side = 1 AND (n.taker = n.contract OR cov.fade_makers)
      AND w.score <= cov.fade_max AND NOT w.is_market_maker AND NOT w.is_wash_trader;
    RETURN cov;
END $$;

-- strategy.keep_panic_sells(fresh_time, hi): what strategy.panic_sells must take from one
-- insert statement on chain.order_filled (the trigger's new_rows, up to block hi; fresh_time:
-- the newest block time among its fresh fills, NULL when none is fresh). Returns the cover
-- (all NULL when nothing is to be kept) and `warm`: the cover was started anew here and
-- already holds the statement's counted sells.
--   A fresh fill whose score snapshot (flow.snapshot_at) is not the cover's, or a changed
--   fade_max or fade_maker_fills, starts the cover anew (strategy.start_panic_cover) at the
--   first block of that fill's panic window. After flow.take_score_snapshot, which starts it
--   for its snapshot, this happens only when a parameter changes or fills arrive that an older
--   snapshot scores.
--   Statements only below from_block (a backfill of older blocks) leave it as it is.
--   Behind the window of the newest block (twice the most blocks panic_window can hold) the
--   kept sells are pruned and from_block moves up past them.
-- The cover's row lock serialises the writers of fills that keep sells, so two transactions
-- cannot both start or extend it on what the other has not committed.
DROP FUNCTION IF EXISTS strategy.keep_panic_sells(timestamptz, bigint, bigint);
DROP FUNCTION IF EXISTS strategy.keep_panic_sells(timestamptz, bigint);
CREATE OR REPLACE FUNCTION strategy.keep_panic_sells(p_fresh_time timestamptz, p_hi bigint,
    OUT snapshot_id bigint, OUT fade_max numeric, OUT fade_makers boolean, OUT from_block bigint,
    OUT warm boolean)
LANGUAGE plpgsql AS $$
DECLARE
    cov           strategy.panic_cover;
    snap          bigint;
    v_fade_max    numeric := strategy.param('fade_max');
    v_fade_makers boolean := strategy.param('fade_maker_fills') <> 0;
    reach         bigint  := ceil(strategy.param('panic_window')
                                  / greatest(strategy.param('block_seconds_min'), 0.001))::bigint;
BEGIN
    warm := false;
    IF p_hi IS NULL THEN                -- no new rows (all were duplicates)
        RETURN;
    END IF;
    IF p_fresh_time IS NULL THEN        -- stale fills: only above the cover's start
        IF NOT EXISTS (SELECT 1 FROM strategy.panic_cover k WHERE k.from_block <= p_hi) THEN
            RETURN;
        END IF;
    END IF;
    SELECT * INTO cov FROM strategy.panic_cover FOR UPDATE;
    IF p_fresh_time IS NOT NULL THEN
        snap := flow.snapshot_at(p_fresh_time);
        IF snap IS NOT NULL AND (cov.snapshot_id IS NULL OR cov.snapshot_id <> snap
                                 OR cov.fade_max <> v_fade_max OR cov.fade_makers <> v_fade_makers) THEN
            cov := strategy.start_panic_cover(snap, p_hi, p_fresh_time);
            warm := true;
        END IF;
    END IF;
    IF cov.from_block IS NULL OR p_hi < cov.from_block THEN
        RETURN;
    END IF;
    IF p_hi - 2 * reach > cov.from_block THEN
        DELETE FROM strategy.panic_sells k WHERE k.block_number < p_hi - 2 * reach;
        UPDATE strategy.panic_cover SET from_block = p_hi - 2 * reach RETURNING * INTO cov;
    END IF;
    snapshot_id := cov.snapshot_id; fade_max := cov.fade_max;
    fade_makers := cov.fade_makers; from_block := cov.from_block;
END $$;

-- New fills: their counted sells are kept (strategy.keep_panic_sells says which), then only
-- those of fresh blocks that may trigger go further, so a backfill costs one scan of its batch.
CREATE OR REPLACE FUNCTION strategy.tg_order_filled__signals() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- Computed once: a function call in the WHERE clause would run for every row of a backfill.
    cutoff        timestamptz := now() - make_interval(secs => strategy.param('signal_max_age_seconds'));
    follow_makers boolean := strategy.param('follow_maker_fills') <> 0;
    fade_makers   boolean := strategy.param('fade_maker_fills') <> 0;
    fills         chain.order_filled[];
    hi            bigint;
    fresh_time    timestamptz;
    cov           record;
BEGIN
    -- One scan of the new rows: what the kept sells need, and the fills that may trigger
    -- (make_signals would drop the others; the panic sellers it counts are read from the
    -- tables).
    SELECT max(n.block_number), max(n.block_time) FILTER (WHERE n.block_time >= cutoff),
           array_agg(ROW(n.*)::chain.order_filled)
               FILTER (WHERE n.block_time >= cutoff
                         AND CASE WHEN n.side = 0 THEN n.taker = n.contract OR follow_makers
                                  ELSE n.taker = n.contract OR fade_makers END)
    INTO hi, fresh_time, fills
    FROM new_rows n;
    SELECT * INTO cov FROM strategy.keep_panic_sells(fresh_time, hi);
    -- The statement's counted sells, by the rule strategy.start_panic_cover keeps them from
    -- the stored fills (a warm cover holds them already).
    IF cov.from_block IS NOT NULL AND NOT cov.warm THEN
        INSERT INTO strategy.panic_sells (token_id, block_number, log_index, block_time, wallet)
        SELECT n.token_id, n.block_number, n.log_index, n.block_time, n.maker
        FROM new_rows n
        JOIN flow.wallet_scores w ON w.snapshot_id = cov.snapshot_id AND w.wallet = n.maker
        WHERE n.block_number >= cov.from_block AND n.block_time IS NOT NULL
          AND n.side = 1 AND (n.taker = n.contract OR cov.fade_makers)
          AND w.score <= cov.fade_max AND NOT w.is_market_maker AND NOT w.is_wash_trader
        ON CONFLICT DO NOTHING;
    END IF;
    IF fills IS NOT NULL THEN
        PERFORM strategy.make_signals(fills, now());
    END IF;
    RETURN NULL;
END $$;

-- Unwound fills (a reorg, chain.unwind): their signals must not stay actionable. Signals the
-- executor has not decided on are deleted (they never happened on the canonical chain); those
-- already taken or skipped stay on record with reorged_at set, next to their decisions. Their
-- kept panic sells go with them.
CREATE OR REPLACE FUNCTION strategy.tg_order_filled__unsignal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM strategy.signals s
    USING old_rows o
    WHERE s.block_number = o.block_number AND s.log_index = o.log_index AND s.status = 'new';
    UPDATE strategy.signals s SET reorged_at = now()
    FROM old_rows o
    WHERE s.block_number = o.block_number AND s.log_index = o.log_index AND s.reorged_at IS NULL;
    DELETE FROM strategy.panic_sells k
    USING old_rows o
    WHERE k.token_id = o.token_id AND k.block_number = o.block_number AND k.log_index = o.log_index;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS _700_signals ON chain.order_filled;
CREATE TRIGGER _700_signals AFTER INSERT ON chain.order_filled
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION strategy.tg_order_filled__signals();

DROP TRIGGER IF EXISTS _700_unsignal ON chain.order_filled;
CREATE TRIGGER _700_unsignal AFTER DELETE ON chain.order_filled
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION strategy.tg_order_filled__unsignal();
