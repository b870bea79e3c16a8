-- The indexer (import and backfill) derives positions on a second connection while it goes on
-- storing events: a derive begins once this many events were stored since the last one began
-- and that one has ended. Smaller chunks keep the derivation busy beside the writes, so less is
-- left to derive after the last write; the head follower derives each block itself, after
-- derive_head_delay_ms.
INSERT INTO strategy.parameters (name, value, description) VALUES
    ('derive_alongside_rows', 50000,
     'The indexer''s second connection begins deriving positions once this many events were stored since its last derive began (and that one has ended), alongside the writes.')
ON CONFLICT (name) DO NOTHING;
UPDATE strategy.parameters SET description =
    'A deferring writer without a second connection derives positions after about this many stored events, and at its end.'
WHERE name = 'derive_every_rows';
