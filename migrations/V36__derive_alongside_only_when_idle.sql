-- A bulk writer (indexer import, a backfill) with a second connection derives positions on it
-- beside its writes only once it has waited this long for something to write: a provider's
-- answer, the file's next lines. While it has work at hand (a file, a fast node), deriving
-- beside it took a core from the writes, and many small derives rewrite the busiest positions
-- over and over; it stores instead, and derives in large steps in two parts side by side
-- (flow.derive_part), once derive_every_rows events wait and at its end. Measured with
-- `indexer import` of 1,000,000 synthetic fills, alternating: deriving alongside 16.5 / 15.7 s
-- in all (events stored after 7.7 / 7.3 s), deriving after the writes in two parts 14.9 /
-- 14.3 s (stored after 5.4 / 5.5 s). 0: derive beside the writes whenever a derive is due.
INSERT INTO strategy.parameters (name, value, description) VALUES
    ('derive_idle_ms', 20,
     'A bulk writer with a second connection derives positions on it beside its writes (every derive_alongside_rows events) only after waiting this many milliseconds for something to write; otherwise it derives every derive_every_rows events in two parts side by side. 0: beside the writes whenever due.')
ON CONFLICT (name) DO NOTHING;
-- Larger steps rewrite the busiest positions less often: the same import took 16.2 / 16.3 s
-- deriving every 500,000 events, 14.8 / 14.1 s every 1,000,000. A part of a 1,000,000-event
-- step is one statement on about 500,000 ledger rows; its server process peaked at 406 MB
-- (shared buffers included). A value an analyst changed is kept.
UPDATE strategy.parameters SET value = 1000000 WHERE name = 'derive_every_rows' AND value = 500000;
UPDATE strategy.parameters SET description =
    'A deferring writer derives positions once this many stored events wait: on its connection, or with a second one in two parts side by side (see derive_idle_ms); and at its end.'
WHERE name = 'derive_every_rows';
UPDATE strategy.parameters SET description =
    'A bulk writer waiting for something to write (derive_idle_ms) derives positions on its second connection, beside the writes, once this many events were stored since its last derive began (and that one has ended).'
WHERE name = 'derive_alongside_rows';
