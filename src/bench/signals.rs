//! `orderflow bench signals`: how fast new fills become signal rows, and signals decisions.
//!
//! In a scratch database it builds a world of markets (their ConditionPreparation logs, so
//! market.tokens is filled by the indexer's own token derivation), a score snapshot and a
//! history of `--history-blocks` blocks, then writes `--blocks` live blocks of
//! `--fills-per-block` fills, one every `--block-seconds` of wall time, each stamped with the
//! wall clock as its block time, through the indexer's `Writer::write` exactly as the head
//! follower commits a block (fills, block row, recent headers and cursor in one transaction),
//! so the `_700_signals` trigger fires as in production. The executor runs in-process
//! (`exec::run`, paper mode, the parameters' defaults), as its own task on its own connection.
//!
//! The score snapshot is inserted straight into flow.score_snapshots / flow.wallet_scores, the
//! rows strategy.make_signals reads, rather than derived from resolved positions by
//! flow.take_score_snapshot: which wallets sit above follow_min and below fade_max is then set
//! by `--skilled-share` and `--unskilled-share` (the defaults are the tails score_spread 1.15
//! gives, ~4% each), and the snapshot's cost is `bench scores`' subject, not this one's. It is
//! taken as of the history's last block, once the history is written, and starts the signal
//! trigger's kept panic sells there as flow.take_score_snapshot does for a new newest snapshot.
//!
//! What is timed (the bench adds a few triggers of its own to the scratch database; each
//! writes one row and costs some microseconds):
//! - fills-to-signal-row: the wall time of one `Writer::write` of one block, from the
//!   transaction's BEGIN to its COMMIT being acknowledged; when it returns, the block's signal
//!   rows exist for every other session. Its parts come from clock_timestamp() marks taken
//!   inside the transaction: before the fills' COPY, around `_700_signals` (statement triggers
//!   `_699_bench`, `_701_bench`) and just before COMMIT (a deferred constraint trigger on the
//!   cursor row).
//! - NOTIFY-to-decision, per signal: from the moment the block's COMMIT was acknowledged (the
//!   NOTIFY goes out at the end of that COMMIT; our clock is turned into the database's by the
//!   offset of the quickest of 20 round trips) to the last moment before the executor's
//!   decision transaction commits (a deferred constraint trigger on exec.decisions). It
//!   includes delivering the notification and the whole decision transaction, which decides
//!   every signal waiting when it starts (a block's signals together, in signal order), paper
//!   fills included for placed entries; not its own COMMIT.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use ethers::utils::keccak256;
use tokio_postgres::Client;

use super::{SynthFills, SynthShape, SYNTH_CUTOVER};
use crate::{
    chain::{Contracts, RawLog},
    db,
    exec::{self, Mode},
    ingest::{Batch, RecentBlocks, TokenDeriver, Writer},
    rpc::Header,
};

/// Options of `orderflow bench signals`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Live blocks written and timed.
    #[arg(long, default_value_t = 30)]
    pub blocks: u64,
    /// Fills a block: 1,500 is ten times Polymarket's live rate.
    #[arg(long, default_value_t = 1_500)]
    pub fills_per_block: u64,
    /// Wall-clock seconds between live blocks (Polygon makes one every 2 s); 0 writes them
    /// back to back.
    #[arg(long, default_value_t = 2.0)]
    pub block_seconds: f64,
    /// Blocks of history written before the live ones (300 covers the panic search's window).
    #[arg(long, default_value_t = 300)]
    pub history_blocks: u64,
    /// Markets traded (two outcome tokens each).
    #[arg(long, default_value_t = 500)]
    pub markets: usize,
    /// Wallets trading.
    #[arg(long, default_value_t = 20_000)]
    pub wallets: usize,
    /// Share of all wallets scoring at least follow_min (3 in 5 wallets are scored).
    #[arg(long, default_value_t = 0.04)]
    pub skilled_share: f64,
    /// Share of all wallets scoring at most fade_max.
    #[arg(long, default_value_t = 0.04)]
    pub unskilled_share: f64,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Name of the scratch database (dropped and created anew).
    #[arg(long, default_value = "orderflow_bench_signals")]
    pub db_name: String,
    /// Keep the scratch database afterwards.
    #[arg(long)]
    pub keep: bool,
}

/// First live block; the history lies just below it.
const LIVE_START: u64 = SYNTH_CUTOVER + 5_000_000;
/// History blocks per write, as a backfill batches them.
const HISTORY_CHUNK: u64 = 50;
/// The cursor the bench moves, like the indexer's.
const CURSOR: &str = "bench";
/// The paper account the in-process executor trades.
const ACCOUNT: &str = "bench";
/// Share of wallets in the score snapshot (the others have no resolved position yet).
const SCORED_SHARE: f64 = 0.6;
/// The goals (issue 5).
const FILLS_GOAL_MS: f64 = 50.0;
const DECISION_GOAL_MS: f64 = 5.0;

/// Timing marks, created in the scratch database only.
const INSTRUMENT: &str = "
CREATE SCHEMA bench;
-- One row per mark of an ingest transaction (block only on the pre-commit mark).
CREATE TABLE bench.marks (txid bigint NOT NULL, mark text NOT NULL, at timestamptz NOT NULL, block bigint);
-- Per decided signal: its decision transaction's start and its last moment before COMMIT.
CREATE TABLE bench.decided (signal_id bigint PRIMARY KEY, started timestamptz NOT NULL, at timestamptz NOT NULL);

CREATE FUNCTION bench.tg_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench.marks VALUES (txid_current(), TG_ARGV[0], clock_timestamp(), NULL);
    RETURN NULL;
END $$;
CREATE FUNCTION bench.tg_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench.marks VALUES (txid_current(), 'commit', clock_timestamp(), NEW.block_number);
    RETURN NULL;
END $$;
-- The first of a transaction's decision rows to fire marks all of the transaction's decided
-- signals at one moment; the others return at once. The mark costs a batch one statement, not
-- one insert for each of its decisions (which the later ones would wait for).
CREATE FUNCTION bench.tg_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('bench.decided_in', true) IS DISTINCT FROM txid_current()::text THEN
        PERFORM set_config('bench.decided_in', txid_current()::text, true);
        INSERT INTO bench.decided
        SELECT d.signal_id, now(), clock_timestamp() FROM exec.decisions d
        WHERE d.decided_at = now() AND d.signal_id IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER _000_bench BEFORE INSERT ON chain.order_filled
    FOR EACH STATEMENT EXECUTE FUNCTION bench.tg_mark('insert');
CREATE TRIGGER _699_bench AFTER INSERT ON chain.order_filled
    FOR EACH STATEMENT EXECUTE FUNCTION bench.tg_mark('signals');
CREATE TRIGGER _701_bench AFTER INSERT ON chain.order_filled
    FOR EACH STATEMENT EXECUTE FUNCTION bench.tg_mark('signals_done');
-- Deferred: fires at COMMIT, after every statement of the transaction.
CREATE CONSTRAINT TRIGGER bench_commit AFTER INSERT OR UPDATE ON chain.cursor
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench.tg_commit();
CREATE CONSTRAINT TRIGGER bench_decided AFTER INSERT ON exec.decisions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench.tg_decided();
";

/// Scores every scored wallet ($1, in random order) in a new snapshot as of block $2 (at its
/// time):
/// the first $3 at or above follow_min, the next $4 at or below fade_max, the rest between.
/// One wallet in fifty of the rest is labelled a market maker (scored high: never followed).
const SNAPSHOT: &str = "
WITH snap AS (
    INSERT INTO flow.score_snapshots (as_of_block, as_of_time, reason, wallets)
    SELECT $2, coalesce(max(block_time), now()), 'bench', cardinality($1::bytea[])
    FROM chain.blocks WHERE block_number = $2
    RETURNING snapshot_id
), w AS (
    SELECT wallet, i, ((i * 2654435761) % 1000) / 1000.0 AS u
    FROM unnest($1::bytea[]) WITH ORDINALITY AS x(wallet, i)
)
INSERT INTO flow.wallet_scores (snapshot_id, wallet, score, resolved_positions, win_component,
    profit_factor_component, consistency_component, confidence_component, early_entry_component,
    markets_traded, is_market_maker, is_wash_trader)
SELECT snap.snapshot_id, w.wallet,
       round(CASE WHEN w.i <= $3 THEN f.follow_min + u * (10 - f.follow_min)
                  WHEN w.i <= $3 + $4 THEN u * f.fade_max
                  WHEN w.i % 50 = 0 THEN 9
                  ELSE f.fade_max + 0.1 + u * (f.follow_min - f.fade_max - 0.2) END, 2),
       10 + w.i % 40, 0, 0, 0, 0, 0, 5 + w.i % 30, w.i > $3 + $4 AND w.i % 50 = 0, false
FROM snap, w,
     (SELECT strategy.param('follow_min') AS follow_min, strategy.param('fade_max') AS fade_max) f";

/// Per live block: wall ms of the write, then ms from the marks: COPY with rows and the
/// triggers before _700, _700_signals, the rest up to COMMIT; the signals it made.
const BLOCK_PARTS: &str = "
SELECT c.block,
       (extract(epoch FROM s.at - i.at) * 1e3)::float8,
       (extract(epoch FROM d.at - s.at) * 1e3)::float8,
       (extract(epoch FROM c.at - d.at) * 1e3)::float8,
       (extract(epoch FROM c.at - i.at) * 1e3)::float8,
       (SELECT count(*) FROM strategy.signals g WHERE g.block_number = c.block)
FROM bench.marks c
JOIN bench.marks i ON i.txid = c.txid AND i.mark = 'insert'
JOIN bench.marks s ON s.txid = c.txid AND s.mark = 'signals'
JOIN bench.marks d ON d.txid = c.txid AND d.mark = 'signals_done'
WHERE c.mark = 'commit' AND c.block >= $1
ORDER BY c.block";

/// Per decided live signal ($2, $3: each live block and the database clock, epoch seconds,
/// when its COMMIT was acknowledged): NOTIFY-to-decision ms, its wait and decision parts, its
/// outcome, and how many signals of its block came before it.
const SIGNAL_PARTS: &str = "
SELECT (extract(epoch FROM b.at)::float8 - a.at) * 1e3,
       (extract(epoch FROM b.started)::float8 - a.at) * 1e3,
       (extract(epoch FROM b.at - b.started) * 1e3)::float8,
       d.outcome,
       (row_number() OVER (PARTITION BY s.block_number ORDER BY s.signal_id) - 1)::bigint
FROM strategy.signals s
JOIN unnest($2::bigint[], $3::float8[]) AS a(block, at) ON a.block = s.block_number
JOIN bench.decided b ON b.signal_id = s.signal_id
JOIN exec.decisions d ON d.signal_id = s.signal_id AND d.kind = 'entry'
WHERE s.block_number >= $1
ORDER BY s.signal_id";

/// One live block's write.
struct Write {
    block: u64,
    fills: usize,
    /// Wall time of `Writer::write`.
    ms: f64,
    /// Of which the COMMIT, until acknowledged.
    commit_ms: f64,
    /// The database's clock when the COMMIT was acknowledged, epoch seconds.
    acked_at: f64,
    /// flow.derive after the block, as the head follower runs it (not part of the latency).
    derive_ms: f64,
}

/// min / median / p99 / max of a sample.
#[derive(Debug, Clone, Copy)]
struct Dist {
    n: usize,
    min: f64,
    median: f64,
    p99: f64,
    max: f64,
}

impl Dist {
    /// None for an empty sample. p99 is the nearest-rank 99th percentile.
    fn of(mut v: Vec<f64>) -> Option<Dist> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Dist {
            n: v.len(),
            min: v[0],
            median: rank(0.5),
            p99: rank(0.99),
            max: v[v.len() - 1],
        })
    }

    fn line(&self) -> String {
        format!(
            "min {:.2} / median {:.2} / p99 {:.2} / max {:.2} ms",
            self.min, self.median, self.p99, self.max
        )
    }

    fn short(&self) -> String {
        format!("median {:.2}, p99 {:.2} ms", self.median, self.p99)
    }
}

/// The machine's 1-minute load average and its cores, for judging the figures.
fn load() -> String {
    let avg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("load average {avg} on {cores} cores")
}

fn unix_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Seconds the database's clock is ahead of ours, from the quickest of a few round trips
/// (off by at most half of it).
async fn clock_offset(c: &Client) -> anyhow::Result<f64> {
    let mut best = (f64::MAX, 0.0);
    for _ in 0..20 {
        let before = unix_secs();
        let db: f64 = c
            .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
            .await?
            .get(0);
        let after = unix_secs();
        if after - before < best.0 {
            best = (after - before, db - (before + after) / 2.0);
        }
    }
    Ok(best.1)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The logs of the next block (all logs below `below` when given, for the markets' block).
fn take_block(
    logs: &mut std::iter::Peekable<SynthFills>,
    below: Option<u64>,
) -> Option<(u64, Vec<RawLog>)> {
    let first = logs.peek()?.block_number;
    let mut out = Vec::new();
    while let Some(l) = logs.next_if(|l| match below {
        Some(b) => l.block_number < b,
        None => l.block_number == first,
    }) {
        out.push(l);
    }
    Some((out.iter().map(|l| l.block_number).max()?, out))
}

/// Writes blocks as the head follower does: their logs, their headers and the cursor at the
/// last, in one `Writer::write`. Returns the wall time of the write, in ms, and the time
/// its COMMIT took to be acknowledged.
async fn write_blocks(
    writer: &mut Writer,
    deriver: &mut TokenDeriver,
    blocks: Vec<(u64, Vec<RawLog>)>,
    keep_from: u64,
) -> anyhow::Result<(f64, f64)> {
    let contracts = Contracts::default();
    let mut batch = Batch::default();
    let mut headers = Vec::new();
    let mut last = 0;
    for (n, logs) in &blocks {
        for l in logs {
            batch.add(l, &contracts, deriver);
        }
        headers.push(Header {
            number: *n,
            hash: keccak256(n.to_be_bytes()),
            parent_hash: keccak256((n - 1).to_be_bytes()),
            timestamp: logs.first().and_then(|l| l.block_timestamp).unwrap_or(0),
        });
        last = last.max(*n);
    }
    let t = Instant::now();
    let report = writer
        .write(
            batch,
            Some((CURSOR, last)),
            &RecentBlocks {
                headers: &headers,
                keep_from: Some(keep_from),
            },
        )
        .await?;
    Ok((t.elapsed().as_secs_f64() * 1e3, report.commit_secs * 1e3))
}

async fn count(c: &Client, sql: &str) -> anyhow::Result<i64> {
    Ok(c.query_one(sql, &[]).await?.get(0))
}

/// Runs the benchmark in the scratch database `opts.db_name`.
pub async fn run(opts: Options, admin_url: &str) -> anyhow::Result<()> {
    if opts.blocks == 0 || opts.fills_per_block == 0 {
        bail!("--blocks and --fills-per-block must be at least 1");
    }
    if opts.skilled_share < 0.0
        || opts.unskilled_share < 0.0
        || opts.skilled_share + opts.unskilled_share > SCORED_SHARE
    {
        bail!("--skilled-share and --unskilled-share must be shares of the wallets adding up to at most {SCORED_SHARE} (the share scored)");
    }
    let url = super::scratch_db(admin_url, &opts.db_name).await?;
    let mut c = db::connect(&url).await?;
    db::migrate(&mut c, &db::SqlDir::locate(None)).await?;
    c.batch_execute(INSTRUMENT)
        .await
        .context("adding the bench's timing triggers")?;
    let result = measure(&opts, &url, &c).await;
    drop(c);
    super::drop_scratch(admin_url, &opts.db_name, opts.keep).await?;
    result
}

async fn measure(opts: &Options, url: &str, c: &Client) -> anyhow::Result<()> {
    let history_start = LIVE_START - opts.history_blocks;
    let shape = SynthShape {
        markets: opts.markets.max(1),
        wallets: opts.wallets.max(1),
        per_block: opts.fills_per_block,
        start_block: history_start,
    };
    // A block more than needed: a match never straddles blocks, so blocks run a little over.
    let fills = (opts.history_blocks + opts.blocks + 1) * opts.fills_per_block;
    let synth = SynthFills::with_shape(fills, opts.seed, shape);
    let wallets: Vec<Vec<u8>> = synth.wallets().iter().map(|w| w.to_vec()).collect();
    let mut logs = synth.peekable();
    let mut writer = Writer::new(db::connect(url).await?).await?;
    let mut deriver = TokenDeriver::default();
    let window = writer.reorg_window().await?;

    // The markets, the history, then the score snapshot.
    let t = Instant::now();
    let markets = take_block(&mut logs, Some(history_start)).context("no markets generated")?;
    write_blocks(&mut writer, &mut deriver, vec![markets], 0).await?;
    // History, in backfill-sized writes, with block times running up to now; the freshness
    // parameter is set to 0 meanwhile so it makes no signals (as a backfill makes none).
    let max_age: f64 = c
        .query_one(
            "SELECT strategy.param('signal_max_age_seconds')::float8",
            &[],
        )
        .await?
        .get(0);
    c.batch_execute(
        "UPDATE strategy.parameters SET value = 0 WHERE name = 'signal_max_age_seconds'",
    )
    .await?;
    let now = unix_now();
    let mut chunk = Vec::new();
    while logs.peek().is_some_and(|l| l.block_number < LIVE_START) {
        let (n, mut block) = take_block(&mut logs, None).expect("peeked");
        let time = now.saturating_sub(2 * (LIVE_START - n));
        for l in &mut block {
            l.block_timestamp = Some(time);
        }
        chunk.push((n, block));
        if chunk.len() as u64 == HISTORY_CHUNK
            || logs.peek().map_or(true, |l| l.block_number >= LIVE_START)
        {
            write_blocks(
                &mut writer,
                &mut deriver,
                std::mem::take(&mut chunk),
                n.saturating_sub(window),
            )
            .await?;
        }
    }
    writer.derive().await?;
    c.execute(
        "UPDATE strategy.parameters SET value = $1::float8::numeric WHERE name = 'signal_max_age_seconds'",
        &[&max_age],
    )
    .await?;
    let scored = &wallets[..(wallets.len() as f64 * SCORED_SHARE) as usize];
    let skilled = (wallets.len() as f64 * opts.skilled_share).round() as i64;
    let unskilled = (wallets.len() as f64 * opts.unskilled_share).round() as i64;
    c.execute(
        SNAPSHOT,
        &[&scored, &(LIVE_START as i64 - 1), &skilled, &unskilled],
    )
    .await
    .context("inserting the score snapshot")?;
    // What flow.take_score_snapshot does for a new newest snapshot: the signal trigger's kept
    // panic sells start for it now, not in the first live block.
    c.execute(
        "SELECT strategy.start_panic_cover(snapshot_id, as_of_block, as_of_time)
         FROM flow.score_snapshots ORDER BY snapshot_id DESC LIMIT 1",
        &[],
    )
    .await
    .context("starting the kept panic sells")?;
    let row = c
        .query_one(
            "SELECT count(*) FILTER (WHERE score >= strategy.param('follow_min') AND NOT is_market_maker),
                    count(*) FILTER (WHERE score <= strategy.param('fade_max')),
                    count(*) FILTER (WHERE is_market_maker), count(*)
             FROM flow.wallet_scores",
            &[],
        )
        .await?;
    let tokens = count(c, "SELECT count(*) FROM market.tokens").await?;
    println!(
        "world: {} markets ({tokens} tokens), {} wallets; score snapshot of {}: {} at or above follow_min, {} at or below fade_max, {} market makers",
        opts.markets,
        wallets.len(),
        row.get::<_, i64>(3),
        row.get::<_, i64>(0),
        row.get::<_, i64>(1),
        row.get::<_, i64>(2),
    );

    c.batch_execute("VACUUM ANALYZE").await?;
    let history_fills = count(c, "SELECT count(*) FROM chain.order_filled").await?;
    println!(
        "history: {} blocks, {history_fills} fills, written and analyzed in {:.1}s",
        opts.history_blocks,
        t.elapsed().as_secs_f64()
    );

    // The executor, in-process on its own task and connection.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = exec::Config {
        database_url: url.to_owned(),
        mode: Mode::Paper,
        account: ACCOUNT.to_owned(),
        poll_interval: Duration::from_secs(1),
        live: None,
    };
    let executor = tokio::spawn(exec::run(config, async {
        let _ = stopped.await;
    }));
    let ready = Instant::now();
    while count(c, "SELECT count(*) FROM exec.accounts").await? == 0 {
        if executor.is_finished() || ready.elapsed() > Duration::from_secs(30) {
            bail!("the executor did not start: {:?}", executor.await);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // One stale signal before the live blocks: the executor skips it, and its connection has
    // run this bench's timing trigger once (the first call of a PL/pgSQL function on a
    // connection compiles it, a cost of the measurement and not of the decisions). The
    // executor's own tally counts this skip; the figures below do not.
    c.execute(
        "INSERT INTO strategy.signals (created_at, action, wallet, token_id, side, trigger_side, trigger_role, price,
                                       size, confidence, score, snapshot_id, reason, block_number, log_index,
                                       block_time, tx_hash)
         VALUES (now(), 'FOLLOW', '\\x00', 0, 0, 0, 'taker', 0.5, 1, 0.5, 9, 0, 'bench: the stale warm-up signal',
                 $1, 0, now() - interval '1 day', '\\x00')",
        &[&(LIVE_START as i64 - 1)],
    )
    .await?;
    c.execute("NOTIFY signals", &[]).await?;
    while count(
        c,
        "SELECT count(*) FROM strategy.signals WHERE status = 'new'",
    )
    .await?
        > 0
    {
        if executor.is_finished() || ready.elapsed() > Duration::from_secs(30) {
            bail!(
                "the executor did not decide the stale signal: {:?}",
                executor.await
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Live blocks, one per slot, stamped with the wall clock.
    let offset = clock_offset(c).await?;
    let load_before = load();
    let started = Instant::now();
    let mut writes = Vec::new();
    for k in 0..opts.blocks {
        let slot = started + Duration::from_secs_f64(opts.block_seconds * k as f64);
        tokio::time::sleep_until(slot.into()).await;
        let Some((n, mut block)) = take_block(&mut logs, None) else {
            break;
        };
        let time = unix_now();
        for l in &mut block {
            l.block_timestamp = Some(time);
        }
        let fills = block.len();
        let took = write_blocks(
            &mut writer,
            &mut deriver,
            vec![(n, block)],
            n.saturating_sub(window),
        )
        .await?;
        let acked_at = unix_secs() + offset;
        // The follower folds each head block into positions shortly after its commit
        // (derive_head_delay_ms later), as here.
        tokio::time::sleep(writer.head_delay()).await;
        let derive_ms = writer.derive().await? * 1e3;
        writes.push(Write {
            block: n,
            acked_at,
            fills,
            ms: took.0,
            commit_ms: took.1,
            derive_ms,
        });
    }
    let live_secs = started.elapsed().as_secs_f64();
    let load_after = load();

    // Let the executor decide what is left, then stop it.
    let waited = Instant::now();
    while count(
        c,
        "SELECT count(*) FROM strategy.signals WHERE status = 'new'",
    )
    .await?
        > 0
        && waited.elapsed() < Duration::from_secs(60)
        && !executor.is_finished()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    let summary = executor.await.context("the executor task panicked")??;

    println!("machine: {load_before} before the live blocks, {load_after} after them");
    report(opts, c, &writes, live_secs, &summary).await
}

async fn report(
    opts: &Options,
    c: &Client,
    writes: &[Write],
    live_secs: f64,
    summary: &exec::Summary,
) -> anyhow::Result<()> {
    let live_fills: usize = writes.iter().map(|w| w.fills).sum();
    let first = LIVE_START as i64;
    let row = c
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE action = 'FOLLOW'), count(*) FILTER (WHERE action = 'FADE'),
                    count(*) FILTER (WHERE status = 'new')
             FROM strategy.signals WHERE block_number >= $1",
            &[&first],
        )
        .await?;
    let (signals, follow, fade, undecided): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    println!(
        "live: {} blocks of {} fills, one every {} s ({live_fills} fills in {live_secs:.1}s)",
        writes.len(),
        opts.fills_per_block,
        opts.block_seconds
    );
    println!("signals: {signals} ({follow} FOLLOW, {fade} FADE)");
    let row = c
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE d.outcome = 'placed'),
                    coalesce(string_agg(DISTINCT d.reason, ', ') FILTER (WHERE d.outcome = 'skipped'), '-')
             FROM exec.decisions d JOIN strategy.signals s USING (signal_id)
             WHERE d.kind = 'entry' AND s.block_number >= $1",
            &[&first],
        )
        .await?;
    let (decisions, placed, reasons): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    println!(
        "decisions: {decisions} ({placed} placed, {} skipped: {reasons}; {undecided} signals left undecided; executor: {summary})",
        decisions - placed
    );

    // Fills to signal rows.
    let blocks = c.query(BLOCK_PARTS, &[&first]).await?;
    let wall = Dist::of(writes.iter().map(|w| w.ms).collect()).context("no block was written")?;
    let commit =
        Dist::of(writes.iter().map(|w| w.commit_ms).collect()).context("no block was written")?;
    let part = |i: usize| Dist::of(blocks.iter().map(|r| r.get::<_, f64>(i)).collect());
    let (rows, trigger, rest) = (part(1), part(2), part(3));
    let rest_outside = Dist::of(
        blocks
            .iter()
            .filter_map(|r| {
                let w = writes
                    .iter()
                    .find(|w| w.block as i64 == r.get::<_, i64>(0))?;
                Some(w.ms - w.commit_ms - r.get::<_, f64>(4))
            })
            .collect(),
    );
    let per_block = Dist::of(blocks.iter().map(|r| r.get::<_, i64>(5) as f64).collect());
    println!(
        "fills-to-signal-row: {} over {} blocks of ~{} fills   (goal: p99 under {FILLS_GOAL_MS} ms)",
        wall.line(),
        wall.n,
        opts.fills_per_block
    );
    if let (Some(rows), Some(trigger), Some(rest), Some(per_block)) =
        (rows, trigger, rest, per_block)
    {
        println!(
            "  COPY of the fills with their indexes and the triggers before _700: {}",
            rows.short()
        );
        println!(
            "  _700_signals (make_signals; median {:.0}, max {:.0} signals a block): {}",
            per_block.median,
            per_block.max,
            trigger.short()
        );
        println!(
            "  after it up to COMMIT (recent headers, cursor): {}",
            rest.short()
        );
        println!(
            "  COMMIT, from sending it to its acknowledgement (synchronous_commit off, as the indexer writes): {}",
            commit.short()
        );
        println!(
            "  the rest (BEGIN, the block row, savepoint, round trips): {}",
            rest_outside.map_or("-".to_owned(), |d| d.short())
        );
    }
    // A percentile of each part hides where one slow block's time went: the slowest, whole.
    let mut slowest: Vec<&Write> = writes.iter().collect();
    slowest.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    for w in slowest.iter().take(3) {
        if let Some(r) = blocks.iter().find(|r| r.get::<_, i64>(0) == w.block as i64) {
            let (rows, trigger, after, marked) = (
                r.get::<_, f64>(1),
                r.get::<_, f64>(2),
                r.get::<_, f64>(3),
                r.get::<_, f64>(4),
            );
            println!(
                "  slow block {} (live block {} of {}): {:.2} ms = COPY {rows:.2} + _700 {trigger:.2} ({} signals) + after {after:.2} + COMMIT {:.2} + the rest {:.2}",
                w.block,
                w.block + 1 - LIVE_START,
                writes.len(),
                w.ms,
                r.get::<_, i64>(5),
                w.commit_ms,
                w.ms - w.commit_ms - marked
            );
        }
    }
    if let Some(derive) = Dist::of(writes.iter().map(|w| w.derive_ms).collect()) {
        println!(
            "  then, after the COMMIT: positions derived from the block (flow.derive, its own transaction): {}",
            derive.short()
        );
    }

    // NOTIFY to decision.
    let acked: (Vec<i64>, Vec<f64>) = writes.iter().map(|w| (w.block as i64, w.acked_at)).unzip();
    let sig = c.query(SIGNAL_PARTS, &[&first, &acked.0, &acked.1]).await?;
    let col = |i: usize, keep: &dyn Fn(&tokio_postgres::Row) -> bool| {
        Dist::of(
            sig.iter()
                .filter(|r| keep(r))
                .map(|r| r.get::<_, f64>(i))
                .collect(),
        )
    };
    let all = |_: &tokio_postgres::Row| true;
    let total = col(0, &all);
    match &total {
        Some(d) => println!(
            "NOTIFY-to-decision: {} over {} signals   (goal: p99 under {DECISION_GOAL_MS} ms)",
            d.line(),
            d.n
        ),
        None => println!("NOTIFY-to-decision: no decided signal to measure"),
    }
    let (wait, decide) = (col(1, &all), col(2, &all));
    let first_wait = col(1, &|r| r.get::<_, i64>(4) == 0);
    if let (Some(wait), Some(decide), Some(first_wait)) = (wait, decide, first_wait) {
        println!(
            "  from the block's COMMIT acknowledged to the decision transaction's start: {}; for the first signal of a block (notification and wake-up only): {}",
            wait.short(),
            first_wait.short()
        );
        println!(
            "  the decision transaction to its COMMIT (claim, account lock, book, limits, quote, paper fill for placed entries, records): {}",
            decide.short()
        );
        for outcome in ["placed", "skipped"] {
            if let Some(d) = col(0, &|r| r.get::<_, &str>(3) == outcome) {
                println!("  {outcome}: {} over {}", d.short(), d.n);
            }
        }
    }

    // Verdicts.
    let verdict = |name: &str, p99: f64, goal: f64, why: String| {
        if p99 < goal {
            println!("verdict: {name} p99 {p99:.2} ms, under {goal} ms: goal met");
        } else {
            println!("verdict: {name} p99 {p99:.2} ms, not under {goal} ms: goal missed; {why}");
        }
    };
    let slowest = |parts: &[(&str, Option<Dist>)]| {
        parts
            .iter()
            .filter_map(|(n, d)| d.map(|d| (*n, d.p99)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or("no breakdown".to_owned(), |(n, p)| {
                format!("the largest part at p99 is {n} ({p:.2} ms)")
            })
    };
    verdict(
        "fills-to-signal-row",
        wall.p99,
        FILLS_GOAL_MS,
        slowest(&[
            ("the COPY with the earlier triggers", rows),
            ("_700_signals", trigger),
            ("the statements after it", rest),
            ("the COMMIT", Some(commit)),
        ]),
    );
    if let Some(total) = total {
        let behind = sig.iter().map(|r| r.get::<_, i64>(4)).max().unwrap_or(0);
        verdict(
            "NOTIFY-to-decision",
            total.p99,
            DECISION_GOAL_MS,
            format!(
                "{}; a block's signals are decided together, so a signal waits for the decisions on up to {behind} earlier ones of its block",
                slowest(&[("the wait", wait), ("the decision", decide)])
            ),
        );
    }
    if signals == 0 || decisions == 0 {
        bail!("the live blocks made {signals} signals and {decisions} decisions: nothing was measured (raise --skilled-share or --fills-per-block)");
    }
    Ok(())
}
