//! Keeping labels fresh while the indexer runs: conditions newly seen on chain are looked up on
//! Gamma in batches, on an interval. A failing Gamma (or database) is logged and retried next
//! cycle; it never stops the service that runs the refresher.

use std::{collections::HashSet, fmt, future::Future, time::Duration};

use serde_json::Value;
use tokio_postgres::Client;

use super::{
    client::{Closed, GammaClient},
    record::{self, GammaMarket, Record},
    store::{Check, Source, Store},
    GammaError,
};
use crate::{
    chain::{hex, log::Word},
    db::{self, DbError},
};

/// How the refresher runs.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Time between cycles.
    pub interval: Duration,
    /// Conditions per Gamma request (they travel in the query string).
    pub chunk: usize,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        RefreshOptions {
            interval: Duration::from_secs(300),
            chunk: 50,
        }
    }
}

/// What one cycle did.
#[derive(Debug, Default, Clone)]
pub struct RefreshReport {
    /// Conditions asked about.
    pub asked: usize,
    /// Of those, found on Gamma and stored.
    pub found: usize,
    /// Events fetched for their tags and categories.
    pub events: u64,
    /// Markets whose token ids were checked again because the chain has now shown them.
    pub rechecked: usize,
    /// Cross-check verdicts that were mismatches.
    pub mismatches: Vec<Check>,
    /// Records rejected.
    pub rejected: usize,
}

impl fmt::Display for RefreshReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "asked Gamma about {} new condition(s), {} found; {} event(s); {} rechecked against the chain; {} mismatch(es); {} rejected",
            self.asked,
            self.found,
            self.events,
            self.rechecked,
            self.mismatches.len(),
            self.rejected
        )
    }
}

/// One cycle: look up conditions the chain has shown but Gamma's tables lack (newest first,
/// `gamma_lookup_batch` of them), fetch the events of what was found, and re-check markets the
/// chain has shown since their labels were stored.
pub async fn refresh_once(
    db: &mut Client,
    gamma: &GammaClient,
    opts: &RefreshOptions,
) -> Result<RefreshReport, GammaError> {
    let mut report = RefreshReport::default();
    let rows = db
        .query(
            "SELECT t.condition_id FROM market.tokens t \
             WHERE NOT EXISTS (SELECT 1 FROM market.gamma_markets g WHERE g.condition_id = t.condition_id) \
               AND NOT EXISTS (SELECT 1 FROM market.gamma_lookups l \
                               WHERE l.condition_id = t.condition_id AND l.next_try_at > now()) \
             GROUP BY t.condition_id ORDER BY max(t.block_number) DESC \
             LIMIT strategy.param('gamma_lookup_batch')::integer",
            &[],
        )
        .await
        .map_err(DbError::query("finding conditions without Gamma labels"))?;
    let due: Vec<Word> = rows
        .iter()
        .filter_map(|r| r.get::<_, Vec<u8>>(0).try_into().ok())
        .collect();
    report.asked = due.len();
    let mut event_ids: Vec<String> = Vec::new();
    for chunk in due.chunks(opts.chunk.max(1)) {
        let mut missing: HashSet<Word> = chunk.iter().copied().collect();
        let mut found = Vec::new();
        // Gamma's /markets answers open markets unless asked for closed ones: ask both ways.
        for closed in [Closed::Open, Closed::Closed] {
            if missing.is_empty() {
                break;
            }
            let ids: Vec<String> = missing.iter().map(|c| hex::encode(c)).collect();
            let page = gamma.markets_by_condition(&ids, closed).await?;
            let (markets, rejected) = only_asked(&page, &missing);
            report.rejected += rejected.len();
            for m in &markets {
                missing.remove(&m.condition_id);
                if let Some(e) = &m.event {
                    event_ids.push(e.id.clone());
                }
            }
            found.extend(markets.iter().map(|m| m.condition_id));
            let stored = Store::new(db, Source::Api)
                .write_page(
                    markets
                        .into_iter()
                        .map(Ok)
                        .chain(rejected.into_iter().map(Err))
                        .collect(),
                    Vec::new(),
                    false,
                )
                .await?;
            report
                .mismatches
                .extend(stored.checks.into_iter().filter(|c| c.result == "mismatch"));
        }
        report.found += found.len();
        let (found_ids, missing_ids): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (
            found.iter().map(|c| c.to_vec()).collect(),
            missing.iter().map(|c| c.to_vec()).collect(),
        );
        db.execute(
            "INSERT INTO market.gamma_lookups AS l (condition_id, attempts, found, last_tried_at, next_try_at) \
             SELECT c, 1, f, now(), CASE WHEN f THEN 'infinity'::timestamptz \
                 ELSE now() + make_interval(secs => strategy.param('gamma_lookup_retry_secs')) END \
             FROM (SELECT unnest($1::bytea[]) AS c, true AS f \
                   UNION ALL SELECT unnest($2::bytea[]), false) s \
             ON CONFLICT (condition_id) DO UPDATE SET attempts = l.attempts + 1, found = EXCLUDED.found, \
                 last_tried_at = now(), \
                 next_try_at = CASE WHEN EXCLUDED.found THEN 'infinity'::timestamptz \
                     ELSE now() + make_interval(secs => least(86400, \
                         strategy.param('gamma_lookup_retry_secs') * 2 ^ least(l.attempts, 20))) END",
            &[&found_ids, &missing_ids],
        )
        .await
        .map_err(DbError::query("recording Gamma lookups"))?;
    }

    // Events of the markets found, for categories and tags (a market record nests its event
    // without tags). Only those not known with tags yet.
    event_ids.sort();
    event_ids.dedup();
    if !event_ids.is_empty() {
        let rows = db
            .query(
                "SELECT id FROM unnest($1::text[]) id WHERE NOT EXISTS \
                 (SELECT 1 FROM market.gamma_events e WHERE e.event_id = id AND e.tags IS NOT NULL)",
                &[&event_ids],
            )
            .await
            .map_err(DbError::query("finding Gamma events without tags"))?;
        let todo: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        for chunk in todo.chunks(opts.chunk.max(1)) {
            let page = gamma.events_by_id(chunk).await?;
            let events: Vec<_> = page
                .iter()
                .flat_map(record::records)
                .filter_map(|r| match r {
                    Record::Event(e) => Some(e),
                    Record::Market(_) => None,
                })
                .collect();
            let stored = Store::new(db, Source::Api)
                .write_page(Vec::new(), events, false)
                .await?;
            report.events += stored.events;
            report.rejected += stored.rejected.len();
        }
    }

    // Markets labelled before the chain showed their condition were checked against derived
    // token ids; check them against the chain's now.
    let rows = db
        .query(
            "SELECT g.condition_id FROM market.gamma_markets g \
             WHERE g.token_check_source IS DISTINCT FROM 'chain' AND g.clob_token_ids IS NOT NULL \
               AND EXISTS (SELECT 1 FROM market.tokens t WHERE t.condition_id = g.condition_id) \
             LIMIT 5000",
            &[],
        )
        .await
        .map_err(DbError::query(
            "finding Gamma markets to check against the chain",
        ))?;
    let recheck: Vec<Word> = rows
        .iter()
        .filter_map(|r| r.get::<_, Vec<u8>>(0).try_into().ok())
        .collect();
    if !recheck.is_empty() {
        let checks = Store::new(db, Source::Api).reapply(&recheck).await?;
        report.rechecked = checks.len();
        report
            .mismatches
            .extend(checks.into_iter().filter(|c| c.result == "mismatch"));
    }
    Ok(report)
}

/// Markets of a lookup answer whose condition was asked about (a server that ignores the
/// filter must not make us store the whole listing), and the records that could not be read.
fn only_asked(
    page: &[Value],
    asked: &HashSet<Word>,
) -> (Vec<GammaMarket>, Vec<record::RecordError>) {
    let mut markets = Vec::new();
    let mut rejected = Vec::new();
    for r in page.iter().flat_map(record::records) {
        match r {
            Record::Market(Ok(m)) if asked.contains(&m.condition_id) => markets.push(m),
            Record::Market(Ok(_)) | Record::Event(_) => {}
            Record::Market(Err(e)) => rejected.push(e),
        }
    }
    (markets, rejected)
}

/// Runs [`refresh_once`] every `opts.interval` until `shutdown` completes. Errors are logged
/// and the next cycle tries again (with a fresh database connection after a database error);
/// this function itself never fails, so a service can run it beside its real work.
pub async fn run_refresher(
    database_url: String,
    gamma: GammaClient,
    opts: RefreshOptions,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut client: Option<Client> = None;
    tracing::info!(target: "orderflow::gamma::refresh", url = %gamma.url(),
                   every_secs = opts.interval.as_secs(), "label refresher started");
    loop {
        let cycle = async {
            if client.as_ref().map_or(true, |c| c.is_closed()) {
                client = Some(db::connect(&database_url).await?);
            }
            let c = client.as_mut().expect("connected above");
            refresh_once(c, &gamma, &opts).await
        };
        tokio::select! {
            r = cycle => match r {
                Ok(r) if r.asked > 0 || r.rechecked > 0 || !r.mismatches.is_empty() => {
                    tracing::info!(target: "orderflow::gamma::refresh", "{r}");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "orderflow::gamma::refresh", error = %e,
                                   "label refresh failed; indexing goes on, retrying next cycle");
                    if matches!(e, GammaError::Db(_)) {
                        client = None;
                    }
                }
            },
            _ = &mut shutdown => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.interval) => {}
            _ = &mut shutdown => break,
        }
    }
    tracing::info!(target: "orderflow::gamma::refresh", "label refresher stopped");
}
