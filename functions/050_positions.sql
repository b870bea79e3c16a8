-- Positions and PnL: the ledger is filled from chain events by statement-level triggers, and
-- every batch of new ledger rows is folded into flow.positions in chain order by the
-- flow.position_fold aggregate (set-based: one statement per batch).
--
-- Accounting (average cost, as Polymarket's PnL subgraph):
--   acquire q shares for c collateral:  avg := (avg * amount + c) / (amount + q); amount += q
--   dispose of q shares for c:          realized += min(q, amount) * (c / q - avg); amount -= min(q, amount)
--   redeem all at payout p:             realized += amount * (p - avg); amount := 0
-- Fees: V1 charges the fee in what the order receives (fewer shares on a BUY, less collateral on
-- a SELL); V2 charges collateral (more paid on a BUY, less received on a SELL). Event amounts
-- are gross. Splits are buys of every leg at 0.5, merges sells at 0.5, both only when the
-- stakeholder is not an exchange or the NegRiskAdapter (flow.internal_addresses): the adapter's
-- own PositionSplit/PositionsMerge name the user and are counted instead.

DROP FUNCTION IF EXISTS flow.fold_positions(bytea[], numeric[], bigint[]);
DROP FUNCTION IF EXISTS flow.store_position(bytea, numeric, numeric, numeric, numeric, numeric, numeric,
                                            bigint, timestamptz, bigint, integer, smallint, timestamptz);

-- The running state of one position while the ledger is folded.
DROP TYPE IF EXISTS flow.position_state CASCADE;
CREATE TYPE flow.position_state AS (
    amount numeric, avg_price numeric, realized numeric, bought numeric, cost numeric,
    first_block bigint, first_time timestamptz,
    last_block bigint, last_log integer, last_sub smallint, last_time timestamptz,
    first_buy_block bigint, first_buy_time timestamptz);

-- flow.position_step(state, start, ledger row…): one ledger row applied to a position. The
-- first row of a group starts from `start` (the stored position) or from nothing; every later
-- row must come after the one before it in chain order, or the step raises an error (the fold
-- is only right in chain order, and this is where that is checked, whoever feeds it). Each case
-- builds the new state in one RETURN (this runs once per ledger row: folding 1,000,000 fills
-- took 5.1-5.2 s this way in psql, against 5.7 s assigning the fields one statement at a time;
-- the order check costs nothing measurable: 3.56-3.60 s with it, 3.60-4.01 s without).
CREATE OR REPLACE FUNCTION flow.position_step(
    s flow.position_state, start flow.position_state,
    p_qty bigint, p_cash bigint, p_payout numeric,
    p_block bigint, p_log integer, p_sub smallint, p_time timestamptz)
RETURNS flow.position_state
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    q numeric;                                   -- shares disposed of (never more than held)
    a numeric;                                   -- shares held after the row
BEGIN
    IF s IS NULL THEN
        s := coalesce(start, ROW(0, 0, 0, 0, 0, p_block, p_time, NULL, NULL, NULL, NULL, NULL, NULL)::flow.position_state);
    ELSIF (p_block, p_log, p_sub) <= (s.last_block, s.last_log, s.last_sub) THEN
        RAISE EXCEPTION 'flow.position_fold: ledger row (%, %, %) does not come after (%, %, %): rows must come in chain order',
            p_block, p_log, p_sub, s.last_block, s.last_log, s.last_sub;
    END IF;
    IF p_qty > 0 THEN                            -- acquire
        a := s.amount + p_qty;
        RETURN ROW(a, (s.avg_price * s.amount - p_cash) / a, s.realized, s.bought + p_qty, s.cost - p_cash,
                   s.first_block, s.first_time, p_block, p_log, p_sub, p_time,
                   coalesce(s.first_buy_block, p_block),
                   CASE WHEN s.first_buy_block IS NULL THEN p_time ELSE s.first_buy_time END)::flow.position_state;
    ELSIF p_qty IS NULL THEN                     -- redeem everything held at the payout
        RETURN ROW(0, 0, s.realized + s.amount * (coalesce(p_payout, 0) - s.avg_price), s.bought, s.cost,
                   s.first_block, s.first_time, p_block, p_log, p_sub, p_time,
                   s.first_buy_block, s.first_buy_time)::flow.position_state;
    END IF;
    q := CASE WHEN p_qty < 0 THEN least(-p_qty, s.amount) ELSE 0 END;   -- dispose
    a := s.amount - q;
    RETURN ROW(a, CASE WHEN a = 0 THEN 0 ELSE s.avg_price END,
               -- p_cash NULL: given up at average cost (conversions), nothing realised
               CASE WHEN p_qty < 0 AND p_cash IS NOT NULL
                    THEN s.realized + q * (p_cash::numeric / -p_qty - s.avg_price) ELSE s.realized END,
               s.bought, s.cost, s.first_block, s.first_time, p_block, p_log, p_sub, p_time,
               s.first_buy_block, s.first_buy_time)::flow.position_state;
END $$;

-- flow.position_fold(start, ledger row…): a position after its ledger rows, set-based over any
-- number of positions with GROUP BY. The rows must come in chain order (block_number,
-- log_index, sub): either with ORDER BY inside the call, or from a subquery sorted by the group
-- keys and then by chain order, which the step checks row by row (flow.tg_ledger__fold).
CREATE AGGREGATE flow.position_fold(flow.position_state, bigint, bigint, numeric, bigint, integer, smallint, timestamptz) (
    SFUNC = flow.position_step,
    STYPE = flow.position_state
);

-- flow.store_positions(wallets, tokens, states, stored): writes folded states: updates the
-- positions already stored (stored[i]) and inserts the others. Callers hold the derive lock
-- (flow.derive_range, flow.tg_ledger__unfold), so nothing else writes positions meanwhile and
-- a plain INSERT (cheaper than an upsert: no speculative insertion) is safe.
DROP FUNCTION IF EXISTS flow.store_positions(bytea[], numeric[], flow.position_state[]);
CREATE OR REPLACE FUNCTION flow.store_positions(p_wallets bytea[], p_tokens numeric[], p_states flow.position_state[],
                                                p_stored boolean[])
RETURNS void LANGUAGE sql AS $$
    WITH u AS (
        -- unnest spreads the composite states into their fields
        SELECT * FROM unnest(p_wallets, p_tokens, p_states, p_stored)
            AS u(wallet, token_id, amount, avg_price, realized, bought, cost, first_block, first_time, last_block,
                 last_log, last_sub, last_time, first_buy_block, first_buy_time, stored)
    ),
    updated AS (
        UPDATE flow.positions p SET
            amount = u.amount, avg_price = u.avg_price, realized_pnl = u.realized,
            total_bought = u.bought, total_cost = u.cost,
            first_block = u.first_block, first_time = u.first_time,
            last_block = u.last_block, last_log_index = u.last_log,
            last_sub = u.last_sub, last_time = u.last_time,
            first_buy_block = u.first_buy_block, first_buy_time = u.first_buy_time
        FROM u
        WHERE u.stored AND p.wallet = u.wallet AND p.token_id = u.token_id
    )
    INSERT INTO flow.positions (wallet, token_id, amount, avg_price, realized_pnl, total_bought, total_cost,
                                first_block, first_time, last_block, last_log_index, last_sub, last_time,
                                first_buy_block, first_buy_time)
    SELECT u.wallet, u.token_id, u.amount, u.avg_price, u.realized, u.bought, u.cost,
           u.first_block, u.first_time, u.last_block, u.last_log, u.last_sub, u.last_time,
           u.first_buy_block, u.first_buy_time
    FROM u
    WHERE NOT u.stored
$$;

-- flow.refold(wallets, tokens): recomputes these positions from the whole ledger.
CREATE OR REPLACE FUNCTION flow.refold(p_wallets bytea[], p_tokens numeric[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    w bytea[]; t numeric[]; st flow.position_state[];
BEGIN
    DELETE FROM flow.positions p USING unnest(p_wallets, p_tokens) AS u(wallet, token_id)
    WHERE p.wallet = u.wallet AND p.token_id = u.token_id;
    SELECT array_agg(f.wallet), array_agg(f.token_id), array_agg(f.st) INTO w, t, st
    FROM (SELECT l.wallet, l.token_id,
                 flow.position_fold(NULL, l.qty, l.cash, l.payout, l.block_number, l.log_index, l.sub, l.block_time
                                    ORDER BY l.block_number, l.log_index, l.sub) AS st
          FROM (SELECT DISTINCT * FROM unnest(p_wallets, p_tokens) AS u(wallet, token_id)) k
          JOIN flow.ledger l ON l.wallet = k.wallet AND l.token_id = k.token_id
          GROUP BY l.wallet, l.token_id) f;
    IF w IS NOT NULL THEN
        PERFORM flow.store_positions(w, t, st, array_fill(false, ARRAY[cardinality(w)]));
    END IF;
END $$;

-- New ledger rows: positions whose stored state ends before their first new row continue
-- from it with just the new rows; the rest (a row arriving late) are recomputed. One pass over
-- the new rows sorted by position and then chain order: each row looks up its stored position
-- (by primary key), and the fold takes the rows in that order. Sorting once and folding the
-- sorted rows, instead of an ORDER BY inside the aggregate (a sort of its own for every
-- position) after a join of the distinct positions back onto the rows, took re-deriving
-- 1,000,000 fills in psql (flow.derive_range, one connection; the old and new SQL applied by
-- turns) from 12.60-12.90 s to 11.22-11.33 s.
-- An aggregate fed from a sorted subquery sees its rows in that order by the planner's habit,
-- not by a rule: flow.position_step checks every row against the one before, so a plan that
-- broke the order would fail the derive instead of folding wrongly.
CREATE OR REPLACE FUNCTION flow.tg_ledger__fold() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w bytea[]; t numeric[]; st flow.position_state[]; stored boolean[];
    lw bytea[]; lt numeric[];
BEGIN
    WITH g AS (
        SELECT n.wallet, n.token_id,
               bool_or(p.wallet IS NOT NULL) AS stored,
               -- a new row at or before the stored position's last one: recompute it whole
               coalesce(bool_or((n.block_number, n.log_index, n.sub) <= (p.last_block, p.last_log_index, p.last_sub)),
                        false) AS late,
               flow.position_fold(CASE WHEN p.wallet IS NOT NULL THEN
                                      ROW(p.amount, p.avg_price, p.realized_pnl, p.total_bought, p.total_cost,
                                          p.first_block, p.first_time, p.last_block, p.last_log_index, p.last_sub,
                                          p.last_time, p.first_buy_block, p.first_buy_time)::flow.position_state
                                  END,
                                  n.qty, n.cash, n.payout, n.block_number, n.log_index, n.sub, n.block_time) AS st
        FROM (SELECT wallet, token_id, qty, cash, payout, block_number, log_index, sub, block_time
              FROM new_rows
              ORDER BY wallet, token_id, block_number, log_index, sub) n
        -- LATERAL … LIMIT 1 keeps these lookups on the primary key whatever the planner thinks of
        -- the table's size (it grows fast during a backfill, faster than its statistics; without
        -- the LIMIT the subquery is pulled up into a join, and a join with stale statistics scans
        -- the whole table for every small batch). A nested loop keeps the rows' order.
        LEFT JOIN LATERAL (SELECT * FROM flow.positions p
                           WHERE p.wallet = n.wallet AND p.token_id = n.token_id LIMIT 1) p ON true
        GROUP BY n.wallet, n.token_id
    )
    SELECT array_agg(g.wallet) FILTER (WHERE NOT g.late), array_agg(g.token_id) FILTER (WHERE NOT g.late),
           array_agg(g.st) FILTER (WHERE NOT g.late), array_agg(g.stored) FILTER (WHERE NOT g.late),
           array_agg(g.wallet) FILTER (WHERE g.late), array_agg(g.token_id) FILTER (WHERE g.late)
    INTO w, t, st, stored, lw, lt
    FROM g;
    IF w IS NOT NULL THEN
        PERFORM flow.store_positions(w, t, st, stored);
    END IF;
    IF lw IS NOT NULL THEN
        PERFORM flow.refold(lw, lt);
    END IF;
    RETURN NULL;
END $$;

-- Deleted ledger rows (a reorg unwind): recompute the touched positions from what remains.
CREATE OR REPLACE FUNCTION flow.tg_ledger__unfold() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w bytea[]; t numeric[];
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('flow.derive', 0));   -- as flow.derive_range
    SELECT array_agg(wallet), array_agg(token_id) INTO w, t
    FROM (SELECT DISTINCT wallet, token_id FROM old_rows) d;
    IF w IS NOT NULL THEN
        PERFORM flow.refold(w, t);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS _500_fold ON flow.ledger;
CREATE TRIGGER _500_fold AFTER INSERT ON flow.ledger
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_ledger__fold();
DROP TRIGGER IF EXISTS _500_unfold ON flow.ledger;
CREATE TRIGGER _500_unfold AFTER DELETE ON flow.ledger
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_ledger__unfold();

-- flow.payout_of(condition, outcome index): the resolved value of one share as a one-row table
-- (no row before resolution: then the value is NULL). The rule itself; written in a FROM list,
-- LEFT JOIN LATERAL flow.payout_of(c, i) pay ON true, it is planned into the query that uses it
-- (a SQL function returning a table is inlined there) and looked up by the condition's index:
-- in psql, claiming 24 signals with their payouts took 0.15-0.22 ms that way, against
-- 0.38-0.96 ms through flow.payout, whose body runs as a query of its own for each row.
CREATE OR REPLACE FUNCTION flow.payout_of(p_condition bytea, p_index integer)
RETURNS TABLE (payout numeric)
LANGUAGE sql STABLE AS $$
    SELECT r.payout_numerators[p_index + 1]::numeric / nullif((SELECT sum(x) FROM unnest(r.payout_numerators) x), 0)
    FROM chain.condition_resolution r
    WHERE r.condition_id = p_condition
    ORDER BY r.block_number, r.log_index
    LIMIT 1
$$;

-- flow.payout(condition, outcome index): the resolved value of one share, NULL before
-- resolution (flow.payout_of as a value, for expressions).
CREATE OR REPLACE FUNCTION flow.payout(p_condition bytea, p_index integer) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT o.payout FROM flow.payout_of(p_condition, p_index) o
$$;

-- flow.ledger_rows(source, lo, hi): the ledger rows of the events of one chain table in
-- blocks [lo, hi]. One place for the rules, used by both paths: the event tables' triggers
-- (immediate) and flow.derive (deferred).
DROP FUNCTION IF EXISTS flow.tg_order_filled__ledger() CASCADE;
DROP FUNCTION IF EXISTS flow.tg_split_merge__ledger() CASCADE;
DROP FUNCTION IF EXISTS flow.tg_payout_redemption__ledger() CASCADE;
DROP FUNCTION IF EXISTS flow.tg_negrisk_payout_redemption__ledger() CASCADE;
DROP FUNCTION IF EXISTS flow.tg_negrisk_positions_converted__ledger() CASCADE;
CREATE OR REPLACE FUNCTION flow.ledger_rows(p_source regclass, p_lo bigint, p_hi bigint)
RETURNS SETOF flow.ledger
LANGUAGE plpgsql STABLE AS $$
BEGIN
    CASE p_source
    -- Fills: every OrderFilled moves its maker's (the order owner's) holding.
    WHEN 'chain.order_filled'::regclass THEN
        RETURN QUERY
        SELECT block_number, log_index, 0::smallint, maker, token_id,
               CASE side WHEN 0 THEN 'buy' ELSE 'sell' END,
               CASE WHEN side = 0 THEN taker_amount - CASE WHEN version = 1 THEN fee ELSE 0 END
                    ELSE -maker_amount END,
               CASE WHEN side = 0 THEN -(maker_amount + CASE WHEN version = 2 THEN fee ELSE 0 END)
                    ELSE taker_amount - fee END,
               NULL::numeric, block_time,
               CASE WHEN side = 0 THEN maker_amount ELSE taker_amount END
        FROM chain.order_filled
        WHERE block_number BETWEEN p_lo AND p_hi;
    -- Splits and merges of full sets: each leg at 0.5 (CTF events of internal contracts excluded).
    -- Static SQL (a plan kept for the session): only the named table's part runs.
    WHEN 'chain.position_split'::regclass, 'chain.negrisk_position_split'::regclass,
         'chain.positions_merge'::regclass, 'chain.negrisk_positions_merge'::regclass THEN
        RETURN QUERY
        SELECT e.block_number, e.log_index, t.outcome_index::smallint, e.stakeholder, t.token_id, e.kind,
               e.sign * e.amount, -e.sign * (e.amount / 2), NULL::numeric, e.block_time, NULL::bigint
        FROM (SELECT 'split' AS kind, 1 AS sign, x.block_number, x.log_index, x.stakeholder, x.condition_id,
                     x.amount, x.block_time
              FROM chain.position_split x
              WHERE p_source = 'chain.position_split'::regclass AND x.block_number BETWEEN p_lo AND p_hi
              UNION ALL
              SELECT 'split', 1, x.block_number, x.log_index, x.stakeholder, x.condition_id, x.amount, x.block_time
              FROM chain.negrisk_position_split x
              WHERE p_source = 'chain.negrisk_position_split'::regclass AND x.block_number BETWEEN p_lo AND p_hi
              UNION ALL
              SELECT 'merge', -1, x.block_number, x.log_index, x.stakeholder, x.condition_id, x.amount, x.block_time
              FROM chain.positions_merge x
              WHERE p_source = 'chain.positions_merge'::regclass AND x.block_number BETWEEN p_lo AND p_hi
              UNION ALL
              SELECT 'merge', -1, x.block_number, x.log_index, x.stakeholder, x.condition_id, x.amount, x.block_time
              FROM chain.negrisk_positions_merge x
              WHERE p_source = 'chain.negrisk_positions_merge'::regclass AND x.block_number BETWEEN p_lo AND p_hi) e
        JOIN market.tokens t ON t.condition_id = e.condition_id
        WHERE NOT EXISTS (SELECT 1 FROM flow.internal_addresses i WHERE i.address = e.stakeholder);
    -- CTF redemptions: everything held of the redeemed index sets, at the resolved payout.
    WHEN 'chain.payout_redemption'::regclass THEN
        RETURN QUERY
        SELECT e.block_number, e.log_index, t.outcome_index::smallint, e.redeemer, t.token_id, 'redeem',
               NULL::bigint, NULL::bigint, flow.payout(e.condition_id, t.outcome_index), e.block_time, NULL::bigint
        FROM chain.payout_redemption e
        JOIN market.tokens t ON t.condition_id = e.condition_id
        WHERE e.block_number BETWEEN p_lo AND p_hi
          AND (2 ^ t.outcome_index)::numeric = ANY (e.index_sets)
          AND NOT EXISTS (SELECT 1 FROM flow.internal_addresses i WHERE i.address = e.redeemer);
    -- NegRiskAdapter redemptions name the amount of each outcome redeemed.
    WHEN 'chain.negrisk_payout_redemption'::regclass THEN
        RETURN QUERY
        SELECT e.block_number, e.log_index, t.outcome_index::smallint, e.redeemer, t.token_id, 'redeem',
               -a.amount::bigint, round(a.amount * coalesce(p.payout, 0))::bigint, p.payout, e.block_time, NULL::bigint
        FROM chain.negrisk_payout_redemption e
        JOIN market.tokens t ON t.condition_id = e.condition_id
        CROSS JOIN LATERAL (SELECT e.amounts[t.outcome_index + 1] AS amount) a
        CROSS JOIN LATERAL (SELECT flow.payout(e.condition_id, t.outcome_index) AS payout) p
        WHERE e.block_number BETWEEN p_lo AND p_hi
          AND a.amount > 0;
    -- NegRisk conversions (as Polymarket's PnL subgraph): the NO shares of the questions in the
    -- index set are given up at their average cost; the YES shares of every other question of
    -- the market are acquired at (sum of those NO average costs - (converted - 1)) / (questions
    -- - converted), which may be negative (the conversion also pays out collateral). The NO
    -- average costs are the stored positions' when the event is derived (flow.derive_range
    -- derives conversions after everything else up to the last one of their window).
    WHEN 'chain.negrisk_positions_converted'::regclass THEN
        RETURN QUERY
        WITH q AS (
            SELECT e.block_number, e.log_index, e.stakeholder, e.amount, e.block_time,
                   qp.question_index::integer AS qi,
                   mod(div(e.index_set, power(2::numeric, qp.question_index)), 2) = 1 AS converted,
                   yes.token_id AS yes_token, no.token_id AS no_token
            FROM chain.negrisk_positions_converted e
            JOIN chain.negrisk_question_prepared qp ON qp.market_id = e.market_id
            JOIN chain.condition_preparation cp ON cp.question_id = qp.question_id
            JOIN market.tokens yes ON yes.condition_id = cp.condition_id AND yes.outcome_index = 0
            JOIN market.tokens no  ON no.condition_id = cp.condition_id AND no.outcome_index = 1
            WHERE e.block_number BETWEEN p_lo AND p_hi
              AND NOT EXISTS (SELECT 1 FROM flow.internal_addresses i WHERE i.address = e.stakeholder)
        ),
        price AS (
            SELECT q.block_number, q.log_index,
                   (sum(coalesce(p.avg_price, 0)) FILTER (WHERE q.converted) - (count(*) FILTER (WHERE q.converted) - 1))
                     / nullif(count(*) FILTER (WHERE NOT q.converted), 0) AS yes_price
            FROM q
            LEFT JOIN LATERAL (SELECT avg_price FROM flow.positions p
                               WHERE p.wallet = q.stakeholder AND p.token_id = q.no_token LIMIT 1) p ON true
            GROUP BY q.block_number, q.log_index
        )
        SELECT q.block_number, q.log_index, q.qi::smallint, q.stakeholder, q.no_token, 'convert', -q.amount,
               NULL::bigint, NULL::numeric, q.block_time, NULL::bigint
        FROM q WHERE q.converted
        UNION ALL
        SELECT q.block_number, q.log_index, (128 + q.qi)::smallint, q.stakeholder, q.yes_token, 'convert', q.amount,
               -round(q.amount * p.yes_price)::bigint, NULL::numeric, q.block_time, NULL::bigint
        FROM q JOIN price p USING (block_number, log_index)
        WHERE NOT q.converted;
    ELSE
        RAISE EXCEPTION 'flow.ledger_rows: % has no ledger rules', p_source;
    END CASE;
END $$;

-- flow.wallet_part(wallet, parts): which of `parts` parts a wallet's positions are derived in
-- (flow.derive_part): its address's last byte, modulo parts.
CREATE OR REPLACE FUNCTION flow.wallet_part(p_wallet bytea, p_parts integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(p_wallet) = 0 THEN 0 ELSE get_byte(p_wallet, length(p_wallet) - 1) % p_parts END
$$;

-- flow.part_ledger_rows(sources, lo, hi, part, parts): the ledger rows of these tables' events
-- in blocks [lo, hi], of the wallets of one part (flow.wallet_part; every wallet when parts is
-- 1). A SQL function, planned into the insert that reads it.
CREATE OR REPLACE FUNCTION flow.part_ledger_rows(p_sources regclass[], p_lo bigint, p_hi bigint,
                                                 p_part integer, p_parts integer)
RETURNS SETOF flow.ledger
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM unnest(p_sources) s(source)
    CROSS JOIN LATERAL flow.ledger_rows(s.source, p_lo, p_hi) l
    WHERE p_parts = 1 OR flow.wallet_part(l.wallet, p_parts) = p_part
$$;

-- flow.add_ledger_rows(sources, lo, hi, part, parts): inserts flow.part_ledger_rows and returns
-- how many it added; the inserts fire the fold and the wallet totals. Rows already there are
-- kept: where the range holds ledger rows of the part (a range derived again after a stop, a
-- late log inside derived blocks), the insert skips them with ON CONFLICT DO NOTHING. A range
-- without any, which is nearly every range, takes a plain INSERT: the speculative insertion of
-- ON CONFLICT cost 4.4 s more for 1,000,000 fills (10.97 against 6.61 s in psql, triggers off).
-- Callers hold the derive lock of the part, so no other writer adds the part's rows meanwhile.
CREATE OR REPLACE FUNCTION flow.add_ledger_rows(p_sources regclass[], p_lo bigint, p_hi bigint,
                                                p_part integer, p_parts integer)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM flow.ledger l
               WHERE l.block_number BETWEEN p_lo AND p_hi
                 AND (p_parts = 1 OR flow.wallet_part(l.wallet, p_parts) = p_part)) THEN
        INSERT INTO flow.ledger SELECT * FROM flow.part_ledger_rows(p_sources, p_lo, p_hi, p_part, p_parts)
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO flow.ledger SELECT * FROM flow.part_ledger_rows(p_sources, p_lo, p_hi, p_part, p_parts);
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- flow.derive_range(sources, lo, hi): adds the ledger rows of these tables' events in blocks
-- [lo, hi] (rows already there are kept) and folds them into flow.positions. A conversion is
-- priced from the average costs of the NO shares it gives up, so the range is cut at
-- conversions: the blocks are taken in windows of derive_conversion_blocks (300); in a window
-- with conversions, everything else up to its last conversion block is folded first (one
-- statement, so the fold sees it in chain order), then the window's conversions. A conversion
-- may so see trades up to a window later than itself, never miss one before it. Returns the
-- ledger rows added. With p_parts > 1, only the rows of the wallets in part p_part of p_parts
-- (flow.wallet_part) are added: the parts of one range may be derived at the same time on
-- different connections (flow.derive_part), since no position, conversion price or wallet
-- total of one part reads or writes another's.
DROP FUNCTION IF EXISTS flow.derive_range(regclass[], bigint, bigint);
CREATE OR REPLACE FUNCTION flow.derive_range(p_sources regclass[], p_lo bigint, p_hi bigint,
                                             p_part integer DEFAULT 0, p_parts integer DEFAULT 1)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    conv   regclass := 'chain.negrisk_positions_converted'::regclass;
    others regclass[] := array_remove(p_sources, 'chain.negrisk_positions_converted'::regclass);
    cut    bigint;
    next   bigint := p_lo;
    total  bigint := 0;
BEGIN
    -- One fold of a wallet at a time: a fold reads stored positions and writes them back, so a
    -- second one running beside it would build on positions without the first one's rows. A
    -- whole derive locks every wallet; a part, its own wallets (and shares the whole lock with
    -- the other parts).
    IF p_parts < 1 OR p_part < 0 OR p_part >= p_parts THEN
        RAISE EXCEPTION 'flow.derive_range: part % of % does not exist', p_part, p_parts;
    END IF;
    IF p_parts = 1 THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('flow.derive', 0));
    ELSE
        PERFORM pg_advisory_xact_lock_shared(hashtextextended('flow.derive', 0));
        PERFORM pg_advisory_xact_lock(hashtextextended(format('flow.derive part %s of %s', p_part, p_parts), 0));
    END IF;
    FOR cut IN
        SELECT max(block_number) FROM chain.negrisk_positions_converted
        WHERE conv = ANY (p_sources) AND block_number BETWEEN p_lo AND p_hi
        GROUP BY block_number / greatest(strategy.param('derive_conversion_blocks')::bigint, 1)
        UNION ALL SELECT p_hi + 1      -- the rest of the range, after the last conversion
        ORDER BY 1
    LOOP
        IF cardinality(others) > 0 AND next <= least(cut, p_hi) THEN
            total := total + flow.add_ledger_rows(others, next, least(cut, p_hi), p_part, p_parts);
        END IF;
        IF cut <= p_hi AND conv = ANY (p_sources) THEN
            total := total + flow.add_ledger_rows(ARRAY[conv], next, cut, p_part, p_parts);
        END IF;
        next := cut + 1;
    END LOOP;
    RETURN total;
END $$;

-- New chain events: derived at once, or, in a session that set orderflow.derive = 'deferred'
-- (a bulk writer), queued in flow.derive_queue for flow.derive.
CREATE OR REPLACE FUNCTION flow.tg_event__ledger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    lo bigint; hi bigint; n bigint;
BEGIN
    SELECT min(block_number), max(block_number), count(*) INTO lo, hi, n FROM new_rows;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    IF current_setting('orderflow.derive', true) = 'deferred' THEN
        INSERT INTO flow.derive_queue (source, from_block, to_block, rows) VALUES (TG_RELID, lo, hi, n);
    ELSE
        PERFORM flow.derive_range(ARRAY[TG_RELID::regclass], lo, hi);
    END IF;
    RETURN NULL;
END $$;

-- flow.queue_islands(ids): these queued ranges as the block ranges to derive, in block order:
-- ranges of any tables less than derive_merge_blocks apart are taken together.
CREATE OR REPLACE FUNCTION flow.queue_islands(p_ids bigint[])
RETURNS TABLE (sources regclass[], lo bigint, hi bigint)
LANGUAGE sql STABLE AS $$
    WITH taken AS (
        SELECT q.source, q.from_block, q.to_block FROM flow.derive_queue q WHERE q.id = ANY (p_ids)
    ),
    ordered AS (
        SELECT t.*, max(t.to_block) OVER (ORDER BY t.from_block, t.to_block
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
        FROM taken t
    ),
    islands AS (
        SELECT o.*, count(*) FILTER (WHERE o.reach IS NULL
                                       OR o.from_block >= o.reach + strategy.param('derive_merge_blocks'))
                        OVER (ORDER BY o.from_block, o.to_block) AS island
        FROM ordered o
    )
    SELECT array_agg(DISTINCT source), min(from_block), max(to_block)
    FROM islands GROUP BY island ORDER BY 2
$$;

-- flow.derive_part(part, parts, ids): derives the queued ranges `ids` for the wallets of one
-- part (flow.wallet_part) and leaves them queued. A bulk writer with two idle connections runs
-- the parts of what it queued side by side, one per connection, and then deletes the ranges
-- (the writer's end-of-import derive). Should it stop between, the next flow.derive derives
-- the ranges again: ledger rows already there are kept and folded only once, so nothing is
-- counted twice. Returns the ledger rows added.
CREATE OR REPLACE FUNCTION flow.derive_part(p_part integer, p_parts integer, p_ids bigint[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    r     record;
    total bigint := 0;
BEGIN
    FOR r IN SELECT * FROM flow.queue_islands(p_ids) LOOP
        total := total + flow.derive_range(r.sources, r.lo, r.hi, p_part, p_parts);
    END LOOP;
    RETURN total;
END $$;

-- flow.derive(): derives everything queued by deferring writers, range by range in block
-- order (ranges of any tables less than derive_merge_blocks apart are taken together), and
-- empties the queue. One caller at a time: a second one waits for the first to commit and then
-- takes what is queued after it, so ranges are always folded in chain order (a caller that
-- skipped ranges another one holds could fold later blocks first). Returns the ledger rows
-- added. Call it before reading positions a deferring writer may not have derived yet
-- (flow.take_score_snapshot does). With p_max_rows, only the oldest queued ranges up to about
-- that many rows are taken (at least one): a bulk writer deriving alongside its writes keeps
-- each derive short, and what is still queued when it stops writing is derived on both its
-- connections (flow.derive_part).
DROP FUNCTION IF EXISTS flow.derive();
CREATE OR REPLACE FUNCTION flow.derive(p_max_rows bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    ids   bigint[];
    hi    bigint;
    reach bigint;
    total bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('flow.derive', 0));   -- as flow.derive_range
    -- Only what is committed now: a range queued meanwhile waits for the next call.
    IF p_max_rows IS NULL THEN
        SELECT array_agg(id) INTO ids FROM flow.derive_queue;
    ELSE
        -- The oldest ranges up to about p_max_rows rows, widened to a prefix of the chain: every
        -- range that begins at or below the highest block taken is taken too (the other tables'
        -- ranges of the same batch), until none is left that reaches above it.
        SELECT max(q.to_block) INTO hi
        FROM (SELECT to_block, sum(rows) OVER (ORDER BY id) - rows AS before FROM flow.derive_queue) q
        WHERE q.before < p_max_rows;
        LOOP
            SELECT max(to_block) INTO reach FROM flow.derive_queue WHERE from_block <= hi;
            EXIT WHEN reach IS NULL OR reach <= hi;
            hi := reach;
        END LOOP;
        SELECT array_agg(id) INTO ids FROM flow.derive_queue WHERE from_block <= hi;
    END IF;
    total := flow.derive_part(0, 1, ids);   -- one part: every wallet
    DELETE FROM flow.derive_queue WHERE id = ANY (ids);
    RETURN total;
END $$;
COMMENT ON FUNCTION flow.derive(bigint) IS
    'Folds the chain events that deferring writers (indexer import, backfill) queued in flow.derive_queue into flow.ledger and flow.positions (all of them, or the oldest up to about p_max_rows rows). Returns the ledger rows added.';

-- Deleted chain events (reorg unwinds) take their ledger rows with them.
CREATE OR REPLACE FUNCTION flow.tg_event__unledger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM flow.ledger l USING (SELECT DISTINCT block_number, log_index FROM old_rows) o
    WHERE l.block_number = o.block_number AND l.log_index = o.log_index;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['chain.order_filled', 'chain.position_split', 'chain.positions_merge',
                             'chain.negrisk_position_split', 'chain.negrisk_positions_merge',
                             'chain.payout_redemption', 'chain.negrisk_payout_redemption',
                             'chain.negrisk_positions_converted']::regclass[]
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS _300_ledger ON %s', t);
        EXECUTE format('CREATE TRIGGER _300_ledger AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_event__ledger()', t);
        EXECUTE format('DROP TRIGGER IF EXISTS _300_unledger ON %s', t);
        EXECUTE format('CREATE TRIGGER _300_unledger AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_event__unledger()', t);
    END LOOP;
END $$;
