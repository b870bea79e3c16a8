-- Positions and PnL: the ledger is filled from chain events by statement-level triggers, and
-- every batch of new ledger rows is folded into flow.positions in chain order.
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

-- flow.fold_positions(keys): folds ledger rows into flow.positions for the (wallet, token)
-- pairs in p_wallets/p_tokens. Pairs whose stored state already covers a row at or after
-- their first new row (p_from) are recomputed from the whole ledger; the rest continue from
-- their stored state. Pass p_from = NULL to recompute.
CREATE OR REPLACE FUNCTION flow.fold_positions(p_wallets bytea[], p_tokens numeric[], p_from bigint[][])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r          record;
    cur_w      bytea;
    cur_t      numeric;
    amount     numeric;
    avg_price  numeric;
    realized   numeric;
    bought     numeric;
    cost       numeric;
    first_b    bigint;
    first_t    timestamptz;
    last_b     bigint;
    last_l     integer;
    last_s     smallint;
    last_t     timestamptz;
    q          numeric;
    n          integer := 0;
BEGIN
    FOR r IN
        WITH k AS (
            SELECT u.wallet, u.token_id, u.from_block, u.from_log, u.from_sub
            FROM unnest(p_wallets, p_tokens, p_from[:][1:1], p_from[:][2:2], p_from[:][3:3])
                 AS u(wallet, token_id, from_block, from_log, from_sub)
        ),
        s AS (   -- where each pair starts: its stored state, unless the new rows come before it
            SELECT k.*, p.amount, p.avg_price, p.realized_pnl, p.total_bought, p.total_cost,
                   p.first_block, p.first_time, p.last_block, p.last_log_index, p.last_sub,
                   p.wallet IS NOT NULL AND k.from_block IS NOT NULL
                   AND (p.last_block, p.last_log_index, p.last_sub) < (k.from_block, k.from_log, k.from_sub)
                   AS incremental
            FROM k LEFT JOIN flow.positions p USING (wallet, token_id)
        )
        SELECT s.wallet AS k_wallet, s.token_id AS k_token, s.incremental,
               s.amount AS s_amount, s.avg_price AS s_avg, s.realized_pnl AS s_realized,
               s.total_bought AS s_bought, s.total_cost AS s_cost, s.first_block AS s_first_block,
               s.first_time AS s_first_time,
               l.block_number, l.log_index, l.sub, l.kind, l.qty, l.cash, l.payout, l.block_time
        FROM s
        JOIN flow.ledger l ON l.wallet = s.wallet AND l.token_id = s.token_id
             AND (NOT s.incremental
                  OR (l.block_number, l.log_index, l.sub) > (s.last_block, s.last_log_index, s.last_sub))
        ORDER BY s.wallet, s.token_id, l.block_number, l.log_index, l.sub
    LOOP
        IF cur_w IS DISTINCT FROM r.k_wallet OR cur_t IS DISTINCT FROM r.k_token THEN
            IF cur_w IS NOT NULL THEN
                PERFORM flow.store_position(cur_w, cur_t, amount, avg_price, realized, bought, cost,
                                            first_b, first_t, last_b, last_l, last_s, last_t);
                n := n + 1;
            END IF;
            cur_w := r.k_wallet;
            cur_t := r.k_token;
            IF r.incremental THEN
                amount := r.s_amount; avg_price := r.s_avg; realized := r.s_realized;
                bought := r.s_bought; cost := r.s_cost; first_b := r.s_first_block; first_t := r.s_first_time;
            ELSE
                amount := 0; avg_price := 0; realized := 0; bought := 0; cost := 0;
                first_b := r.block_number; first_t := r.block_time;
            END IF;
        END IF;
        IF r.qty IS NULL THEN                       -- redeem everything held at the payout
            realized := realized + amount * (coalesce(r.payout, 0) - avg_price);
            amount := 0;
        ELSIF r.qty > 0 THEN                        -- acquire
            avg_price := (avg_price * amount - r.cash) / (amount + r.qty);
            amount := amount + r.qty;
            bought := bought + r.qty;
            cost := cost - r.cash;
        ELSIF r.qty < 0 THEN                        -- dispose (never more than held)
            q := least(-r.qty, amount);
            realized := realized + q * (r.cash::numeric / -r.qty - avg_price);
            amount := amount - q;
        END IF;
        IF amount = 0 THEN
            avg_price := 0;
        END IF;
        last_b := r.block_number; last_l := r.log_index; last_s := r.sub; last_t := r.block_time;
    END LOOP;
    IF cur_w IS NOT NULL THEN
        PERFORM flow.store_position(cur_w, cur_t, amount, avg_price, realized, bought, cost,
                                    first_b, first_t, last_b, last_l, last_s, last_t);
        n := n + 1;
    END IF;
    RETURN n;
END $$;

-- flow.store_position(...): upsert of one folded position.
CREATE OR REPLACE FUNCTION flow.store_position(
    p_wallet bytea, p_token numeric, p_amount numeric, p_avg numeric, p_realized numeric,
    p_bought numeric, p_cost numeric, p_first_block bigint, p_first_time timestamptz,
    p_last_block bigint, p_last_log integer, p_last_sub smallint, p_last_time timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO flow.positions AS p (wallet, token_id, amount, avg_price, realized_pnl, total_bought, total_cost,
                                     first_block, first_time, last_block, last_log_index, last_sub, last_time)
    VALUES (p_wallet, p_token, p_amount, p_avg, p_realized, p_bought, p_cost,
            p_first_block, p_first_time, p_last_block, p_last_log, p_last_sub, p_last_time)
    ON CONFLICT (wallet, token_id) DO UPDATE SET
        amount = excluded.amount, avg_price = excluded.avg_price, realized_pnl = excluded.realized_pnl,
        total_bought = excluded.total_bought, total_cost = excluded.total_cost,
        first_block = excluded.first_block, first_time = excluded.first_time,
        last_block = excluded.last_block, last_log_index = excluded.last_log_index,
        last_sub = excluded.last_sub, last_time = excluded.last_time
$$;

-- New ledger rows: fold them (incrementally where they come after the stored state).
CREATE OR REPLACE FUNCTION flow.tg_ledger__fold() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w bytea[];
    t numeric[];
    f bigint[][];
BEGIN
    SELECT array_agg(wallet), array_agg(token_id),
           array_agg(ARRAY[block_number, log_index, sub])
    INTO w, t, f
    FROM (SELECT DISTINCT ON (wallet, token_id) wallet, token_id, block_number, log_index::bigint, sub::bigint
          FROM new_rows ORDER BY wallet, token_id, block_number, log_index, sub) m;
    IF w IS NOT NULL THEN
        PERFORM flow.fold_positions(w, t, f);
    END IF;
    RETURN NULL;
END $$;

-- Deleted ledger rows (a reorg unwind): recompute the touched positions from what remains.
CREATE OR REPLACE FUNCTION flow.tg_ledger__unfold() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w bytea[];
    t numeric[];
    f bigint[][];
BEGIN
    SELECT array_agg(wallet), array_agg(token_id), array_agg(ARRAY[NULL::bigint, NULL, NULL])
    INTO w, t, f
    FROM (SELECT DISTINCT wallet, token_id FROM old_rows) d;
    IF w IS NOT NULL THEN
        DELETE FROM flow.positions p USING unnest(w, t) AS u(wallet, token_id)
        WHERE p.wallet = u.wallet AND p.token_id = u.token_id;
        PERFORM flow.fold_positions(w, t, f);
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
        ARRAY['chain.negrisk_payout_redemption', 'flow.tg_negrisk_payout_redemption__ledger()']]
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS _300_ledger ON %s', spec[1]);
        EXECUTE format('CREATE TRIGGER _300_ledger AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION %s', spec[1], spec[2]);
        EXECUTE format('DROP TRIGGER IF EXISTS _300_unledger ON %s', spec[1]);
        EXECUTE format('CREATE TRIGGER _300_unledger AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_event__unledger()', spec[1]);
    END LOOP;
END $$;
