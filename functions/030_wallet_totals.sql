-- Keeps flow.wallet_totals (behind the `wallets` view) in step with the fills in flow.ledger
-- (its rows with a volume): set-based per inserted statement, and recomputed from the ledger for
-- the touched wallets on delete (reorgs). The ledger is derived from chain.order_filled at once,
-- or by flow.derive after a deferring writer (functions/050_positions.sql), and wallet totals
-- follow it, so they never count a fill twice or miss one.
DROP TRIGGER IF EXISTS _200_wallet_totals_insert ON chain.order_filled;
DROP TRIGGER IF EXISTS _200_wallet_totals_delete ON chain.order_filled;
DROP FUNCTION IF EXISTS flow.tg_order_filled__wallet_totals_insert();
DROP FUNCTION IF EXISTS flow.tg_order_filled__wallet_totals_delete();

CREATE OR REPLACE FUNCTION flow.tg_ledger__wallet_totals_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO flow.wallet_totals AS w
        (wallet, first_seen_block, first_seen, last_active_block, last_active, total_trades, total_volume)
    SELECT wallet, min(block_number), min(block_time), max(block_number), max(block_time), count(*), sum(volume)
    FROM new_rows
    WHERE volume IS NOT NULL
    GROUP BY wallet
    ON CONFLICT (wallet) DO UPDATE SET
        first_seen_block  = least(w.first_seen_block, excluded.first_seen_block),
        first_seen        = least(w.first_seen, excluded.first_seen),
        last_active_block = greatest(w.last_active_block, excluded.last_active_block),
        last_active       = greatest(w.last_active, excluded.last_active),
        total_trades      = w.total_trades + excluded.total_trades,
        total_volume      = w.total_volume + excluded.total_volume;
    RETURN NULL;
END $$;

-- On delete (a reorg unwind), recompute the touched wallets from what remains.
CREATE OR REPLACE FUNCTION flow.tg_ledger__wallet_totals_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM flow.wallet_totals w
    USING (SELECT DISTINCT wallet FROM old_rows WHERE volume IS NOT NULL) o
    WHERE w.wallet = o.wallet;
    INSERT INTO flow.wallet_totals
        (wallet, first_seen_block, first_seen, last_active_block, last_active, total_trades, total_volume)
    SELECT l.wallet, min(l.block_number), min(l.block_time), max(l.block_number), max(l.block_time), count(*),
           sum(l.volume)
    FROM (SELECT DISTINCT wallet FROM old_rows WHERE volume IS NOT NULL) o
    JOIN flow.ledger l ON l.wallet = o.wallet
    WHERE l.volume IS NOT NULL
    GROUP BY l.wallet;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS _400_wallet_totals_insert ON flow.ledger;
CREATE TRIGGER _400_wallet_totals_insert AFTER INSERT ON flow.ledger
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_ledger__wallet_totals_insert();

DROP TRIGGER IF EXISTS _400_wallet_totals_delete ON flow.ledger;
CREATE TRIGGER _400_wallet_totals_delete AFTER DELETE ON flow.ledger
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_ledger__wallet_totals_delete();
