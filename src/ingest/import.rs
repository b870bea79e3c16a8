//! `indexer import FILE|-`: stream a JSONL file of logs into Postgres in constant memory.
//! A parser thread reads, decodes and encodes batches while the writer commits the previous
//! one, so the two cores work at once.

use std::{
    collections::BTreeMap,
    fmt,
    future::Future,
    io::BufRead,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};

use super::{
    batch::{Batch, Table, TokenDeriver},
    writer::{RecentBlocks, Writer},
};
use crate::{
    chain::{Contracts, RawLog},
    db::DbError,
};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on the terminal.
    Bar,
    /// A log line every few seconds.
    Log,
    /// Nothing (tests, benchmarks).
    Quiet,
}

/// Options of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Logs per batch (one transaction each).
    pub batch_size: usize,
    /// Contracts whose logs are decoded.
    pub contracts: Contracts,
    /// Progress display.
    pub progress: Progress,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 20_000,
            contracts: Contracts::default(),
            progress: Progress::Quiet,
        }
    }
}

/// Lines not shown one by one after this many (they are still counted).
const BAD_LINES_SHOWN: u64 = 50;

/// The closing summary of an import.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportSummary {
    /// Lines read (including blank and bad ones).
    pub lines: u64,
    /// Lines that parsed as logs.
    pub logs_read: u64,
    /// Lines that were not a JSON log object (reported with their line numbers).
    pub bad_lines: u64,
    /// Logs of other contracts or of events not decoded.
    pub ignored: u64,
    /// Logs marked `removed: true` (retracted by a reorg), skipped.
    pub removed: u64,
    /// Newly stored events, by kind.
    pub stored: BTreeMap<&'static str, u64>,
    /// Events already present (re-imports), skipped.
    pub duplicates: u64,
    /// Logs quarantined in chain.bad_logs (bad shape for their topic0).
    pub quarantined: u64,
    /// Outcome tokens newly mapped to their market.
    pub tokens: u64,
    /// Batches committed.
    pub batches: u64,
    /// True when stopped by a signal before the end of the input.
    pub interrupted: bool,
    /// Seconds the writer waited for the parser (reading, JSON, decoding, encoding).
    pub wait_secs: f64,
    /// Seconds spent writing batches (COPY, INSERT, commit).
    pub write_secs: f64,
    /// Of which COPY into staging.
    pub copy_secs: f64,
    /// Of which INSERT … SELECT with its triggers.
    pub insert_secs: f64,
    /// Of which COMMIT.
    pub commit_secs: f64,
    /// Of which building the secondary indexes of the partitions the import filled.
    pub index_secs: f64,
    /// Seconds the writer spent deriving the ledger and positions from the stored events
    /// (flow.derive), or waiting for a derive running alongside to end.
    pub derive_secs: f64,
    /// Seconds of flow.derive on the second connection, alongside the writes.
    pub derive_alongside_secs: f64,
    /// Times the writer stopped between batches to derive what waited (`derive_every_rows`).
    pub derive_stops: u64,
}

impl ImportSummary {
    /// Events newly stored, all kinds.
    pub fn stored_total(&self) -> u64 {
        self.stored.values().sum()
    }

    fn add(&mut self, r: &super::WriteReport) {
        for (t, &n) in &r.inserted {
            let offered = r.offered.get(t).copied().unwrap_or(0);
            match t {
                Table::BadLogs => self.quarantined += offered,
                Table::Tokens => self.tokens += n,
                t if t.is_event() => {
                    *self.stored.entry(t.kind()).or_default() += n;
                    self.duplicates += offered - n;
                }
                _ => {}
            }
        }
        self.batches += 1;
        self.copy_secs += r.copy_secs;
        self.insert_secs += r.insert_secs;
        self.commit_secs += r.commit_secs;
        self.index_secs += r.index_secs;
        self.derive_secs += r.derive_secs;
        self.derive_stops += u64::from(r.stopped_to_derive);
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} import summary",
            if self.interrupted {
                "interrupted:"
            } else {
                "finished:"
            }
        )?;
        writeln!(f, "  lines read          {:>12}", self.lines)?;
        writeln!(f, "  logs read           {:>12}", self.logs_read)?;
        writeln!(f, "  events stored       {:>12}", self.stored_total())?;
        for (k, n) in self.stored.iter().filter(|(_, &n)| n > 0) {
            writeln!(f, "    {k:<28}{n:>10}")?;
        }
        writeln!(f, "  duplicates skipped  {:>12}", self.duplicates)?;
        writeln!(
            f,
            "  logs quarantined    {:>12}  (see chain.bad_logs)",
            self.quarantined
        )?;
        writeln!(f, "  lines not JSON logs {:>12}", self.bad_lines)?;
        writeln!(
            f,
            "  logs ignored        {:>12}  (other contracts or events)",
            self.ignored
        )?;
        if self.removed > 0 {
            writeln!(
                f,
                "  logs removed        {:>12}  (retracted by a reorg)",
                self.removed
            )?;
        }
        writeln!(f, "  tokens mapped       {:>12}", self.tokens)?;
        write!(
            f,
            "  time                {:>11.1}s  (writing {:.1}s: COPY {:.1}s, insert {:.1}s, commit {:.1}s, indexing partitions {:.1}s, deriving positions {:.1}s{}{}; waiting for the parser {:.1}s)",
            self.wait_secs + self.write_secs,
            self.write_secs,
            self.copy_secs,
            self.insert_secs,
            self.commit_secs,
            self.index_secs,
            self.derive_secs,
            match self.derive_stops {
                0 => String::new(),
                1 => " (1 stop between the writes, then at the end)".to_string(),
                n => format!(" ({n} stops between the writes, then at the end)"),
            },
            if self.derive_alongside_secs > 0.0 {
                format!(" (and {:.1}s alongside the writes)", self.derive_alongside_secs)
            } else {
                String::new()
            },
            self.wait_secs
        )
    }
}

/// Errors that stop an import (bad lines and bad logs do not).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the input failed.
    #[error("reading {input}: {source}")]
    Read {
        /// File name or "stdin".
        input: String,
        /// I/O error.
        source: std::io::Error,
    },
    /// Writing to Postgres failed; batches committed before stay committed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ImportError {
    /// True when running the import again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ImportError::Read { .. } => false,
            ImportError::Db(e) => e.is_retryable(),
        }
    }
}

struct Parsed {
    batch: Batch,
    lines: u64,
    bad_lines: u64,
    removed: u64,
}

/// Imports every log of `input` (named `name` in messages); `size` (bytes) drives the progress
/// bar. Stops after the current batch when `shutdown` completes.
pub async fn import<R, S>(
    input: R,
    name: &str,
    size: Option<u64>,
    writer: &mut Writer,
    opts: &ImportOptions,
    shutdown: S,
) -> Result<ImportSummary, ImportError>
where
    R: BufRead + Send + 'static,
    S: Future<Output = ()>,
{
    // History arrives in block order: new partitions are indexed once they are full.
    writer.set_bulk(true).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Parsed, std::io::Error>>(2);
    let stop = Arc::new(AtomicBool::new(false));
    let bytes_read = Arc::new(AtomicU64::new(0));
    let parser = {
        let (stop, bytes_read, opts) = (stop.clone(), bytes_read.clone(), opts.clone());
        std::thread::Builder::new()
            .name("import-parse".into())
            .spawn(move || parse(input, &opts, &stop, &bytes_read, tx))
            .expect("spawn parser thread")
    };

    let bar = progress_bar(opts.progress, size);
    let mut summary = ImportSummary::default();
    let started = Instant::now();
    let mut last_log = Instant::now();
    futures::pin_mut!(shutdown);
    let mut result = Ok(());
    loop {
        let waited = Instant::now();
        let next = tokio::select! {
            biased;
            _ = &mut shutdown => { summary.interrupted = true; break; }
            // Should the parser keep the writer waiting, positions are derived meanwhile.
            next = writer.wait_for(rx.recv()) => next,
        };
        summary.wait_secs += waited.elapsed().as_secs_f64();
        let next = match next {
            Ok(next) => next,
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        let parsed = match next {
            None => break,
            Some(Err(source)) => {
                result = Err(ImportError::Read {
                    input: name.to_owned(),
                    source,
                });
                break;
            }
            Some(Ok(p)) => p,
        };
        summary.lines += parsed.lines;
        summary.bad_lines += parsed.bad_lines;
        summary.removed += parsed.removed;
        summary.logs_read += parsed.batch.logs;
        summary.ignored += parsed.batch.ignored;
        if !parsed.batch.is_empty() {
            let writing = Instant::now();
            match writer.write(parsed.batch, None, &RecentBlocks::NONE).await {
                Ok(r) => summary.add(&r),
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
            summary.write_secs += writing.elapsed().as_secs_f64();
        }
        let msg = format!(
            "{} logs, {} events stored",
            summary.logs_read,
            summary.stored_total()
        );
        match &bar {
            Some(b) => {
                b.set_position(bytes_read.load(Ordering::Relaxed));
                b.set_message(msg);
            }
            None if opts.progress == Progress::Log
                && last_log.elapsed() > Duration::from_secs(5) =>
            {
                last_log = Instant::now();
                let rate = summary.logs_read as f64 / started.elapsed().as_secs_f64();
                tracing::info!(target: "indexer::import", logs = summary.logs_read, rate = rate as u64, "{msg}");
            }
            None => {}
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let _ = parser.join();
    if result.is_ok() {
        // The partitions the import filled get their secondary indexes, then what was stored is
        // derived before the import reports (also when interrupted: the derive is one short
        // transaction, and what it leaves queued would wait for the next).
        let deriving = Instant::now();
        match writer.finish().await {
            Ok((index_secs, derive_secs)) => {
                summary.index_secs += index_secs;
                summary.derive_secs += derive_secs;
            }
            Err(e) => result = Err(e.into()),
        }
        summary.write_secs += deriving.elapsed().as_secs_f64();
    }
    summary.derive_alongside_secs = writer.alongside_secs();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    result.map(|()| summary)
}

fn progress_bar(mode: Progress, size: Option<u64>) -> Option<ProgressBar> {
    if mode != Progress::Bar {
        return None;
    }
    let bar = match size {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} | {msg}",
            )
            .expect("template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec} | {msg}")
                .expect("template"),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

fn parse<R: BufRead>(
    mut input: R,
    opts: &ImportOptions,
    stop: &AtomicBool,
    bytes_read: &AtomicU64,
    tx: tokio::sync::mpsc::Sender<Result<Parsed, std::io::Error>>,
) {
    let mut deriver = TokenDeriver::default();
    let mut line = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let mut bad_total = 0u64;
    let mut cur = Parsed {
        batch: Batch::default(),
        lines: 0,
        bad_lines: 0,
        removed: 0,
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        line.clear();
        let n = match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        line_no += 1;
        cur.lines += 1;
        let text = match std::str::from_utf8(&line) {
            Ok(t) => t.trim(),
            Err(_) => {
                report_bad(line_no, "not UTF-8 text", &mut bad_total);
                cur.bad_lines += 1;
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        let log = match RawLog::from_json(text) {
            Ok(l) => l,
            Err(e) => {
                report_bad(line_no, &e.to_string(), &mut bad_total);
                cur.bad_lines += 1;
                continue;
            }
        };
        if log.removed {
            cur.removed += 1;
            continue;
        }
        cur.batch.add(&log, &opts.contracts, &mut deriver);
        if cur.batch.logs as usize >= opts.batch_size {
            let full = std::mem::replace(
                &mut cur,
                Parsed {
                    batch: Batch::default(),
                    lines: 0,
                    bad_lines: 0,
                    removed: 0,
                },
            );
            if tx.blocking_send(Ok(full)).is_err() {
                return;
            }
        }
    }
    let _ = tx.blocking_send(Ok(cur));
}

fn report_bad(line_no: u64, why: &str, shown: &mut u64) {
    *shown += 1;
    if *shown <= BAD_LINES_SHOWN {
        tracing::warn!(target: "indexer::import", line = line_no, "line {line_no} skipped: {why}");
    } else if *shown == BAD_LINES_SHOWN + 1 {
        tracing::warn!(target: "indexer::import", "more bad lines follow; only their count is reported");
    }
}
