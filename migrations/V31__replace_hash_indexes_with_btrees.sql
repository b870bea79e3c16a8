-- Btrees instead of the hash indexes on wallets and tokens.
--
-- A hash index keeps every entry of one key in one bucket: a chain of overflow pages that an
-- insert walks from its first page until it finds room. On a real exchange a few market makers
-- are in a large share of all fills and a few markets take most of the trading, so the hottest
-- keys have hundreds of thousands of entries in one partition, and every new fill of theirs
-- walks hundreds of pages. A btree puts a new entry of a key straight at the end of that key's
-- entries, however many there are (and stores the duplicates of a bytea or text key once, with
-- a list of row pointers).
--
-- Measured in psql on 1,000,000 rows drawn with log-uniform ranks (as `bench ingest` draws
-- them: the busiest of 20,000 wallets in 7% of the rows, the busiest of 1,000 tokens in 10%),
-- then 1,500 more rows of the same draw, as one head block:
--   20-byte wallet keys: load 3.60 s hash, 2.30 s btree; the block 8.8-21.0 ms hash,
--     4.7-6.9 ms btree (the heap alone: 0.61 s per million);
--   token ids (numeric): load 5.79 s hash, 4.08 s btree; the block 16.2-30.6 ms hash,
--     5.6-10.1 ms btree;
--   one key holding 200,000 of 700,000 rows: 1,500 more rows of it 77 ms hash, 3 ms btree.
-- With every key equally busy the hash index is the cheaper one (1.94 s against 2.54 s per
-- million wallet keys), which is why these were hash indexes; a market is not like that.
-- A btree on the numeric token id cannot store duplicates once (numeric equality ignores the
-- display scale), so it is the larger index (65 MB against 44 MB per million fills above).
-- Rebuilding the four on a full history takes a while, once.

DROP INDEX chain.order_filled_maker_hex;
CREATE INDEX order_filled_maker_hex ON chain.order_filled (('0x' || encode(maker, 'hex')));

DROP INDEX chain.order_filled_token;
CREATE INDEX order_filled_token ON chain.order_filled (token_id);

DROP INDEX flow.ledger_wallet;
CREATE INDEX ledger_wallet ON flow.ledger (wallet);

DROP INDEX flow.positions_token;
CREATE INDEX positions_token ON flow.positions (token_id);
