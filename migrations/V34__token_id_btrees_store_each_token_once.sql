-- Token-id btrees that store each token id once, with the list of its rows.
--
-- A btree stores the duplicates of a key once only when its operator class says that equal
-- keys are also equal byte for byte. numeric's own class cannot say so (1.0 and 1.00 are equal
-- but print differently), so the btrees on token_id (V31) kept one 78-digit key per row:
-- 32 MB for 450,000 fills of 1,000 tokens. Every token id here is a numeric(78,0), whose scale
-- is always 0: equal ids are the same bytes, and chain.token_id_ops (numeric's comparison,
-- declared image-equal) lets the index keep each id once: 3.7 MB for the same fills.
--
-- Measured in psql on a `bench signals` database (450,000 fills of 1,000 tokens): 15 blocks of
-- ~1,500 fills inserted into chain.order_filled with all its indexes and triggers, each in a
-- transaction rolled back, the index rebuilt each way in turn, three times: median 42.5, 42.6
-- and 32.3 ms per block with numeric's class, 29.9, 29.8 and 30.1 ms with this one. Queries on
-- token_id = X use it as before.
--
-- Creating an operator class takes a superuser. Run by another role, this migration changes
-- nothing (with a NOTICE, which psql shows): the indexes stay as V31 made them, correct, only
-- larger. `\d chain.order_filled` shows which class order_filled_token has.
-- Rebuilding the two indexes on a long history takes a while, once.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'V34: % is not a superuser, so the token-id indexes keep numeric''s operator class (one key per row)', current_user;
        RETURN;
    END IF;
    CREATE OPERATOR FAMILY chain.token_id_ops USING btree;
    CREATE OPERATOR CLASS chain.token_id_ops FOR TYPE numeric USING btree FAMILY chain.token_id_ops AS
        OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
        FUNCTION 1 numeric_cmp(numeric, numeric),
        FUNCTION 2 numeric_sortsupport(internal),
        FUNCTION 4 btequalimage(oid);
    COMMENT ON OPERATOR CLASS chain.token_id_ops USING btree IS
        'numeric''s btree order, declared image-equal so duplicates are stored once: only for numeric columns of scale 0 (numeric(p,0)), such as token ids.';

    DROP INDEX chain.order_filled_token;
    CREATE INDEX order_filled_token ON chain.order_filled (token_id chain.token_id_ops);

    DROP INDEX flow.positions_token;
    CREATE INDEX positions_token ON flow.positions (token_id chain.token_id_ops);
END $$;
