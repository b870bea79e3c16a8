//! `orderflow markets sync` (page through Gamma's markets, then its events) and
//! `orderflow markets import FILE` (the same records from a saved JSON file).

use std::{fmt, future::Future, path::Path, time::Instant};

use serde_json::Value;
use tokio_postgres::Client;

use super::{
    client::{Closed, GammaClient},
    record::{self, Record},
    store::{Check, Source, Store, StoreReport},
    GammaError,
};

/// What a sync fetches.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Records per page (`limit`).
    pub page_size: usize,
    /// Also page through closed markets and events (the history); Gamma lists only open ones
    /// unless asked.
    pub include_closed: bool,
    /// Also page through events, for categories and tags.
    pub events: bool,
    /// Stop each listing after this many pages (None: until an empty page).
    pub max_pages: Option<usize>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            page_size: 500,
            include_closed: true,
            events: true,
            max_pages: None,
        }
    }
}

/// What a sync or an import did.
#[derive(Debug, Default, Clone)]
pub struct SyncSummary {
    /// Pages fetched (or documents read from a file).
    pub pages: u64,
    /// Everything stored, rejected and checked.
    pub stored: StoreReport,
    /// HTTP requests (retries included).
    pub requests: u64,
    /// Retries after 429, 5xx or transport errors.
    pub retries: u64,
    /// Stopped early by a shutdown request.
    pub interrupted: bool,
    /// Seconds taken.
    pub secs: f64,
}

impl SyncSummary {
    /// Checks with this verdict.
    pub fn checks(&self, result: &str) -> impl Iterator<Item = &Check> {
        let result = result.to_owned();
        self.stored
            .checks
            .iter()
            .filter(move |c| c.result == result)
    }
}

impl fmt::Display for SyncSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A market is checked again when its event links it; count each condition once, last
        // verdict wins.
        let mut last = std::collections::BTreeMap::new();
        for c in &self.stored.checks {
            last.insert(c.condition_id.as_str(), c);
        }
        let count = |r: &str| last.values().filter(|c| c.result == r).count();
        write!(
            f,
            "{} market(s) and {} event(s) stored from {} page(s) in {:.1} s ({} request(s), {} retried); \
             token ids vs chain: {} ok, {} mismatch, {} unchecked; {} record(s) rejected{}",
            self.stored.markets,
            self.stored.events,
            self.pages,
            self.secs,
            self.requests,
            self.retries,
            count("ok"),
            count("mismatch"),
            count("unchecked"),
            self.stored.rejected.len(),
            if self.interrupted { " (interrupted)" } else { "" }
        )?;
        for c in last.values().filter(|c| c.result == "mismatch").take(20) {
            write!(
                f,
                "\n  MISMATCH {}: {}",
                c.condition_id,
                c.detail.as_deref().unwrap_or("")
            )?;
        }
        for r in self.stored.rejected.iter().take(20) {
            write!(f, "\n  REJECTED {r}")?;
        }
        let more = self.stored.rejected.len().saturating_sub(20);
        if more > 0 {
            write!(f, "\n  … {more} more in market.gamma_rejects")?;
        }
        Ok(())
    }
}

/// Pages through Gamma's markets (open, then closed) and events, upserting each page in its
/// own transaction. Stops between pages when `shutdown` completes.
pub async fn sync(
    db: &mut Client,
    gamma: &GammaClient,
    opts: &SyncOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<SyncSummary, GammaError> {
    let started = Instant::now();
    let mut summary = SyncSummary::default();
    let (req0, retry0) = counters(gamma);
    tokio::pin!(shutdown);
    let limit = opts.page_size.max(1);
    let mut listings = vec![(false, Closed::Open)];
    if opts.include_closed {
        listings.push((false, Closed::Closed));
    }
    if opts.events {
        listings.push((true, Closed::Open));
        if opts.include_closed {
            listings.push((true, Closed::Closed));
        }
    }
    'listings: for (events, closed) in listings {
        let mut offset = 0;
        let mut pages = 0;
        loop {
            if opts.max_pages.is_some_and(|m| pages >= m) {
                break;
            }
            let fetch = async {
                if events {
                    gamma.events_page(limit, offset, closed).await
                } else {
                    gamma.markets_page(limit, offset, closed).await
                }
            };
            let page = tokio::select! {
                page = fetch => page?,
                _ = &mut shutdown => { summary.interrupted = true; break 'listings; }
            };
            if page.is_empty() {
                break;
            }
            pages += 1;
            summary.pages += 1;
            // Gamma may answer fewer than asked; the next page starts after what came.
            offset += page.len();
            let report = write_values(db, &page, Source::Api, false).await?;
            tracing::info!(target: "orderflow::gamma",
                           listing = if events { "events" } else { "markets" },
                           closed = closed == Closed::Closed, offset,
                           markets = report.markets, events = report.events,
                           rejected = report.rejected.len(), "page stored");
            summary.stored.absorb(report);
        }
    }
    let (req1, retry1) = counters(gamma);
    summary.requests = req1 - req0;
    summary.retries = retry1 - retry0;
    summary.secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn counters(gamma: &GammaClient) -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (
        gamma.stats.requests.load(Relaxed),
        gamma.stats.retries.load(Relaxed),
    )
}

/// Stores the records of one JSON value (a page, a saved file, a line).
pub async fn write_values(
    db: &mut Client,
    values: &[Value],
    source: Source,
    nested_markets: bool,
) -> Result<StoreReport, GammaError> {
    let mut markets = Vec::new();
    let mut events = Vec::new();
    for v in values {
        for r in record::records(v) {
            match r {
                Record::Market(m) => markets.push(m),
                Record::Event(e) => events.push(e),
            }
        }
    }
    Store::new(db, source)
        .write_page(markets, events, nested_markets)
        .await
}

/// Records per write transaction when importing a file.
const IMPORT_CHUNK: usize = 500;

/// Loads Gamma records from a saved file: one JSON document (an array of markets or events,
/// an array of saved pages, or an object wrapping them), or JSON lines (one page or record a
/// line). Events' nested markets are stored as markets.
pub async fn import_file(db: &mut Client, path: &Path) -> Result<SyncSummary, GammaError> {
    let started = Instant::now();
    let text = std::fs::read_to_string(path).map_err(|source| GammaError::File {
        path: path.display().to_string(),
        source,
    })?;
    let docs: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(v) => vec![v],
        Err(whole) => {
            let mut docs = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v = serde_json::from_str(line).map_err(|e| GammaError::FileFormat {
                    path: path.display().to_string(),
                    detail: if i == 0 {
                        format!("neither one JSON document ({whole}) nor JSON lines ({e})")
                    } else {
                        format!("line {}: {e}", i + 1)
                    },
                })?;
                docs.push(v);
            }
            docs
        }
    };
    let mut summary = SyncSummary::default();
    for doc in docs {
        summary.pages += 1;
        // Split big documents so that no transaction holds a whole history.
        let items: Vec<Value> = match doc {
            Value::Array(items) => items,
            other => vec![other],
        };
        for chunk in items.chunks(IMPORT_CHUNK) {
            let report = write_values(db, chunk, Source::File, true).await?;
            summary.stored.absorb(report);
        }
    }
    summary.secs = started.elapsed().as_secs_f64();
    Ok(summary)
}
