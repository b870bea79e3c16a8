-- At the head the indexer derives positions from each new block in a transaction of its own,
-- right after the block's events and signals commit. The executor wakes at that same commit
-- (its signals' NOTIFY) and decides on them; on a small machine both then compete for the same
-- cores, and the decisions wait. The follower lets the decisions go first: it waits this long
-- after a head block's commit before deriving. Positions are derived a moment later; nothing
-- a decision reads depends on them.
INSERT INTO strategy.parameters (name, value, description) VALUES
    ('derive_head_delay_ms', 50,
     'At the head, the indexer waits this many milliseconds after a block''s commit before deriving positions from it, so the executor''s decisions on the block''s signals are not slowed by the derivation (0: derive at once).')
ON CONFLICT (name) DO NOTHING;
