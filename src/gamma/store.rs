//! Writing Gamma records: one transaction per page upserts the markets and events, keeps the
//! rejected records with their reasons, and cross-checks token ids against the chain through
//! `market.apply_gamma()` (views/010_markets.sql), which also refreshes `market.labels`.

use std::collections::{BTreeMap, HashSet};

use ethers::types::U256;
use serde_json::{json, Value};
use tokio_postgres::{Client, Transaction};

use super::{
    record::{GammaEvent, GammaMarket, RecordError},
    GammaError,
};
use crate::{
    chain::{
        contracts::{addr, known},
        hex,
        log::Word,
        position_id,
    },
    db::DbError,
};

/// Where records came from (stored with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Fetched from a Gamma server.
    Api,
    /// Loaded from a saved file.
    File,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::File => "file",
        }
    }
}

/// The verdict of one market's token-id cross-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Condition id, 0x hex.
    pub condition_id: String,
    /// `ok`, `mismatch` or `unchecked`.
    pub result: String,
    /// `chain` or `derived` (None when unchecked).
    pub source: Option<String>,
    /// What differs, for a mismatch.
    pub detail: Option<String>,
}

/// What one write did.
#[derive(Debug, Default, Clone)]
pub struct StoreReport {
    /// Markets upserted.
    pub markets: u64,
    /// Events upserted.
    pub events: u64,
    /// Records rejected (also kept in market.gamma_rejects).
    pub rejected: Vec<RecordError>,
    /// Cross-check verdicts of the markets whose labels were (re)applied.
    pub checks: Vec<Check>,
}

impl StoreReport {
    /// Adds another report's counts and lists to this one.
    pub fn absorb(&mut self, other: StoreReport) {
        self.markets += other.markets;
        self.events += other.events;
        self.rejected.extend(other.rejected);
        self.checks.extend(other.checks);
    }
}

/// Writes pages of parsed records.
pub struct Store<'a> {
    client: &'a mut Client,
    source: Source,
}

impl<'a> Store<'a> {
    /// A store writing through `client`, marking rows with `source`.
    pub fn new(client: &'a mut Client, source: Source) -> Self {
        Store { client, source }
    }

    /// Upserts one page: markets (read or rejected) and events (read or rejected). An event's
    /// nested markets are written as markets too when `nested_markets` (saved files); otherwise
    /// (a sync, whose markets pass saw them) they only link markets to the event.
    pub async fn write_page(
        &mut self,
        markets: Vec<Result<GammaMarket, RecordError>>,
        events: Vec<Result<GammaEvent, RecordError>>,
        nested_markets: bool,
    ) -> Result<StoreReport, GammaError> {
        let mut report = StoreReport::default();
        let mut good_markets = Vec::new();
        let mut good_events = Vec::new();
        for m in markets {
            match m {
                Ok(m) => good_markets.push(m),
                Err(e) => report.rejected.push(e),
            }
        }
        let mut links: Vec<(Word, String)> = Vec::new();
        for e in events {
            match e {
                Ok(mut e) => {
                    for m in std::mem::take(&mut e.markets) {
                        match m {
                            Ok(m) => {
                                links.push((m.condition_id, e.id.clone()));
                                if nested_markets {
                                    good_markets.push(m);
                                }
                            }
                            Err(err) if nested_markets => report.rejected.push(err),
                            Err(_) => {}
                        }
                    }
                    good_events.push(e);
                }
                Err(err) => report.rejected.push(err),
            }
        }
        for r in &report.rejected {
            tracing::warn!(target: "orderflow::gamma", "{r}");
        }
        let on_chain = self.on_chain(&good_markets).await?;
        // Deriving token ids is CPU work (hash-to-curve): off the async threads.
        let derived = {
            let todo: Vec<(Word, bool, usize)> = good_markets
                .iter()
                .filter(|m| !on_chain.contains(&m.condition_id))
                .filter_map(|m| {
                    let n = m.clob_token_ids.as_ref()?.len();
                    Some((m.condition_id, m.neg_risk.unwrap_or(false), n))
                })
                .collect();
            tokio::task::spawn_blocking(move || derive_all(&todo))
                .await
                .expect("token derivation does not panic")
        };

        let source = self.source.as_str();
        let tx = self
            .client
            .transaction()
            .await
            .map_err(DbError::query("opening a Gamma write transaction"))?;
        let mut touched: Vec<Word> = Vec::new();
        report.events += upsert_events(&tx, &good_events, source).await?;
        // Events nested in market records (title, slug; tags when present).
        let nested: Vec<GammaEvent> = good_markets
            .iter()
            .filter_map(|m| m.event.clone())
            .collect();
        upsert_events(&tx, &nested, source).await?;
        if !good_markets.is_empty() {
            report.markets += upsert_markets(&tx, &good_markets, &derived, source).await?;
            touched.extend(good_markets.iter().map(|m| m.condition_id));
        }
        if !links.is_empty() {
            let (conds, ids): (Vec<Vec<u8>>, Vec<String>) =
                links.iter().map(|(c, e)| (c.to_vec(), e.clone())).unzip();
            tx.execute(
                "UPDATE market.gamma_markets g SET event_id = l.event_id \
                 FROM unnest($1::bytea[], $2::text[]) AS l(condition_id, event_id) \
                 WHERE g.condition_id = l.condition_id AND g.event_id IS DISTINCT FROM l.event_id",
                &[&conds, &ids],
            )
            .await
            .map_err(DbError::query("linking Gamma markets to their events"))?;
            touched.extend(links.iter().map(|(c, _)| *c));
        }
        if !good_events.is_empty() {
            // An event's category and tags reach the labels of every market it groups.
            let ids: Vec<&str> = good_events.iter().map(|e| e.id.as_str()).collect();
            let rows = tx
                .query(
                    "SELECT condition_id FROM market.gamma_markets WHERE event_id = ANY($1::text[])",
                    &[&ids],
                )
                .await
                .map_err(DbError::query("finding the markets of Gamma events"))?;
            touched.extend(
                rows.iter()
                    .filter_map(|r| <Word>::try_from(r.get::<_, Vec<u8>>(0)).ok()),
            );
        }
        store_rejects(&tx, &report.rejected, source).await?;
        report.checks = apply(&tx, &touched).await?;
        tx.commit()
            .await
            .map_err(DbError::query("committing Gamma records"))?;
        Ok(report)
    }

    /// Which of these markets' conditions the chain has shown (market.tokens).
    async fn on_chain(&self, markets: &[GammaMarket]) -> Result<HashSet<Word>, GammaError> {
        if markets.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<Vec<u8>> = markets.iter().map(|m| m.condition_id.to_vec()).collect();
        let rows = self
            .client
            .query(
                "SELECT DISTINCT condition_id FROM market.tokens WHERE condition_id = ANY($1::bytea[])",
                &[&ids],
            )
            .await
            .map_err(DbError::query("looking up Gamma conditions in market.tokens"))?;
        Ok(rows
            .iter()
            .filter_map(|r| r.get::<_, Vec<u8>>(0).try_into().ok())
            .collect())
    }

    /// Re-runs the cross-check and the labels of these conditions.
    pub async fn reapply(&mut self, conditions: &[Word]) -> Result<Vec<Check>, GammaError> {
        let tx = self
            .client
            .transaction()
            .await
            .map_err(DbError::query("opening a Gamma recheck transaction"))?;
        let checks = apply(&tx, conditions).await?;
        tx.commit()
            .await
            .map_err(DbError::query("committing a Gamma recheck"))?;
        Ok(checks)
    }
}

/// Token ids of outcomes 0..n, derived as ConditionalTokens does: USDC.e collateral for a
/// standard market, the NegRisk WrappedCollateral for a neg-risk one.
pub fn derived_token_ids(condition: &Word, neg_risk: bool, n: usize) -> Vec<String> {
    let collateral = known(if neg_risk {
        addr::NEGRISK_WRAPPED_COLLATERAL
    } else {
        addr::USDC_E
    });
    (0..n as u32)
        .map(|i| {
            U256::from_big_endian(&position_id::token_id(&collateral, condition, i)).to_string()
        })
        .collect()
}

fn derive_all(todo: &[(Word, bool, usize)]) -> BTreeMap<Word, Vec<String>> {
    todo.iter()
        .filter(|(_, _, n)| *n <= 8)
        .map(|(c, neg, n)| (*c, derived_token_ids(c, *neg, *n)))
        .collect()
}

fn hex_plain(w: &[u8]) -> String {
    hex::encode(w).trim_start_matches("0x").to_owned()
}

async fn upsert_markets(
    tx: &Transaction<'_>,
    markets: &[GammaMarket],
    derived: &BTreeMap<Word, Vec<String>>,
    source: &str,
) -> Result<u64, GammaError> {
    // One row per condition (the last record wins), or the upsert would touch a row twice.
    let mut by_condition: BTreeMap<Word, &GammaMarket> = BTreeMap::new();
    for m in markets {
        by_condition.insert(m.condition_id, m);
    }
    let rows: Vec<Value> = by_condition
        .values()
        .map(|m| {
            json!({
                "condition_id": hex_plain(&m.condition_id),
                "gamma_id": m.gamma_id,
                "question": m.question,
                "slug": m.slug,
                "category": m.category,
                "event_id": m.event.as_ref().map(|e| &e.id),
                "group_item_title": m.group_item_title,
                "outcomes": m.outcomes,
                "outcome_prices": m.outcome_prices,
                "clob_token_ids": m.clob_token_ids,
                "derived_token_ids": derived.get(&m.condition_id),
                "question_id": m.question_id.map(|q| hex_plain(&q)),
                "neg_risk": m.neg_risk,
                "neg_risk_market_id": m.neg_risk_market_id.map(|q| hex_plain(&q)),
                "end_date": m.end_date,
                "tick_size": m.tick_size,
                "min_order_size": m.min_order_size,
                "active": m.active,
                "closed": m.closed,
                "archived": m.archived,
                "resolution_status": m.resolution_status,
            })
        })
        .collect();
    let doc = Value::Array(rows).to_string();
    let n = tx
        .execute(
            "INSERT INTO market.gamma_markets AS g (condition_id, gamma_id, question, slug, category, \
                 event_id, group_item_title, outcomes, outcome_prices, clob_token_ids, derived_token_ids, \
                 question_id, neg_risk, neg_risk_market_id, end_date, tick_size, min_order_size, active, \
                 closed, archived, resolution_status, source, fetched_at) \
             SELECT decode(r.condition_id, 'hex'), r.gamma_id, r.question, r.slug, r.category, \
                 r.event_id, r.group_item_title, r.outcomes, r.outcome_prices, r.clob_token_ids, \
                 r.derived_token_ids, decode(r.question_id, 'hex'), r.neg_risk, \
                 decode(r.neg_risk_market_id, 'hex'), r.end_date, r.tick_size, r.min_order_size, \
                 r.active, r.closed, r.archived, r.resolution_status, $2, now() \
             FROM jsonb_to_recordset($1::text::jsonb) AS r(condition_id text, gamma_id text, \
                 question text, slug text, category text, event_id text, group_item_title text, \
                 outcomes text[], outcome_prices numeric[], clob_token_ids numeric(78,0)[], \
                 derived_token_ids numeric(78,0)[], question_id text, neg_risk boolean, \
                 neg_risk_market_id text, end_date timestamptz, tick_size numeric, \
                 min_order_size numeric, active boolean, closed boolean, archived boolean, \
                 resolution_status text) \
             ON CONFLICT (condition_id) DO UPDATE SET \
                 gamma_id = EXCLUDED.gamma_id, question = EXCLUDED.question, slug = EXCLUDED.slug, \
                 category = EXCLUDED.category, event_id = coalesce(EXCLUDED.event_id, g.event_id), \
                 group_item_title = EXCLUDED.group_item_title, outcomes = EXCLUDED.outcomes, \
                 outcome_prices = EXCLUDED.outcome_prices, clob_token_ids = EXCLUDED.clob_token_ids, \
                 derived_token_ids = EXCLUDED.derived_token_ids, question_id = EXCLUDED.question_id, \
                 neg_risk = EXCLUDED.neg_risk, neg_risk_market_id = EXCLUDED.neg_risk_market_id, \
                 end_date = EXCLUDED.end_date, tick_size = EXCLUDED.tick_size, \
                 min_order_size = EXCLUDED.min_order_size, active = EXCLUDED.active, \
                 closed = EXCLUDED.closed, archived = EXCLUDED.archived, \
                 resolution_status = EXCLUDED.resolution_status, source = EXCLUDED.source, \
                 fetched_at = EXCLUDED.fetched_at",
            &[&doc, &source],
        )
        .await
        .map_err(DbError::query("upserting Gamma markets into market.gamma_markets"))?;
    let ids: Vec<String> = by_condition.values().map(|m| m.gamma_id.clone()).collect();
    tx.execute(
        "DELETE FROM market.gamma_rejects WHERE kind = 'market' AND gamma_id = ANY($1::text[])",
        &[&ids],
    )
    .await
    .map_err(DbError::query("clearing rejects of Gamma markets now read"))?;
    Ok(n)
}

async fn upsert_events(
    tx: &Transaction<'_>,
    events: &[GammaEvent],
    source: &str,
) -> Result<u64, GammaError> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut by_id: BTreeMap<&str, &GammaEvent> = BTreeMap::new();
    for e in events {
        by_id.insert(&e.id, e);
    }
    let rows: Vec<Value> = by_id
        .values()
        .map(|e| {
            json!({
                "event_id": e.id, "title": e.title, "slug": e.slug, "category": e.category,
                "tags": e.tags, "neg_risk": e.neg_risk, "end_date": e.end_date, "closed": e.closed,
            })
        })
        .collect();
    let doc = Value::Array(rows).to_string();
    // A record without a field (a market's nested event has no tags) keeps what is known.
    let n = tx
        .execute(
            "INSERT INTO market.gamma_events AS e (event_id, title, slug, category, tags, neg_risk, \
                 end_date, closed, source, fetched_at) \
             SELECT r.event_id, r.title, r.slug, r.category, r.tags, r.neg_risk, r.end_date, r.closed, \
                 $2, now() \
             FROM jsonb_to_recordset($1::text::jsonb) AS r(event_id text, title text, slug text, \
                 category text, tags text[], neg_risk boolean, end_date timestamptz, closed boolean) \
             ON CONFLICT (event_id) DO UPDATE SET \
                 title = coalesce(EXCLUDED.title, e.title), slug = coalesce(EXCLUDED.slug, e.slug), \
                 category = coalesce(EXCLUDED.category, e.category), \
                 tags = coalesce(EXCLUDED.tags, e.tags), \
                 neg_risk = coalesce(EXCLUDED.neg_risk, e.neg_risk), \
                 end_date = coalesce(EXCLUDED.end_date, e.end_date), \
                 closed = coalesce(EXCLUDED.closed, e.closed), \
                 source = EXCLUDED.source, fetched_at = EXCLUDED.fetched_at",
            &[&doc, &source],
        )
        .await
        .map_err(DbError::query("upserting Gamma events into market.gamma_events"))?;
    let ids: Vec<String> = by_id.keys().map(|k| k.to_string()).collect();
    tx.execute(
        "DELETE FROM market.gamma_rejects WHERE kind = 'event' AND gamma_id = ANY($1::text[])",
        &[&ids],
    )
    .await
    .map_err(DbError::query("clearing rejects of Gamma events now read"))?;
    Ok(n)
}

async fn store_rejects(
    tx: &Transaction<'_>,
    rejected: &[RecordError],
    source: &str,
) -> Result<(), GammaError> {
    if rejected.is_empty() {
        return Ok(());
    }
    let mut by_key: BTreeMap<(&str, &str), &RecordError> = BTreeMap::new();
    for r in rejected {
        by_key.insert((r.kind, &r.id), r);
    }
    let rows: Vec<Value> = by_key
        .values()
        .map(|r| json!({"kind": r.kind, "gamma_id": r.id, "reason": r.reason, "record": r.record}))
        .collect();
    tx.execute(
        "INSERT INTO market.gamma_rejects AS x (kind, gamma_id, reason, record, source, seen_at) \
         SELECT r.kind, r.gamma_id, r.reason, r.record, $2, now() \
         FROM jsonb_to_recordset($1::text::jsonb) AS r(kind text, gamma_id text, reason text, record jsonb) \
         ON CONFLICT (kind, gamma_id) DO UPDATE SET reason = EXCLUDED.reason, record = EXCLUDED.record, \
             source = EXCLUDED.source, seen_at = EXCLUDED.seen_at",
        &[&Value::Array(rows).to_string(), &source],
    )
    .await
    .map_err(DbError::query("keeping rejected Gamma records in market.gamma_rejects"))?;
    Ok(())
}

async fn apply(tx: &Transaction<'_>, conditions: &[Word]) -> Result<Vec<Check>, GammaError> {
    if conditions.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<Vec<u8>> = conditions.iter().map(|c| c.to_vec()).collect();
    ids.sort();
    ids.dedup();
    let rows = tx
        .query("SELECT * FROM market.apply_gamma($1::bytea[])", &[&ids])
        .await
        .map_err(DbError::query(
            "cross-checking Gamma token ids (market.apply_gamma; is the database migrated? run `orderflow migrate`)",
        ))?;
    let checks: Vec<Check> = rows
        .iter()
        .map(|r| Check {
            condition_id: hex::encode(&r.get::<_, Vec<u8>>(0)),
            result: r.get(1),
            source: r.get(2),
            detail: r.get(3),
        })
        .collect();
    for c in checks.iter().filter(|c| c.result == "mismatch") {
        tracing::warn!(target: "orderflow::gamma", market = %c.condition_id,
                       "Gamma token ids disagree with the chain: {}",
                       c.detail.as_deref().unwrap_or(""));
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_subgraph_vectors() {
        // polymarket-subgraph tests/getPositionId.test.ts: a standard (USDC.e) market and a
        // neg-risk (WrappedCollateral) one.
        let c = hex::decode_fixed::<32>(
            "0xfc690d5069b296bb9278af0cba42c02666e0999e4a4009ed97ea4a885f045457",
        )
        .unwrap();
        assert_eq!(
            derived_token_ids(&c, false, 2),
            [
                "73716170047628147940237270507900673332129573201293655532643868111690843426372",
                "2890213445014127424511466931609154310536269586265875141655148162320150952197"
            ]
        );
        let c = hex::decode_fixed::<32>(
            "0xbf5ba08b3a0c4dd741f00759282e38e9bfa9ad59aa623ed13d26a8786c1e5afc",
        )
        .unwrap();
        assert_eq!(
            derived_token_ids(&c, true, 2),
            [
                "84121562275746951169805992721206824933074826856805500029198362509460400440947",
                "6492254133524731704185750998715576231739345323060925006131340263114065023619"
            ]
        );
    }
}
