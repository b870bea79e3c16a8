-- Keeps flow.wallet_totals (behind the `wallets` view) in step with chain.order_filled:
-- set-based per inserted statement, and recomputed for the touched wallets on delete (reorgs).
CREATE OR REPLACE FUNCTION flow.tg_order_filled__wallet_totals_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO flow.wallet_totals AS w
        (wallet, first_seen_block, first_seen, last_active_block, last_active, total_trades, total_volume)
    SELECT maker, min(block_number), min(block_time), max(block_number), max(block_time), count(*),
           sum(CASE WHEN side = 0 THEN maker_amount ELSE taker_amount END)
    FROM new_rows
    GROUP BY maker
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
CREATE OR REPLACE FUNCTION flow.tg_order_filled__wallet_totals_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM flow.wallet_totals w USING (SELECT DISTINCT maker FROM old_rows) o WHERE w.wallet = o.maker;
    INSERT INTO flow.wallet_totals
        (wallet, first_seen_block, first_seen, last_active_block, last_active, total_trades, total_volume)
    SELECT f.maker, min(f.block_number), min(f.block_time), max(f.block_number), max(f.block_time), count(*),
           sum(CASE WHEN f.side = 0 THEN f.maker_amount ELSE f.taker_amount END)
    FROM (SELECT DISTINCT '0x' || encode(maker, 'hex') AS hex FROM old_rows) o
    JOIN chain.order_filled f ON ('0x' || encode(f.maker, 'hex')) = o.hex
    GROUP BY f.maker;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS _200_wallet_totals_insert ON chain.order_filled;
CREATE TRIGGER _200_wallet_totals_insert AFTER INSERT ON chain.order_filled
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_order_filled__wallet_totals_insert();

DROP TRIGGER IF EXISTS _200_wallet_totals_delete ON chain.order_filled;
CREATE TRIGGER _200_wallet_totals_delete AFTER DELETE ON chain.order_filled
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION flow.tg_order_filled__wallet_totals_delete();
