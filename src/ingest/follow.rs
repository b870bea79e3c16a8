//! `indexer --rpc-url`: backfill history from a JSON-RPC node, then follow the head.
//!
//! Two regimes, one cursor:
//! - **deep** (more than the reorg window below the head): `eth_getLogs` over adaptive ranges,
//!   several in flight, results applied in block order; each write moves the cursor to the end
//!   of the last complete range it holds, in the same transaction.
//! - **head** (within the reorg window): block headers are read too. A new block whose parent
//!   hash differs from the one we recorded is a reorg: we find the fork point against the node,
//!   unwind everything above it in one transaction, and read the blocks again. Logs whose block
//!   hash disagrees with the header we just read mean the chain moved under us: we read again.
//!
//! A WebSocket `newHeads` subscription, when given, only wakes the loop early; polling carries
//! on underneath, so a dropped connection costs latency, never data.

use std::{
    collections::{BTreeMap, VecDeque},
    future::Future,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};
use thiserror::Error;
use tokio::sync::Notify;

use super::{
    batch::{Batch, TokenDeriver},
    import::Progress,
    writer::{RecentBlocks, WriteReport, Writer},
};
use crate::{
    chain::{events, Contracts, RawLog},
    db::DbError,
    metrics::Metrics,
    rpc::{ws::HeadStream, Header, LogFilter, RpcClient, RpcError, RpcUrl},
};

/// Errors that stop the follower.
#[derive(Debug, Error)]
pub enum FollowError {
    /// The node failed past all retries.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Options that cannot work together.
    #[error("bad options: {0}")]
    Options(String),
}

/// How to follow the chain.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// First block to index when the cursor is behind it (or absent).
    pub from_block: u64,
    /// Stop after this block; `None` follows the head for ever.
    pub to_block: Option<u64>,
    /// Blocks to stay behind the head.
    pub confirmations: u64,
    /// Cursor name in chain.cursor.
    pub cursor: String,
    /// eth_getLogs requests in flight during backfill.
    pub concurrency: usize,
    /// First eth_getLogs range, in blocks.
    pub initial_span: u64,
    /// Largest eth_getLogs range.
    pub max_span: u64,
    /// Logs per eth_getLogs answer the range adapts towards.
    pub target_logs: u64,
    /// Logs per write transaction during backfill.
    pub batch_logs: u64,
    /// How often to ask for the head when no WebSocket wakes us.
    pub poll_interval: Duration,
    /// `newHeads` WebSocket endpoint.
    pub ws_url: Option<String>,
    /// Blocks below the head whose hashes are checked for reorgs.
    pub reorg_window: u64,
    /// Which contracts to read.
    pub contracts: Contracts,
    /// Progress display during backfill.
    pub progress: Progress,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            from_block: 0,
            to_block: None,
            confirmations: 0,
            cursor: "indexer".into(),
            concurrency: 4,
            initial_span: 1_000,
            max_span: 100_000,
            target_logs: 5_000,
            batch_logs: 20_000,
            poll_interval: Duration::from_secs(2),
            ws_url: None,
            reorg_window: 128,
            contracts: Contracts::default(),
            progress: Progress::Quiet,
        }
    }
}

/// What a run did, and where its time went.
#[derive(Debug, Default, Clone)]
pub struct FollowSummary {
    /// First block indexed in this run.
    pub first_block: Option<u64>,
    /// The cursor at the end.
    pub cursor: Option<u64>,
    /// Logs read.
    pub logs: u64,
    /// Events stored (new rows).
    pub stored: u64,
    /// Logs already stored (a repeat after a crash).
    pub duplicates: u64,
    /// Reorgs unwound.
    pub reorgs: u64,
    /// Wall seconds.
    pub secs: f64,
    /// Seconds waiting on the node (summed over concurrent requests).
    pub rpc_wait_secs: f64,
    /// Seconds parsing JSON (summed over concurrent requests).
    pub parse_secs: f64,
    /// Seconds decoding logs into rows.
    pub decode_secs: f64,
    /// Seconds the loop waited for the next range to arrive.
    pub fetch_wait_secs: f64,
    /// Seconds in COPY / INSERT / COMMIT.
    pub copy_secs: f64,
    /// See `copy_secs`.
    pub insert_secs: f64,
    /// See `copy_secs`.
    pub commit_secs: f64,
    /// Seconds building the secondary indexes of partitions the backfill filled.
    pub index_secs: f64,
    /// Seconds the writer spent deriving the ledger and positions (flow.derive), or waiting
    /// for a derive running alongside to end.
    pub derive_secs: f64,
    /// Seconds of flow.derive on the writer's second connection, alongside the writes.
    pub derive_alongside_secs: f64,
    /// eth_getLogs requests and retries.
    pub requests: u64,
    /// See `requests`.
    pub retries: u64,
    /// Whether a shutdown request ended the run.
    pub interrupted: bool,
}

impl FollowSummary {
    fn add(&mut self, r: &WriteReport) {
        let offered: u64 = r.offered.values().sum();
        let inserted: u64 = r.inserted.values().sum();
        self.stored += inserted;
        self.duplicates += offered - inserted;
        self.copy_secs += r.copy_secs;
        self.insert_secs += r.insert_secs;
        self.commit_secs += r.commit_secs;
        self.index_secs += r.index_secs;
        self.derive_secs += r.derive_secs;
    }
}

impl std::fmt::Display for FollowSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = self.logs as f64 / self.secs.max(1e-9);
        write!(
            f,
            "{} logs in {:.1}s = {:.0} logs/s; {} events stored, {} already there, {} reorg(s); cursor at {}{}\n  \
             time: waiting for ranges {:.1}s (RPC wait {:.1}s, JSON parse {:.1}s, summed over {} requests, {} retries), \
             decode {:.1}s, COPY {:.1}s, insert {:.1}s, commit {:.1}s, indexing partitions {:.1}s, deriving positions {:.1}s (and {:.1}s alongside the writes)",
            self.logs,
            self.secs,
            rate,
            self.stored,
            self.duplicates,
            self.reorgs,
            self.cursor.map_or("-".into(), |c| c.to_string()),
            if self.interrupted { " (interrupted)" } else { "" },
            self.fetch_wait_secs,
            self.rpc_wait_secs,
            self.parse_secs,
            self.requests,
            self.retries,
            self.decode_secs,
            self.copy_secs,
            self.insert_secs,
            self.commit_secs,
            self.index_secs,
            self.derive_secs,
            self.derive_alongside_secs,
        )
    }
}

/// A shutdown flag that can also be awaited.
#[derive(Clone, Default)]
struct Stop {
    flag: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Stop {
    fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.requested() {
                return;
            }
            notified.await;
        }
    }
}

/// One eth_getLogs range, fetched.
struct Fetched {
    from: u64,
    to: u64,
    logs: Vec<RawLog>,
}

struct Follower<'w> {
    rpc: RpcClient,
    writer: &'w mut Writer,
    opts: FollowOptions,
    filter: LogFilter,
    metrics: Arc<Metrics>,
    stop: Stop,
    deriver: TokenDeriver,
    recent: BTreeMap<u64, Header>,
    next: u64,
    summary: FollowSummary,
    span: Arc<AtomicU64>,
}

/// Backfills from the cursor (or `from_block`) and follows the head until `to_block` or a
/// shutdown request; each batch commits with its cursor.
pub async fn follow(
    rpc: RpcClient,
    writer: &mut Writer,
    opts: FollowOptions,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<FollowSummary, FollowError> {
    if opts.concurrency == 0 || opts.initial_span == 0 || opts.max_span == 0 {
        return Err(FollowError::Options(
            "concurrency and range sizes must be at least 1".into(),
        ));
    }
    if let Some(to) = opts.to_block {
        if to < opts.from_block {
            return Err(FollowError::Options(format!(
                "--to-block {to} is below --from-block {}",
                opts.from_block
            )));
        }
    }
    let stop = Stop::default();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop.flag.store(true, Ordering::Relaxed);
            stop.notify.notify_waiters();
        });
    }
    metrics.with_rpc(rpc.stats.clone());
    let started = Instant::now();
    let cursor = writer.cursor(&opts.cursor).await?;
    let next = match cursor {
        Some(c) if c + 1 >= opts.from_block => c + 1,
        _ => opts.from_block,
    };
    if let Some(c) = cursor {
        tracing::info!(target: "indexer::follow", cursor = c, next, "resuming from the cursor");
    }
    let recent = writer.recent_blocks(0).await?;
    // What an earlier run stored and did not derive (a crash) is derived first.
    let mut derive_secs = writer.derive().await?;
    let mut f = Follower {
        filter: LogFilter {
            addresses: opts.contracts.addresses(),
            topics0: events::topics0(),
        },
        span: Arc::new(AtomicU64::new(opts.initial_span.min(opts.max_span))),
        rpc,
        writer,
        opts,
        metrics,
        stop,
        deriver: TokenDeriver::default(),
        recent,
        next,
        summary: FollowSummary {
            first_block: Some(next),
            cursor,
            ..Default::default()
        },
    };
    f.metrics
        .indexed_block
        .store(next.saturating_sub(1), Ordering::Relaxed);
    let mut result = f.run().await;
    if result.is_ok() {
        // The partitions a backfill filled get their secondary indexes, and whatever a stop or
        // the end of the range left queued is derived, before reporting.
        match f.writer.finish().await {
            Ok((index_secs, secs)) => {
                f.summary.index_secs += index_secs;
                derive_secs += secs;
            }
            Err(e) => result = Err(e.into()),
        }
    }
    f.summary.derive_secs += derive_secs;
    f.summary.derive_alongside_secs = f.writer.alongside_secs();
    f.summary.secs = started.elapsed().as_secs_f64();
    let stats = &f.rpc.stats;
    f.summary.rpc_wait_secs = stats.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9;
    f.summary.parse_secs = stats.parse_nanos.load(Ordering::Relaxed) as f64 / 1e9;
    f.summary.requests = stats.requests.load(Ordering::Relaxed);
    f.summary.retries = stats.retries.load(Ordering::Relaxed);
    f.summary.interrupted = f.stop.requested();
    result.map(|()| f.summary)
}

impl Follower<'_> {
    async fn run(&mut self) -> Result<(), FollowError> {
        let mut heads = Heads::new(self.opts.ws_url.clone());
        loop {
            if self.stop.requested() {
                return Ok(());
            }
            if self.opts.to_block.is_some_and(|t| self.next > t) {
                return Ok(());
            }
            let tip = match self.rpc.block_number().await {
                Ok(t) => t,
                Err(e) if self.opts.to_block.is_none() && e.is_retryable() => {
                    // A service outlives a provider outage: keep trying.
                    tracing::warn!(target: "indexer::follow", "{e}; trying again");
                    self.pause(self.opts.poll_interval).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.metrics.head_block.store(tip, Ordering::Relaxed);
            let safe = tip.saturating_sub(self.opts.confirmations);
            let end = self.opts.to_block.map_or(safe, |t| t.min(safe));
            if self.next <= end {
                let deep_end = safe.saturating_sub(self.opts.reorg_window);
                let at_head = self.next > deep_end.min(end);
                let step = if at_head {
                    self.head_step(self.next, end).await
                } else {
                    self.backfill(self.next, deep_end.min(end)).await
                };
                // At the head, and when a backfill reaches it, positions follow (in a
                // transaction of their own, after the events and their signals committed); at
                // the head a moment later, so the executor decides on the signals first.
                let step = match step {
                    Ok(()) => {
                        if at_head && self.writer.underived() > 0 {
                            self.pause(self.writer.head_delay()).await;
                        }
                        self.derive().await
                    }
                    e => e,
                };
                match step {
                    Ok(()) => continue,
                    Err(FollowError::Rpc(e))
                        if self.opts.to_block.is_none() && e.is_retryable() =>
                    {
                        tracing::warn!(target: "indexer::follow", "{e}; trying again from block {}", self.next);
                        self.pause(self.opts.poll_interval).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            heads.wait(self.opts.poll_interval, &self.stop).await;
        }
    }

    async fn pause(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.stop.wait() => {}
        }
    }

    fn progress_bar(&self, from: u64, to: u64) -> Option<ProgressBar> {
        if self.opts.progress != Progress::Bar || to < from + 1_000 {
            return None;
        }
        let bar = ProgressBar::new(to - from + 1);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} blocks {pos}/{len} [{bar:30}] {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Some(bar)
    }

    /// Reads [from, to] (all deeper than the reorg window) with ranges in flight, applying
    /// them in order and writing every `batch_logs` logs with the cursor.
    async fn backfill(&mut self, from: u64, to: u64) -> Result<(), FollowError> {
        tracing::info!(target: "indexer::backfill", from, to, "backfilling");
        // Deep history arrives in block order: new partitions are indexed once they are full.
        self.writer.set_bulk(true).await?;
        let bar = self.progress_bar(from, to);
        let mut planned = from;
        let mut inflight: VecDeque<tokio::task::JoinHandle<Result<Fetched, RpcError>>> =
            VecDeque::new();
        let mut batch = Batch::default();
        let mut batch_to: Option<u64>;
        let mut last_write = Instant::now();
        let mut last_log = Instant::now();
        // `concurrency` requests are kept in flight while this loop writes: ranges are planned
        // up to twice that far ahead and each request waits for one of `concurrency` permits,
        // so a request starts as soon as another one's answer arrives, not when this loop takes
        // that answer (against a node answering in 500 ms, a 1,000,000-fill backfill took
        // 53.7 s when a waiting answer held its request's place). Each task asks for its permit
        // only once the range planned before it has one, so permits go in planning order: the
        // range this loop waits for is never queued behind a later one.
        let permits = Arc::new(tokio::sync::Semaphore::new(self.opts.concurrency));
        let ahead = self.opts.concurrency.saturating_mul(2);
        let mut previous_started: Option<tokio::sync::oneshot::Receiver<()>> = None;
        let result = loop {
            while inflight.len() < ahead && planned <= to && !self.stop.requested() {
                let span = self.span.load(Ordering::Relaxed).max(1);
                let hi = planned.saturating_add(span - 1).min(to);
                let fetch = fetch_range(
                    self.rpc.clone(),
                    self.filter.clone(),
                    planned,
                    hi,
                    self.span.clone(),
                    self.opts.target_logs,
                    self.opts.max_span,
                );
                let permits = permits.clone();
                let after = previous_started.take();
                let (started, next) = tokio::sync::oneshot::channel();
                previous_started = Some(next);
                inflight.push_back(tokio::spawn(async move {
                    if let Some(after) = after {
                        // An error only means the range before was dropped: go on.
                        let _ = after.await;
                    }
                    let _permit = permits.acquire_owned().await;
                    let _ = started.send(());
                    fetch.await
                }));
                planned = hi + 1;
            }
            let Some(handle) = inflight.pop_front() else {
                break Ok(());
            };
            let waited = Instant::now();
            // Should the node keep the writer waiting, positions are derived meanwhile.
            let fetched = match self.writer.wait_for(handle).await {
                Ok(Ok(Ok(f))) => f,
                Ok(Ok(Err(e))) => break Err(FollowError::Rpc(e)),
                Ok(Err(e)) => break Err(FollowError::Options(format!("a fetch task failed: {e}"))),
                Err(e) => break Err(e.into()),
            };
            self.summary.fetch_wait_secs += waited.elapsed().as_secs_f64();
            let decoding = Instant::now();
            for log in &fetched.logs {
                if !log.removed {
                    batch.add(log, &self.opts.contracts, &mut self.deriver);
                }
            }
            self.summary.decode_secs += decoding.elapsed().as_secs_f64();
            self.summary.logs += fetched.logs.len() as u64;
            batch_to = Some(fetched.to);
            debug_assert!(fetched.from <= fetched.to);
            let done = inflight.is_empty() && planned > to;
            let stopping = self.stop.requested();
            if batch.logs >= self.opts.batch_logs
                || done
                || stopping
                || last_write.elapsed() > Duration::from_secs(2)
            {
                let full = std::mem::take(&mut batch);
                if let Some(b) = batch_to.take() {
                    self.commit(full, b, &[], None).await?;
                }
                last_write = Instant::now();
                if let Some(bar) = &bar {
                    bar.set_position(self.next - from);
                    bar.set_message(format!("{} logs", self.summary.logs));
                } else if last_log.elapsed() > Duration::from_secs(10) {
                    last_log = Instant::now();
                    tracing::info!(target: "indexer::backfill", block = self.next - 1, to, logs = self.summary.logs,
                        events_per_sec = self.metrics.events_per_sec() as u64, "progress");
                }
            }
            if stopping {
                break Ok(());
            }
        };
        for h in inflight {
            h.abort();
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        result
    }

    /// Folds what this run stored into the ledger and positions (flow.derive); nothing to do
    /// (a poll at the head that found no event) costs no statement.
    async fn derive(&mut self) -> Result<(), FollowError> {
        if self.writer.underived() == 0 {
            return Ok(());
        }
        let secs = self
            .writer
            .derive()
            .await
            .inspect_err(|_| self.metrics.error("db"))?;
        self.summary.derive_secs += secs;
        Ok(())
    }

    /// Writes a batch with the cursor at `to` and the recent headers, then advances.
    async fn commit(
        &mut self,
        batch: Batch,
        to: u64,
        headers: &[Header],
        keep_from: Option<u64>,
    ) -> Result<(), FollowError> {
        let logs = batch.logs;
        let started = Instant::now();
        let cursor = self.opts.cursor.clone();
        let r = self
            .writer
            .write(
                batch,
                Some((&cursor, to)),
                &RecentBlocks { headers, keep_from },
            )
            .await
            .inspect_err(|_| self.metrics.error("db"))?;
        let quarantined = r.inserted.get(&super::Table::BadLogs).copied().unwrap_or(0);
        self.summary.add(&r);
        self.metrics.batch(
            logs,
            r.inserted.values().sum(),
            quarantined,
            started.elapsed().as_nanos() as u64,
        );
        self.metrics.indexed_block.store(to, Ordering::Relaxed);
        self.summary.cursor = Some(to);
        self.next = to + 1;
        Ok(())
    }

    /// Reads [from, to] near the head with headers, checking the hash chain.
    async fn head_step(&mut self, from: u64, to: u64) -> Result<(), FollowError> {
        // At the head, signals and the executor read the fills through their indexes.
        let secs = self.writer.set_bulk(false).await?;
        self.summary.index_secs += secs;
        let hi = to.min(from + 499);
        let numbers: Vec<u64> = (from..=hi).collect();
        let headers = self.rpc.headers(&numbers).await?;
        if let Some(prev) = from.checked_sub(1).and_then(|p| self.recent.get(&p)) {
            if headers[0].parent_hash != prev.hash {
                return self.reorg(from - 1).await;
            }
        }
        if headers.windows(2).any(|w| w[1].parent_hash != w[0].hash) {
            tracing::debug!(target: "indexer::follow", from, hi, "headers moved while reading; reading again");
            return Ok(());
        }
        let mut logs = fetch_split(&self.rpc, &self.filter, from, hi, &self.span).await?;
        for log in &mut logs {
            let h = &headers[(log.block_number - from) as usize];
            if log.removed || log.block_hash.is_some_and(|b| b != h.hash) {
                tracing::debug!(target: "indexer::follow", block = log.block_number, "logs from another fork; reading again");
                return Ok(());
            }
            log.block_hash = Some(h.hash);
            log.block_timestamp.get_or_insert(h.timestamp);
        }
        // Have the node confirm the headers still stand now that the logs are read.
        let last = self.rpc.headers(&[hi]).await?;
        if last[0].hash != headers[headers.len() - 1].hash {
            return Ok(());
        }
        let mut batch = Batch::default();
        let decoding = Instant::now();
        for log in &logs {
            batch.add(log, &self.opts.contracts, &mut self.deriver);
        }
        self.summary.decode_secs += decoding.elapsed().as_secs_f64();
        self.summary.logs += logs.len() as u64;
        let keep_from = hi.saturating_sub(self.opts.reorg_window);
        self.commit(batch, hi, &headers, Some(keep_from)).await?;
        for h in headers {
            self.recent.insert(h.number, h);
        }
        self.recent = self.recent.split_off(&keep_from);
        Ok(())
    }

    /// Block `at` (which we hold) is no longer on the node's chain: find the fork point, unwind
    /// above it, and continue from there.
    async fn reorg(&mut self, at: u64) -> Result<(), FollowError> {
        let lowest = self.recent.keys().next().copied().unwrap_or(at);
        let numbers: Vec<u64> = (lowest..=at).collect();
        let canonical = self.rpc.headers(&numbers).await?;
        let fork = canonical
            .iter()
            .rev()
            .find(|h| self.recent.get(&h.number).is_some_and(|r| r.hash == h.hash))
            .map(|h| h.number);
        let fork = match fork {
            Some(f) => f,
            None => {
                tracing::error!(target: "indexer::follow", lowest, at,
                    "reorg deeper than the {}-block window; unwinding to block {}", self.opts.reorg_window, lowest.saturating_sub(1));
                lowest.saturating_sub(1)
            }
        };
        let rows = self
            .writer
            .unwind(fork)
            .await
            .inspect_err(|_| self.metrics.error("db"))?;
        self.recent = {
            let mut r = std::mem::take(&mut self.recent);
            r.split_off(&(fork + 1));
            r
        };
        self.deriver = TokenDeriver::default();
        self.next = fork + 1;
        self.summary.reorgs += 1;
        self.summary.cursor = Some(fork);
        self.metrics.reorgs.fetch_add(1, Ordering::Relaxed);
        self.metrics.reorg_rows.fetch_add(rows, Ordering::Relaxed);
        self.metrics.indexed_block.store(fork, Ordering::Relaxed);
        tracing::warn!(target: "indexer::follow", depth = at - fork, fork, rows, "reorg: unwound and reading again");
        Ok(())
    }
}

/// eth_getLogs over [from, to], split in halves while the provider refuses the size.
async fn fetch_split(
    rpc: &RpcClient,
    filter: &LogFilter,
    from: u64,
    to: u64,
    span: &AtomicU64,
) -> Result<Vec<RawLog>, RpcError> {
    let mut pending = vec![(from, to)];
    let mut out = Vec::new();
    // Depth-first, lower half first, so `out` stays in block order.
    while let Some((lo, hi)) = pending.pop() {
        match rpc.get_logs(filter, lo, hi).await {
            Ok(logs) => out.extend(logs),
            Err(e) if e.is_range_too_large() && hi > lo => {
                let mid = lo + (hi - lo) / 2;
                span.fetch_min((hi - lo).div_ceil(2).max(1), Ordering::Relaxed);
                tracing::debug!(target: "indexer::backfill", lo, hi, "range refused; splitting");
                pending.push((mid + 1, hi));
                pending.push((lo, mid));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// One backfill range: logs (split as needed), timestamps filled from headers when the node
/// leaves them out, and the next range size adapted towards `target` logs.
async fn fetch_range(
    rpc: RpcClient,
    filter: LogFilter,
    from: u64,
    to: u64,
    span: Arc<AtomicU64>,
    target: u64,
    max_span: u64,
) -> Result<Fetched, RpcError> {
    let mut logs = fetch_split(&rpc, &filter, from, to, &span).await?;
    let width = to - from + 1;
    let n = logs.len() as u64;
    // Aim the next ranges at `target` logs, moving at most 2x per answer.
    let ideal = if n == 0 {
        width * 2
    } else {
        (width as u128 * target as u128 / n as u128) as u64
    };
    let next = ideal
        .clamp((width / 2).max(1), width * 2)
        .clamp(1, max_span);
    span.store(next, Ordering::Relaxed);
    let mut missing: Vec<u64> = logs
        .iter()
        .filter(|l| l.block_timestamp.is_none())
        .map(|l| l.block_number)
        .collect();
    missing.dedup();
    if !missing.is_empty() {
        let headers = rpc.headers(&missing).await?;
        let by_number: BTreeMap<u64, Header> = headers.into_iter().map(|h| (h.number, h)).collect();
        for l in &mut logs {
            if let Some(h) = by_number.get(&l.block_number) {
                l.block_timestamp.get_or_insert(h.timestamp);
                l.block_hash.get_or_insert(h.hash);
            }
        }
    }
    Ok(Fetched { from, to, logs })
}

/// Wakes the follow loop: on a WebSocket new head when connected, else after the poll
/// interval. Reconnects with backoff; the loop itself fills any gap from its cursor.
struct Heads {
    url: Option<RpcUrl>,
    stream: Option<HeadStream>,
    retry_at: Instant,
    backoff: Duration,
}

impl Heads {
    fn new(url: Option<String>) -> Self {
        Heads {
            url: url.and_then(|u| match RpcUrl::parse(&u) {
                Ok(u) => Some(u),
                Err(e) => {
                    tracing::error!(target: "indexer::ws", "{e}; polling only");
                    None
                }
            }),
            stream: None,
            retry_at: Instant::now(),
            backoff: Duration::from_millis(500),
        }
    }

    async fn wait(&mut self, poll: Duration, stop: &Stop) {
        if let (Some(url), None) = (&self.url, &self.stream) {
            if Instant::now() >= self.retry_at {
                match HeadStream::connect(url).await {
                    Ok(s) => {
                        tracing::info!(target: "indexer::ws", url = %url, "subscribed to new heads");
                        self.stream = Some(s);
                        self.backoff = Duration::from_millis(500);
                        // Whatever arrived while we were away is read from the cursor now.
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(target: "indexer::ws", "{e}; polling every {:?} meanwhile", poll);
                        self.retry_at = Instant::now() + self.backoff;
                        self.backoff = (self.backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
        }
        match &mut self.stream {
            Some(s) => {
                // Polling goes on underneath at a slower pace, in case heads stop coming.
                tokio::select! {
                    h = s.next() => if h.is_none() {
                        tracing::warn!(target: "indexer::ws", "new-heads connection lost; polling and reconnecting");
                        self.stream = None;
                    },
                    _ = tokio::time::sleep(poll * 5) => {}
                    _ = stop.wait() => {}
                }
            }
            None => {
                // While a WebSocket is configured but down, wake for its next reconnect
                // attempt too: a successful reconnect reads the gap at once.
                let mut nap = poll;
                if self.url.is_some() {
                    nap = nap.min(self.retry_at.saturating_duration_since(Instant::now()));
                }
                tokio::select! {
                    _ = tokio::time::sleep(nap) => {}
                    _ = stop.wait() => {}
                }
            }
        }
    }
}
