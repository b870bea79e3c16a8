-- The live follower's view of the recent chain: every block it has indexed near the head, with
-- its hash and parent hash. A new block whose parent hash differs from ours means a reorg; the
-- follower then finds the highest block still agreeing with the node (the fork point) and
-- unwinds everything above it with chain.unwind(). Older rows are pruned as the head moves.
CREATE TABLE chain.recent_blocks (
    block_number bigint PRIMARY KEY,
    block_hash   bytea  NOT NULL CHECK (octet_length(block_hash) = 32),
    parent_hash  bytea  NOT NULL CHECK (octet_length(parent_hash) = 32),
    block_time   timestamptz
);

-- How many blocks below the head the follower checks for reorgs (Polygon reorgs since the
-- 2023 Bhilai/Heimdall changes are a few blocks; 128 is generous).
INSERT INTO strategy.parameters (name, value, description)
VALUES ('reorg_window_blocks', 128, 'Blocks below the head kept in chain.recent_blocks for reorg detection')
ON CONFLICT (name) DO NOTHING;
