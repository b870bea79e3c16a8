-- Positions are rewritten whenever a wallet trades again: at the head every block, and in a
-- backfill every window the derive folds (conversions cut it every derive_conversion_blocks).
-- With full pages every such rewrite put the new row version on another page and added an
-- entry to both indexes; with half of each page left free, most stay on their page as
-- heap-only updates, and no index is touched. Re-deriving a `bench backfill --keep` database
-- (1,114,290 ledger rows, 145,088 positions rewritten 296,313 times; flow.derive on one
-- connection): 48.9 / 48.8 s with full pages (0.1% heap-only), 36.9 / 35.3 / 36.6 s at 70
-- (42%), 33.8 s at 50 (67%). The table takes up to twice the room. Pages written before this
-- migration keep their layout until they are rewritten.
ALTER TABLE flow.positions SET (fillfactor = 50);
