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

-- market.display_outcome_labels(outcomes, neg_risk, group_item_title): the outcome labels an
-- analyst sees for a Gamma market. In a neg-risk event every market is one candidate's Yes/No
-- ("Will Alice win?"), which reads better as the candidate: Alice / Not Alice.
CREATE OR REPLACE FUNCTION market.display_outcome_labels(p_outcomes text[], p_neg_risk boolean,
                                                         p_group_item text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_neg_risk AND nullif(btrim(p_group_item), '') IS NOT NULL
                     AND lower(p_outcomes::text) = '{yes,no}'
                THEN ARRAY[btrim(p_group_item), 'Not ' || btrim(p_group_item)]
                ELSE p_outcomes END
$$;

-- market.outcomes_by_token(outcomes, gamma_tokens, ref_tokens): Gamma's labels put in the order
-- of ref_tokens (the chain's outcome_index order), matched by token id; NULL when any token of
-- ref_tokens is missing from Gamma's list (then no Gamma label can be trusted for the market).
CREATE OR REPLACE FUNCTION market.outcomes_by_token(p_outcomes text[], p_gamma numeric[],
                                                    p_ref numeric[])
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN bool_and(x IS NOT NULL) THEN array_agg(x ORDER BY i) END
    FROM (SELECT i, p_outcomes[array_position(p_gamma, p_ref[i])] AS x
          FROM generate_subscripts(p_ref, 1) i) s
$$;

-- market.apply_gamma(conditions): cross-checks each Gamma market's clobTokenIds against the
-- token ids of the chain (market.tokens) or, while the chain has not shown the condition,
-- against the ids derived from it (derived_token_ids); stores the verdict on
-- market.gamma_markets and refreshes market.labels (never rows an analyst wrote by hand).
-- A mismatch keeps the title but maps outcome labels by token id, or drops them when the tokens
-- do not correspond at all: the chain stays the truth. Returns one row per condition checked.
CREATE OR REPLACE FUNCTION market.apply_gamma(p_conditions bytea[])
RETURNS TABLE (checked_condition bytea, check_result text, check_source text, check_detail text)
LANGUAGE sql AS $$
    WITH g AS (
        SELECT gm.*, ch.tokens AS chain_tokens
        FROM market.gamma_markets gm
        LEFT JOIN LATERAL (SELECT array_agg(t.token_id ORDER BY t.outcome_index) AS tokens
                           FROM market.tokens t
                           WHERE t.condition_id = gm.condition_id) ch ON true
        WHERE gm.condition_id = ANY (p_conditions)
    ), c AS (
        SELECT g.*,
               coalesce(g.chain_tokens, g.derived_token_ids) AS ref,
               CASE WHEN g.chain_tokens IS NOT NULL THEN 'chain'
                    WHEN g.derived_token_ids IS NOT NULL THEN 'derived' END AS ref_source,
               CASE WHEN coalesce(cardinality(g.clob_token_ids), 0) = 0
                         OR coalesce(g.chain_tokens, g.derived_token_ids) IS NULL THEN 'unchecked'
                    WHEN g.clob_token_ids = coalesce(g.chain_tokens, g.derived_token_ids) THEN 'ok'
                    ELSE 'mismatch' END AS result
        FROM g
    ), lab AS (
        INSERT INTO market.labels AS l (condition_id, question, slug, category, outcome_labels,
                                        event_title, tags, source, updated_at)
        SELECT c.condition_id, c.question, c.slug,
               coalesce(nullif(c.category, ''), nullif(e.category, ''), e.tags[1]),
               market.display_outcome_labels(
                   CASE c.result WHEN 'mismatch'
                        THEN market.outcomes_by_token(c.outcomes, c.clob_token_ids, c.ref)
                        ELSE c.outcomes END,
                   c.neg_risk, c.group_item_title),
               e.title, e.tags, 'gamma', now()
        FROM c
        LEFT JOIN market.gamma_events e ON e.event_id = c.event_id
        ON CONFLICT (condition_id) DO UPDATE
        SET question = EXCLUDED.question, slug = EXCLUDED.slug, category = EXCLUDED.category,
            outcome_labels = EXCLUDED.outcome_labels, event_title = EXCLUDED.event_title,
            tags = EXCLUDED.tags, updated_at = EXCLUDED.updated_at
        WHERE l.source = 'gamma'
    )
    UPDATE market.gamma_markets gm
    SET token_check = c.result,
        token_check_source = CASE WHEN c.result <> 'unchecked' THEN c.ref_source END,
        token_check_detail = CASE WHEN c.result = 'mismatch' THEN
            format('clobTokenIds %s differ from the %s token ids %s (outcome_index order)%s',
                   c.clob_token_ids, c.ref_source, c.ref,
                   CASE WHEN market.outcomes_by_token(c.outcomes, c.clob_token_ids, c.ref) IS NOT NULL
                        THEN ': same tokens in another order, labels mapped by token id'
                        ELSE ': outcome labels not applied' END) END,
        checked_at = now()
    FROM c
    WHERE gm.condition_id = c.condition_id
    RETURNING gm.condition_id, gm.token_check, gm.token_check_source, gm.token_check_detail
$$;

DROP VIEW IF EXISTS market_tokens CASCADE;
CREATE VIEW market_tokens AS
SELECT t.token_id,
       '0x' || encode(t.condition_id, 'hex') AS market_id,
       l.question AS market_title,
       l.category,
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
COMMENT ON COLUMN market_tokens.market_title IS 'The market''s question (Gamma), NULL until labels are known.';
COMMENT ON COLUMN market_tokens.outcome_index IS '0 = first outcome (index set 1: Yes/Up), 1 = second (index set 2: No/Down).';
COMMENT ON COLUMN market_tokens.outcome IS 'The outcome''s label (Yes/No, Up/Down, a candidate); YES/NO or OUTCOME_<index> when unknown.';
COMMENT ON COLUMN market_tokens.source IS 'condition_preparation (CTF event) or token_registered (V1 exchange registration, matched by derivation).';

DROP VIEW IF EXISTS markets CASCADE;
CREATE VIEW markets AS
SELECT '0x' || encode(m.condition_id, 'hex') AS market_id,
       l.question AS title,
       l.category,
       l.slug,
       l.event_title,
       l.tags,
       '0x' || encode(p.question_id, 'hex') AS question_id,
       '0x' || encode(p.oracle, 'hex') AS oracle,
       coalesce(p.outcome_slot_count, m.slots) AS outcome_slot_count,
       m.neg_risk,
       m.token_ids,
       ARRAY(SELECT market.outcome_label(l.outcome_labels, i, coalesce(p.outcome_slot_count, m.slots))
             FROM generate_series(0, coalesce(p.outcome_slot_count, m.slots) - 1) i) AS outcomes,
       coalesce(p.block_number, m.first_block) AS created_block,
       p.block_time AS created_at,
       r.block_number IS NOT NULL AS resolved,
       g.end_date,
       g.closed AS gamma_closed,
       g.resolution_status AS gamma_resolution_status,
       g.tick_size,
       g.min_order_size,
       g.token_check,
       g.token_check_detail
FROM (SELECT condition_id, bool_or(neg_risk) AS neg_risk, min(block_number) AS first_block,
             max(outcome_index) + 1 AS slots,
             array_agg(token_id ORDER BY outcome_index) AS token_ids
      FROM market.tokens GROUP BY condition_id) m
LEFT JOIN LATERAL (SELECT * FROM chain.condition_preparation p
                   WHERE p.condition_id = m.condition_id ORDER BY block_number, log_index LIMIT 1) p ON true
LEFT JOIN market.labels l ON l.condition_id = m.condition_id
LEFT JOIN market.gamma_markets g ON g.condition_id = m.condition_id
LEFT JOIN LATERAL (SELECT block_number FROM chain.condition_resolution r
                   WHERE r.condition_id = m.condition_id LIMIT 1) r ON true;
COMMENT ON VIEW markets IS 'One row per market (CTF condition) with its outcome tokens in outcome_index order; title, category and outcome labels when known (`orderflow markets sync`).';
COMMENT ON COLUMN markets.market_id IS 'CTF condition id (0x text).';
COMMENT ON COLUMN markets.title IS 'The market''s question as Polymarket shows it (Gamma), NULL until labels are known.';
COMMENT ON COLUMN markets.category IS 'Gamma category: the market''s own, else its event''s, else the event''s first tag.';
COMMENT ON COLUMN markets.event_title IS 'Title of the Gamma event grouping this market (e.g. the election of a neg-risk candidate market).';
COMMENT ON COLUMN markets.token_ids IS 'token_ids[i + 1] is the token of outcome_index i.';
COMMENT ON COLUMN markets.outcomes IS 'Outcome labels in outcome_index order (YES/NO when the market''s own labels are unknown).';
COMMENT ON COLUMN markets.neg_risk IS 'True for neg-risk markets (oracle = NegRiskAdapter, tokens derived from WrappedCollateral).';
COMMENT ON COLUMN markets.resolved IS 'Resolved on chain (ConditionResolution seen); gamma_closed is Gamma''s own flag.';
COMMENT ON COLUMN markets.token_check IS 'Gamma clobTokenIds against the chain''s tokens: ok, mismatch (labels mapped by token id or dropped) or unchecked; NULL when Gamma has no record.';

DROP VIEW IF EXISTS market_outcomes CASCADE;
CREATE VIEW market_outcomes AS
SELECT DISTINCT ON (r.condition_id)
       '0x' || encode(r.condition_id, 'hex') AS market_id,
       l.question AS title,
       l.category,
       r.payout_numerators,
       CASE WHEN w.n = 1 THEN w.idx END AS winning_outcome_index,
       CASE WHEN w.n = 1 THEN market.outcome_label(l.outcome_labels, w.idx, r.outcome_slot_count) END AS winning_outcome,
       ARRAY(SELECT market.outcome_label(l.outcome_labels, i, r.outcome_slot_count)
             FROM generate_series(0, r.outcome_slot_count - 1) i) AS outcomes,
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
COMMENT ON COLUMN market_outcomes.title IS 'The market''s question (Gamma), NULL until labels are known.';
COMMENT ON COLUMN market_outcomes.winning_outcome_index IS 'The single outcome paid in full; NULL when the payout is split (e.g. 50/50).';
COMMENT ON COLUMN market_outcomes.winning_outcome IS 'Label of the winning outcome (Yes/No, Up/Down, a candidate), YES/NO when labels are unknown.';
COMMENT ON COLUMN market_outcomes.outcomes IS 'Outcome labels in outcome_index order, matching payouts.';
COMMENT ON COLUMN market_outcomes.payouts IS 'Payout per share of each outcome, in outcome_index order (1, 0 or 0.5 for a 50/50).';
COMMENT ON COLUMN market_outcomes.is_split IS 'True when more than one outcome pays (a 50/50 or partial resolution).';

-- Everything Gamma says about a market, with the verdict of the chain cross-check.
DROP VIEW IF EXISTS market_metadata CASCADE;
CREATE VIEW market_metadata AS
SELECT '0x' || encode(g.condition_id, 'hex') AS market_id,
       g.gamma_id,
       g.question AS title,
       coalesce(l.category, g.category) AS category,
       g.slug,
       g.event_id,
       e.title AS event_title,
       e.tags,
       g.group_item_title,
       g.outcomes AS gamma_outcomes,
       l.outcome_labels AS outcomes,
       g.outcome_prices,
       g.clob_token_ids,
       '0x' || encode(g.question_id, 'hex') AS question_id,
       g.neg_risk,
       '0x' || encode(g.neg_risk_market_id, 'hex') AS neg_risk_market_id,
       g.end_date,
       g.tick_size,
       g.min_order_size,
       g.active,
       g.closed,
       g.archived,
       g.resolution_status,
       EXISTS (SELECT 1 FROM market.tokens t WHERE t.condition_id = g.condition_id) AS seen_on_chain,
       g.token_check,
       g.token_check_source,
       g.token_check_detail,
       g.source,
       g.fetched_at
FROM market.gamma_markets g
LEFT JOIN market.gamma_events e ON e.event_id = g.event_id
LEFT JOIN market.labels l ON l.condition_id = g.condition_id;
COMMENT ON VIEW market_metadata IS 'Every market Polymarket''s Gamma API described (`orderflow markets sync|import`), with the chain cross-check of its token ids. Enrichment only: accounting uses market.tokens.';
COMMENT ON COLUMN market_metadata.gamma_outcomes IS 'Outcome labels in Gamma''s clobTokenIds order, as Gamma sent them.';
COMMENT ON COLUMN market_metadata.outcomes IS 'Labels as the analyst relations show them, in the chain''s outcome_index order.';
COMMENT ON COLUMN market_metadata.outcome_prices IS 'Gamma''s last outcome prices (implied probabilities) at fetch time.';
COMMENT ON COLUMN market_metadata.resolution_status IS 'Gamma''s umaResolutionStatus (e.g. proposed, disputed, resolved).';
COMMENT ON COLUMN market_metadata.token_check IS 'ok: clobTokenIds[i] is the token of outcome i on chain; mismatch: they differ (see token_check_detail; never trusted silently); unchecked: no token ids to compare.';
COMMENT ON COLUMN market_metadata.token_check_source IS 'chain: compared with market.tokens; derived: the chain has not shown the condition yet, compared with ids derived from it.';
