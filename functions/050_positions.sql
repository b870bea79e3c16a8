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
-- first row of a group starts from `start` (the stored position) or from nothing.
CREATE OR REPLACE FUNCTION flow.position_step(
    s flow.position_state, start flow.position_state,
    p_qty bigint, p_cash bigint, p_payout numeric,
    p_block bigint, p_log integer, p_sub smallint, p_time timestamptz)
RETURNS flow.position_state
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    q numeric;
BEGIN
    IF s IS NULL THEN
        s := coalesce(start, ROW(0, 0, 0, 0, 0, p_block, p_time, NULL, NULL, NULL, NULL, NULL, NULL)::flow.position_state);
    END IF;
    IF p_qty IS NULL THEN                        -- redeem everything held at the payout
        s.realized := s.realized + s.amount * (coalesce(p_payout, 0) - s.avg_price);
        s.amount := 0;
    ELSIF p_qty > 0 THEN                         -- acquire
        s.avg_price := (s.avg_price * s.amount - p_cash) / (s.amount + p_qty);
        s.amount := s.amount + p_qty;
        s.bought := s.bought + p_qty;
        s.cost := s.cost - p_cash;
        IF s.first_buy_block IS NULL THEN
            s.first_buy_block := p_block; s.first_buy_time := p_time;
        END IF;
    ELSIF p_qty < 0 THEN                         -- dispose (never more than held)
        q := least(-p_qty, s.amount);
        IF p_cash IS NOT NULL THEN               -- NULL: given up at average cost (conversions)
            s.realized := s.realized + q * (p_cash::numeric / -p_qty - s.avg_price);
        END IF;
        s.amount := s.amount - q;
    END IF;
    IF s.amount = 0 THEN
        s.avg_price := 0;
    END IF;
    s.last_block := p_block; s.last_log := p_log; s.last_sub := p_sub; s.last_time := p_time;
    RETURN s;
END $$;

-- flow.position_fold(start, ledger row… ORDER BY block_number, log_index, sub): a position
-- after its ledger rows, set-based over any number of positions with GROUP BY.
CREATE AGGREGATE flow.position_fold(flow.position_state, bigint, bigint, numeric, bigint, integer, smallint, timestamptz) (
    SFUNC = flow.position_step,
    STYPE = flow.position_state
);

-- flow.store_positions(…): upserts folded states.
CREATE OR REPLACE FUNCTION flow.store_positions(p_wallets bytea[], p_tokens numeric[], p_states flow.position_state[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO flow.positions AS p (wallet, token_id, amount, avg_price, realized_pnl, total_bought, total_cost,
                                     first_block, first_time, last_block, last_log_index, last_sub, last_time,
                                     first_buy_block, first_buy_time)
    SELECT u.wallet, u.token_id, u.amount, u.avg_price, u.realized, u.bought, u.cost,
           u.first_block, u.first_time, u.last_block, u.last_log, u.last_sub, u.last_time,
           u.first_buy_block, u.first_buy_time
    -- unnest spreads the composite states into their fields
    FROM unnest(p_wallets, p_tokens, p_states) AS u(wallet, token_id, amount, avg_price, realized, bought, cost,
                                                  first_block, first_time, last_block, last_log, last_sub, last_time,
                                                  first_buy_block, first_buy_time)
    ON CONFLICT (wallet, token_id) DO UPDATE SET
        amount = excluded.amount, avg_price = excluded.avg_price, realized_pnl = excluded.realized_pnl,
        total_bought = excluded.total_bought, total_cost = excluded.total_cost,
        first_block = excluded.first_block, first_time = excluded.first_time,
        last_block = excluded.last_block, last_log_index = excluded.last_log_index,
        last_sub = excluded.last_sub, last_time = excluded.last_time,
        first_buy_block = excluded.first_buy_block, first_buy_time = excluded.first_buy_time
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
        PERFORM flow.store_positions(w, t, st);
    END IF;
END $$;

-- New ledger rows: positions whose stored state ends before their first new row continue
-- from it with just the new rows; the rest (a row arriving late) are recomputed.
CREATE OR REPLACE FUNCTION flow.tg_ledger__fold() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w bytea[]; t numeric[]; st flow.position_state[];
    lw bytea[]; lt numeric[];
BEGIN
    WITH firsts AS (
        SELECT DISTINCT ON (wallet, token_id) wallet, token_id, block_number, log_index, sub
        FROM new_rows ORDER BY wallet, token_id, block_number, log_index, sub
    )
    -- LATERAL keeps these lookups on the primary key whatever the planner thinks of the table's
    -- size (it grows fast during a backfill, faster than its statistics).
    SELECT array_agg(f.wallet), array_agg(f.token_id) INTO lw, lt
    FROM firsts f
    CROSS JOIN LATERAL (SELECT 1 FROM flow.positions p
                        WHERE p.wallet = f.wallet AND p.token_id = f.token_id
                          AND (p.last_block, p.last_log_index, p.last_sub) >= (f.block_number, f.log_index, f.sub)) late;

    SELECT array_agg(g.wallet), array_agg(g.token_id), array_agg(g.st) INTO w, t, st
    FROM (SELECT n.wallet, n.token_id,
                 flow.position_fold(
                     CASE WHEN p.wallet IS NOT NULL THEN
                         ROW(p.amount, p.avg_price, p.realized_pnl, p.total_bought, p.total_cost, p.first_block,
                             p.first_time, p.last_block, p.last_log_index, p.last_sub, p.last_time,
                             p.first_buy_block, p.first_buy_time)::flow.position_state
                     END,
                     n.qty, n.cash, n.payout, n.block_number, n.log_index, n.sub, n.block_time
                     ORDER BY n.block_number, n.log_index, n.sub) AS st
          FROM new_rows n
          LEFT JOIN LATERAL (SELECT * FROM flow.positions p
                             WHERE p.wallet = n.wallet AND p.token_id = n.token_id) p ON true
          WHERE lw IS NULL OR (n.wallet, n.token_id) NOT IN (SELECT * FROM unnest(lw, lt))
          GROUP BY n.wallet, n.token_id) g;
    IF w IS NOT NULL THEN
        PERFORM flow.store_positions(w, t, st);
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

-- flow.payout(condition, outcome index): the resolved value of one share, NULL before resolution.
CREATE OR REPLACE FUNCTION flow.payout(p_condition bytea, p_index integer) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT r.payout_numerators[p_index + 1]::numeric / nullif((SELECT sum(x) FROM unnest(r.payout_numerators) x), 0)
    FROM chain.condition_resolution r
    WHERE r.condition_id = p_condition
    ORDER BY r.block_number, r.log_index
    LIMIT 1
$$;

-- Fills: every OrderFilled moves its maker's (the order owner's) holding.
CREATE OR REPLACE FUNCTION flow.tg_order_filled__ledger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO flow.ledger (block_number, log_index, sub, wallet, token_id, kind, qty, cash, block_time)
    SELECT block_number, log_index, 0, maker, token_id,
           CASE side WHEN 0 THEN 'buy' ELSE 'sell' END,
           CASE WHEN side = 0 THEN taker_amount - CASE WHEN version = 1 THEN fee ELSE 0 END
                ELSE -maker_amount END,
           CASE WHEN side = 0 THEN -(maker_amount + CASE WHEN version = 2 THEN fee ELSE 0 END)
                ELSE taker_amount - fee END,
           block_time
    FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- Splits and merges of full sets: each leg at 0.5 (CTF events of internal contracts excluded).
CREATE OR REPLACE FUNCTION flow.tg_split_merge__ledger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE WHEN TG_ARGV[0] = 'split' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO flow.ledger (block_number, log_index, sub, wallet, token_id, kind, qty, cash, block_time)
    SELECT e.block_number, e.log_index, t.outcome_index, e.stakeholder, t.token_id, TG_ARGV[0],
           sign * e.amount, -sign * (e.amount / 2), e.block_time
    FROM new_rows e
    JOIN market.tokens t ON t.condition_id = e.condition_id
    WHERE NOT EXISTS (SELECT 1 FROM flow.internal_addresses i WHERE i.address = e.stakeholder)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- CTF redemptions: everything held of the redeemed index sets, at the resolved payout.
CREATE OR REPLACE FUNCTION flow.tg_payout_redemption__ledger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO flow.ledger (block_number, log_index, sub, wallet, token_id, kind, qty, cash, payout, block_time)
    SELECT e.block_number, e.log_index, t.outcome_index, e.redeemer, t.token_id, 'redeem',
           NULL, NULL, flow.payout(e.condition_id, t.outcome_index), e.block_time
    FROM new_rows e
    JOIN market.tokens t ON t.condition_id = e.condition_id
    WHERE (2 ^ t.outcome_index)::numeric = ANY (e.index_sets)
      AND NOT EXISTS (SELECT 1 FROM flow.internal_addresses i WHERE i.address = e.redeemer)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- NegRiskAdapter redemptions name the amount of each outcome redeemed.
CREATE OR REPLACE FUNCTION flow.tg_negrisk_payout_redemption__ledger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO flow.ledger (block_number, log_index, sub, wallet, token_id, kind, qty, cash, payout, block_time)
    SELECT e.block_number, e.log_index, t.outcome_index, e.redeemer, t.token_id, 'redeem',
           -a.amount::bigint, round(a.amount * coalesce(p.payout, 0))::bigint, p.payout, e.block_time
    FROM new_rows e
    JOIN market.tokens t ON t.condition_id = e.condition_id
    CROSS JOIN LATERAL (SELECT e.amounts[t.outcome_index + 1] AS amount) a
    CROSS JOIN LATERAL (SELECT flow.payout(e.condition_id, t.outcome_index) AS payout) p
    WHERE a.amount > 0
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- NegRisk conversions (as Polymarket's PnL subgraph): the NO shares of the questions in the
-- index set are given up at their average cost; the YES shares of every other question of the
-- market are acquired at (sum of those NO average costs - (converted - 1)) / (questions -
-- converted), which may be negative (the conversion also pays out collateral). The NO average
-- costs are the stored positions' when the event is ingested.
CREATE OR REPLACE FUNCTION flow.tg_negrisk_positions_converted__ledger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO flow.ledger (block_number, log_index, sub, wallet, token_id, kind, qty, cash, block_time)
    WITH q AS (
        SELECT e.block_number, e.log_index, e.stakeholder, e.amount, e.block_time,
               qp.question_index::integer AS qi,
               mod(div(e.index_set, power(2::numeric, qp.question_index)), 2) = 1 AS converted,
               yes.token_id AS yes_token, no.token_id AS no_token
        FROM new_rows e
        JOIN chain.negrisk_question_prepared qp ON qp.market_id = e.market_id
        JOIN chain.condition_preparation cp ON cp.question_id = qp.question_id
        JOIN market.tokens yes ON yes.condition_id = cp.condition_id AND yes.outcome_index = 0
        JOIN market.tokens no  ON no.condition_id = cp.condition_id AND no.outcome_index = 1
        WHERE NOT EXISTS (SELECT 1 FROM flow.internal_addresses i WHERE i.address = e.stakeholder)
    ),
    price AS (
        SELECT q.block_number, q.log_index,
               (sum(coalesce(p.avg_price, 0)) FILTER (WHERE q.converted) - (count(*) FILTER (WHERE q.converted) - 1))
                 / nullif(count(*) FILTER (WHERE NOT q.converted), 0) AS yes_price
        FROM q
        LEFT JOIN LATERAL (SELECT avg_price FROM flow.positions p
                           WHERE p.wallet = q.stakeholder AND p.token_id = q.no_token) p ON true
        GROUP BY q.block_number, q.log_index
    )
    SELECT block_number, log_index, qi, stakeholder, no_token, 'convert', -amount, NULL, block_time
    FROM q WHERE converted
    UNION ALL
    SELECT q.block_number, q.log_index, 128 + q.qi, q.stakeholder, q.yes_token, 'convert', q.amount,
           -round(q.amount * p.yes_price)::bigint, q.block_time
    FROM q JOIN price p USING (block_number, log_index)
    WHERE NOT q.converted
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

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
    spec text[];
BEGIN
    FOREACH spec SLICE 1 IN ARRAY ARRAY[
        ARRAY['chain.order_filled',              'flow.tg_order_filled__ledger()'],
        ARRAY['chain.position_split',            'flow.tg_split_merge__ledger(''split'')'],
        ARRAY['chain.positions_merge',           'flow.tg_split_merge__ledger(''merge'')'],
        ARRAY['chain.negrisk_position_split',    'flow.tg_split_merge__ledger(''split'')'],
        ARRAY['chain.negrisk_positions_merge',   'flow.tg_split_merge__ledger(''merge'')'],
        ARRAY['chain.payout_redemption',         'flow.tg_payout_redemption__ledger()'],
        ARRAY['chain.negrisk_payout_redemption', 'flow.tg_negrisk_payout_redemption__ledger()'],
        ARRAY['chain.negrisk_positions_converted', 'flow.tg_negrisk_positions_converted__ledger()']]
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS _300_ledger ON %s', spec[1]);
        EXECUTE format('CREATE TRIGGER _300_ledger AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %s', spec[1], spec[2]);
        EXECUTE format('DROP TRIGGER IF EXISTS _300_unledger ON %s', spec[1]);
        EXECUTE format('CREATE TRIGGER _300_unledger AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_event__unledger()', spec[1]);
    END LOOP;
END $$;
