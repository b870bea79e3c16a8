-- Analyst relations about markets. Re-applied on every `orderflow migrate`.

-- chain.hex(bytes): lowercase 0x text, as every analyst relation shows addresses and hashes.
CREATE OR REPLACE FUNCTION chain.hex(b bytea) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ SELECT '0x' || encode(b, 'hex') $$;

-- market.outcome_label(condition, index, slots): the market's own label when known,
-- else YES/NO for binary markets, else OUTCOME_<i>.
CREATE OR REPLACE FUNCTION market.outcome_label(p_labels text[], p_index integer, p_slots integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(p_labels[p_index + 1],
                    CASE WHEN coalesce(p_slots, 2) = 2 THEN (ARRAY['YES', 'NO'])[p_index + 1] END,
                    'OUTCOME_' || p_index)
$$;

DROP VIEW IF EXISTS market_tokens CASCADE;
CREATE VIEW market_tokens AS
SELECT t.token_id,
       '0x' || encode(t.condition_id, 'hex') AS market_id,
       t.outcome_index,
       market.outcome_label(l.outcome_labels, t.outcome_index, c.outcome_slot_count) AS outcome,
       t.neg_risk,
       '0x' || encode(t.collateral, 'hex') AS collateral,
       t.source,
       t.block_number
FROM market.tokens t
LEFT JOIN market.labels l ON l.condition_id = t.condition_id
LEFT JOIN LATERAL (SELECT p.outcome_slot_count FROM chain.condition_preparation p
                   WHERE p.condition_id = t.condition_id LIMIT 1) c ON true;
COMMENT ON VIEW market_tokens IS 'One row per outcome token: which market (condition id) and outcome it is, derived on chain.';
COMMENT ON COLUMN market_tokens.token_id IS 'ERC-1155 position id as the exchange trades it (decimal, as Polymarket APIs print it).';
COMMENT ON COLUMN market_tokens.outcome_index IS '0 = first outcome (index set 1: Yes/Up), 1 = second (index set 2: No/Down).';
COMMENT ON COLUMN market_tokens.source IS 'condition_preparation (CTF event) or token_registered (V1 exchange registration, matched by derivation).';

DROP VIEW IF EXISTS markets CASCADE;
CREATE VIEW markets AS
SELECT '0x' || encode(m.condition_id, 'hex') AS market_id,
       l.question AS title,
       l.category,
       l.slug,
       '0x' || encode(p.question_id, 'hex') AS question_id,
       '0x' || encode(p.oracle, 'hex') AS oracle,
       coalesce(p.outcome_slot_count, m.slots) AS outcome_slot_count,
       m.neg_risk,
       m.token_ids,
       ARRAY(SELECT market.outcome_label(l.outcome_labels, i, coalesce(p.outcome_slot_count, m.slots))
             FROM generate_series(0, coalesce(p.outcome_slot_count, m.slots) - 1) i) AS outcomes,
       coalesce(p.block_number, m.first_block) AS created_block,
       p.block_time AS created_at,
       r.block_number IS NOT NULL AS resolved
FROM (SELECT condition_id, bool_or(neg_risk) AS neg_risk, min(block_number) AS first_block,
             max(outcome_index) + 1 AS slots,
             array_agg(token_id ORDER BY outcome_index) AS token_ids
      FROM market.tokens GROUP BY condition_id) m
LEFT JOIN LATERAL (SELECT * FROM chain.condition_preparation p
                   WHERE p.condition_id = m.condition_id ORDER BY block_number, log_index LIMIT 1) p ON true
LEFT JOIN market.labels l ON l.condition_id = m.condition_id
LEFT JOIN LATERAL (SELECT block_number FROM chain.condition_resolution r
                   WHERE r.condition_id = m.condition_id LIMIT 1) r ON true;
COMMENT ON VIEW markets IS 'One row per market (CTF condition) with its outcome tokens in outcome_index order; title/category when labels are known.';
COMMENT ON COLUMN markets.market_id IS 'CTF condition id (0x text).';
COMMENT ON COLUMN markets.token_ids IS 'token_ids[i + 1] is the token of outcome_index i.';
COMMENT ON COLUMN markets.outcomes IS 'Outcome labels in outcome_index order (YES/NO when the market''s own labels are unknown).';
COMMENT ON COLUMN markets.neg_risk IS 'True for neg-risk markets (oracle = NegRiskAdapter, tokens derived from WrappedCollateral).';

DROP VIEW IF EXISTS market_outcomes CASCADE;
CREATE VIEW market_outcomes AS
SELECT DISTINCT ON (r.condition_id)
       '0x' || encode(r.condition_id, 'hex') AS market_id,
       l.question AS title,
       r.payout_numerators,
       CASE WHEN w.n = 1 THEN w.idx END AS winning_outcome_index,
       CASE WHEN w.n = 1 THEN market.outcome_label(l.outcome_labels, w.idx, r.outcome_slot_count) END AS winning_outcome,
       ARRAY(SELECT round(x / nullif(s.total, 0), 6) FROM unnest(r.payout_numerators) x) AS payouts,
       w.n > 1 AS is_split,
       r.block_time AS resolved_at,
       r.block_number,
       '0x' || encode(r.tx_hash, 'hex') AS tx_hash
FROM chain.condition_resolution r
CROSS JOIN LATERAL (SELECT sum(x) AS total FROM unnest(r.payout_numerators) x) s
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE x > 0) AS n,
                           (min(o - 1) FILTER (WHERE x > 0))::integer AS idx
                    FROM unnest(r.payout_numerators) WITH ORDINALITY u(x, o)) w
LEFT JOIN market.labels l ON l.condition_id = r.condition_id
ORDER BY r.condition_id, r.block_number, r.log_index;
COMMENT ON VIEW market_outcomes IS 'Resolved markets (CTF ConditionResolution): payout per outcome = numerator / sum of numerators.';
COMMENT ON COLUMN market_outcomes.winning_outcome_index IS 'The single outcome paid in full; NULL when the payout is split (e.g. 50/50).';
COMMENT ON COLUMN market_outcomes.payouts IS 'Payout per share of each outcome, in outcome_index order (1, 0 or 0.5 for a 50/50).';
COMMENT ON COLUMN market_outcomes.is_split IS 'True when more than one outcome pays (a 50/50 or partial resolution).';
