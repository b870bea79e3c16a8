//! `orderflow bench …`: benchmarks that print their numbers.
//!
//! `bench ingest --fills N` writes N synthetic OrderFilled logs (V1 before a cutover block, V2
//! after, ~150 a block) to a JSONL file, imports it with the real `indexer import` binary in a
//! child process (timing it and reading its peak memory), then in the same run times a raw
//! binary COPY of the same rows into a bare table of the same shape with only a primary key.
//! `bench backfill`, `bench scores` and `bench signals` are described at their commands.

mod scores;
pub mod signals;

use std::{
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, Context};
use clap::Subcommand;
use ethers::{types::U256, utils::keccak256};
use futures::SinkExt;
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{
    chain::{
        contracts::{addr, known},
        decode,
        events::collateral_for_oracle,
        log::{Address, Word},
        position_id, Contracts, Event, RawLog,
    },
    db,
    ingest::{Batch, Table, TokenDeriver},
};

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Import speed against a raw binary COPY of the same rows, and the importer's peak memory.
    Ingest {
        /// OrderFilled logs to generate.
        #[arg(long, default_value_t = 1_000_000)]
        fills: u64,
        /// Seed of the synthetic data.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Folder for the generated JSONL (deleted afterwards).
        #[arg(long, env = "TMPDIR", default_value = "/tmp")]
        work_dir: PathBuf,
        /// Keep the scratch database `orderflow_bench` afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Backfill speed over the whole RPC path: a simulated chain served by a local replay
    /// node, read by the real `indexer --rpc-url` binary; prints events/s and where the time
    /// goes (RPC wait, JSON parse, decode, COPY, commit).
    Backfill {
        /// OrderFilled logs in the simulated chain (other events come with them).
        #[arg(long, default_value_t = 1_000_000)]
        fills: u64,
        /// Seed of the simulation.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// eth_getLogs requests in flight.
        #[arg(long, default_value_t = 4)]
        concurrency: u64,
        /// Milliseconds the replay node adds to every answer, as a hosted provider's round
        /// trip would (0: a node on this machine, so only our own code can be the bottleneck).
        #[arg(long, default_value_t = 0)]
        rpc_latency_ms: u64,
        /// Keep the scratch database `orderflow_bench_backfill` afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Wallet scoring at scale: the full refresh (wallet_stats and a score snapshot) of a world
    /// of `--fills` fills by `--wallets` wallets, and the incremental update after one block of
    /// ~150 fills (positions kept by the triggers).
    Scores {
        /// Fills in the synthetic world.
        #[arg(long, default_value_t = 10_000_000)]
        fills: u64,
        /// Wallets trading them.
        #[arg(long, default_value_t = 200_000)]
        wallets: u64,
        /// Keep the scratch database `orderflow_bench_scores` afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Latency at ten times the live rate: new fills to signal rows (live blocks of 1,500
    /// fills written as the indexer writes the head; goal p99 under 50 ms), and NOTIFY to
    /// decision in an in-process paper executor (goal p99 under 5 ms).
    Signals(signals::Options),
}

/// Runs a benchmark against the server of `database_url` (in a scratch database).
pub async fn run(cmd: BenchCommand, database_url: &str) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ingest {
            fills,
            seed,
            work_dir,
            keep,
        } => ingest(fills, seed, &work_dir, keep, database_url).await,
        BenchCommand::Backfill {
            fills,
            seed,
            concurrency,
            rpc_latency_ms,
            keep,
        } => {
            let latency = std::time::Duration::from_millis(rpc_latency_ms);
            backfill(fills, seed, concurrency, latency, keep, database_url).await
        }
        BenchCommand::Scores {
            fills,
            wallets,
            keep,
        } => scores::run(fills, wallets, keep, database_url).await,
        BenchCommand::Signals(opts) => signals::run(opts, database_url).await,
    }
}

/// First V2 block of the synthetic chain; blocks below it carry V1 fills.
pub const SYNTH_CUTOVER: u64 = 84_902_353;

/// The block time of a synthetic block: 2 s a block, SYNTH_CUTOVER at 2026-04-28 00:00 UTC (as
/// on Polygon), so the data is history, as a backfill's is, and makes no signals.
fn synth_time(block: u64) -> u64 {
    const CUTOVER_TIME: i64 = 1_777_334_400;
    (CUTOVER_TIME + (block as i64 - SYNTH_CUTOVER as i64) * 2).max(0) as u64
}
const FILLS_PER_BLOCK: u64 = 150;

/// Markets, wallets and blocks of a synthetic stream.
#[derive(Debug, Clone, Copy)]
pub struct SynthShape {
    /// Binary markets (two outcome tokens each; every third neg-risk).
    pub markets: usize,
    /// Wallets trading.
    pub wallets: usize,
    /// Fills a block (a match is never split across blocks, so a block may hold a few more).
    pub per_block: u64,
    /// Block of the first fill; fills from SYNTH_CUTOVER on are V2.
    pub start_block: u64,
}

/// A deterministic stream of realistic exchange logs: markets prepared first, then matches of
/// one to four maker fills plus the taker fill, ~150 fills a block, 60% V1 then V2.
///
/// Activity is skewed as on a real exchange, where a few market makers and bots are in a large
/// share of the fills and a few markets take most of the trading: every fill's token and
/// wallets are drawn by [`Skewed`] ranks (of 20,000 wallets the busiest is in ~7% of the draws,
/// the top 1% in ~53%; of 1,000 tokens the busiest takes ~10%). A uniform draw would hide what
/// hot keys cost an index (a hash index walks a key's whole bucket chain on every insert).
pub struct SynthFills {
    rng: StdRng,
    markets: Vec<(Word, bool)>,
    tokens: Vec<(U256, bool)>,
    token_ranks: Skewed,
    wallets: Vec<Address>,
    wallet_ranks: Skewed,
    remaining: u64,
    per_block: u64,
    block: u64,
    in_block: u64,
    log_index: u32,
    pending: std::collections::VecDeque<RawLog>,
}

impl SynthFills {
    /// `fills` OrderFilled logs (plus one ConditionPreparation per market ahead of them).
    pub fn new(fills: u64, seed: u64) -> Self {
        let shape = SynthShape {
            markets: (fills / 500).clamp(10, 5_000) as usize,
            wallets: (fills / 20).clamp(100, 200_000) as usize,
            per_block: FILLS_PER_BLOCK,
            start_block: SYNTH_CUTOVER.saturating_sub(fills * 6 / 10 / FILLS_PER_BLOCK),
        };
        Self::with_shape(fills, seed, shape)
    }

    /// `fills` OrderFilled logs over the markets, wallets and blocks of `shape`.
    pub fn with_shape(fills: u64, seed: u64, shape: SynthShape) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let wallets: Vec<Address> = (0..shape.wallets).map(|_| rng.gen::<Address>()).collect();
        let wallet_ranks = Skewed::new(wallets.len(), &mut rng);
        let token_ranks = Skewed::new(2 * shape.markets.max(1), &mut rng);
        let start = shape.start_block;
        let mut s = SynthFills {
            rng,
            markets: Vec::new(),
            tokens: Vec::new(),
            token_ranks,
            wallets,
            wallet_ranks,
            remaining: fills,
            per_block: shape.per_block.max(1),
            block: start,
            in_block: 0,
            log_index: 0,
            pending: Default::default(),
        };
        let mut deriver_block = start - 1;
        for i in 0..shape.markets.max(1) {
            let neg_risk = i % 3 == 0;
            let oracle = if neg_risk {
                known(addr::NEGRISK_ADAPTER)
            } else {
                s.rng.gen::<Address>()
            };
            let question: Word = s.rng.gen();
            let condition = position_id::condition_id(&oracle, &question, 2);
            let (collateral, _) = collateral_for_oracle(&oracle);
            for o in 0..2 {
                s.tokens.push((
                    U256::from_big_endian(&position_id::token_id(&collateral, &condition, o)),
                    neg_risk,
                ));
            }
            s.markets.push((condition, neg_risk));
            let mut data = [0u8; 32];
            data[31] = 2;
            let mut oracle_topic = [0u8; 32];
            oracle_topic[12..].copy_from_slice(&oracle);
            if i % 200 == 0 {
                deriver_block -= 1;
            }
            s.pending.push_back(RawLog {
                address: known(addr::CTF),
                topics: vec![
                    keccak256("ConditionPreparation(bytes32,address,bytes32,uint256)"),
                    condition,
                    oracle_topic,
                    question,
                ],
                data: data.to_vec(),
                block_number: deriver_block,
                log_index: (i % 200) as u32,
                tx_hash: keccak256((i as u64).to_be_bytes()),
                block_hash: Some(keccak256((deriver_block).to_be_bytes())),
                block_timestamp: Some(synth_time(deriver_block)),
                removed: false,
            });
        }
        s
    }

    /// The wallets trading, in the order they were drawn.
    pub fn wallets(&self) -> &[Address] {
        &self.wallets
    }

    fn log(&mut self, exchange: Address, topics: Vec<Word>, data: Vec<u8>) -> RawLog {
        let l = RawLog {
            address: exchange,
            topics,
            data,
            block_number: self.block,
            log_index: self.log_index,
            tx_hash: keccak256(
                [
                    self.block.to_be_bytes(),
                    (self.log_index as u64 / 8).to_be_bytes(),
                ]
                .concat(),
            ),
            block_hash: Some(keccak256(self.block.to_be_bytes())),
            block_timestamp: Some(synth_time(self.block)),
            removed: false,
        };
        self.log_index += 1;
        l
    }

    #[allow(clippy::too_many_arguments)] // the fields of one OrderFilled
    fn fill(
        &mut self,
        exchange: Address,
        maker: Address,
        taker: Address,
        buy: bool,
        token: U256,
        tokens: u64,
        price_micros: u64,
    ) -> RawLog {
        let v2 = self.block >= SYNTH_CUTOVER;
        let collateral = tokens * price_micros / 1_000_000;
        let (maker_amt, taker_amt) = if buy {
            (collateral, tokens)
        } else {
            (tokens, collateral)
        };
        let fee = if self.rng.gen_bool(0.3) {
            collateral / 100
        } else {
            0
        };
        let addr_word = |a: &Address| {
            let mut w = [0u8; 32];
            w[12..].copy_from_slice(a);
            w
        };
        let word = |v: U256| {
            let mut w = [0u8; 32];
            v.to_big_endian(&mut w);
            w
        };
        let order_hash: Word = self.rng.gen();
        let (topic0, mut data) = if v2 {
            let mut d = Vec::with_capacity(224);
            d.extend_from_slice(&word(U256::from(if buy { 0 } else { 1 })));
            d.extend_from_slice(&word(token));
            (keccak256("OrderFilled(bytes32,address,address,uint8,uint256,uint256,uint256,uint256,bytes32,bytes32)"), d)
        } else {
            let (ma, ta) = if buy {
                (U256::zero(), token)
            } else {
                (token, U256::zero())
            };
            let mut d = Vec::with_capacity(160);
            d.extend_from_slice(&word(ma));
            d.extend_from_slice(&word(ta));
            (
                keccak256(
                    "OrderFilled(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)",
                ),
                d,
            )
        };
        for v in [maker_amt, taker_amt, fee] {
            data.extend_from_slice(&word(U256::from(v)));
        }
        if v2 {
            data.extend_from_slice(&[0u8; 64]);
        }
        self.log(
            exchange,
            vec![topic0, order_hash, addr_word(&maker), addr_word(&taker)],
            data,
        )
    }

    fn next_match(&mut self) {
        if self.in_block >= self.per_block {
            self.block += 1;
            self.in_block = 0;
            self.log_index = 0;
        }
        let v2 = self.block >= SYNTH_CUTOVER;
        let (token, neg_risk) = self.tokens[self.token_ranks.draw(&mut self.rng)];
        let exchange = known(match (v2, neg_risk) {
            (false, false) => addr::EXCHANGE_V1,
            (false, true) => addr::NEGRISK_EXCHANGE_V1,
            (true, false) => addr::EXCHANGE_V2,
            (true, true) => addr::NEGRISK_EXCHANGE_V2,
        });
        let taker = self.wallets[self.wallet_ranks.draw(&mut self.rng)];
        let buy = self.rng.gen_bool(0.5);
        let price = self.rng.gen_range(10..99u64) * 10_000;
        let makers = self
            .rng
            .gen_range(1..=4u64)
            .min(self.remaining.saturating_sub(1));
        let mut total = 0;
        for _ in 0..makers {
            let maker = self.wallets[self.wallet_ranks.draw(&mut self.rng)];
            let size = self.rng.gen_range(1..2_000u64) * 10_000;
            total += size;
            let l = self.fill(exchange, maker, taker, !buy, token, size, price);
            self.pending.push_back(l);
        }
        let size = if total == 0 {
            self.rng.gen_range(1..2_000u64) * 10_000
        } else {
            total
        };
        let l = self.fill(exchange, taker, exchange, buy, token, size, price);
        self.pending.push_back(l);
        self.remaining -= makers + 1;
        self.in_block += makers + 1;
    }
}

/// Draws indexes 0..n with log-uniform ranks: rank r has probability ln((r + 2) / (r + 1)) /
/// ln(n + 1), so rank 0 is drawn most (ln 2 / ln(n + 1)) and each tenfold of ranks takes about
/// the same share. Ranks map to indexes through a fixed shuffle, so how busy an item is does
/// not depend on where it stands in its list.
struct Skewed {
    by_rank: Vec<usize>,
}

impl Skewed {
    fn new(n: usize, rng: &mut StdRng) -> Self {
        use rand::seq::SliceRandom;
        let mut by_rank: Vec<usize> = (0..n.max(1)).collect();
        by_rank.shuffle(rng);
        Skewed { by_rank }
    }

    fn draw(&self, rng: &mut StdRng) -> usize {
        let n = self.by_rank.len();
        let u: f64 = rng.gen();
        let rank = ((u * (n as f64 + 1.0).ln()).exp() - 1.0) as usize;
        self.by_rank[rank.min(n - 1)]
    }
}

impl Iterator for SynthFills {
    type Item = RawLog;

    fn next(&mut self) -> Option<RawLog> {
        if self.pending.is_empty() && self.remaining > 0 {
            self.next_match();
        }
        self.pending.pop_front()
    }
}

async fn scratch_db(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let admin = db::connect(admin_url).await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok(with_dbname(admin_url, name))
}

/// Drops scratch database `name`, unless it is to be kept.
async fn drop_scratch(admin_url: &str, name: &str, keep: bool) -> anyhow::Result<()> {
    if !keep {
        let admin = db::connect(admin_url).await?;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

/// `url` pointing at database `name` instead.
pub fn with_dbname(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A process's peak resident memory (VmHWM) in kB, from /proc.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn peak_rss_children_kb() -> i64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u.ru_maxrss
    }
}

async fn ingest(
    fills: u64,
    seed: u64,
    work_dir: &Path,
    keep: bool,
    admin_url: &str,
) -> anyhow::Result<()> {
    if fills == 0 {
        bail!("--fills must be at least 1");
    }
    let file = work_dir.join(format!("orderflow-bench-{}.jsonl", std::process::id()));
    let t = Instant::now();
    {
        let f = std::fs::File::create(&file)
            .with_context(|| format!("cannot create {}", file.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        for log in SynthFills::new(fills, seed) {
            w.write_all(log.to_json().as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    let bytes = std::fs::metadata(&file)?.len();
    println!(
        "generated {fills} OrderFilled logs ({:.0} MB JSONL) in {:.1}s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let result = ingest_file(&file, fills, seed, admin_url).await;
    let _ = std::fs::remove_file(&file);
    result?;
    drop_scratch(admin_url, "orderflow_bench", keep).await
}

/// Imports the generated `file` into a scratch database and times the raw COPY beside it.
async fn ingest_file(file: &Path, fills: u64, seed: u64, admin_url: &str) -> anyhow::Result<()> {
    let url = scratch_db(admin_url, "orderflow_bench").await?;
    let mut client = db::connect(&url).await?;
    db::migrate(&mut client, &db::SqlDir::locate(None)).await?;

    // 1. The importer, as a user runs it.
    let indexer = std::env::current_exe()?.with_file_name("indexer");
    let t = Instant::now();
    let out = std::process::Command::new(&indexer)
        .args(["import", "--no-progress"])
        .arg(file)
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .output()
        .with_context(|| format!("cannot run {}", indexer.display()))?;
    let import_secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "indexer import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let peak_mb = peak_rss_children_kb() as f64 / 1024.0;
    let stored: i64 = client
        .query_one("SELECT count(*) FROM chain.order_filled", &[])
        .await?
        .get(0);
    if stored as u64 != fills {
        bail!("import stored {stored} fills, expected {fills}");
    }

    // 2. Raw binary COPY of the same rows into a bare table with only a primary key.
    client
        .batch_execute(
            "DROP TABLE IF EXISTS bench_raw_fills; \
             CREATE TABLE bench_raw_fills (LIKE chain.order_filled); \
             ALTER TABLE bench_raw_fills ADD PRIMARY KEY (block_number, log_index);",
        )
        .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let producer = std::thread::spawn(move || {
        let mut first = true;
        let contracts = Contracts::default();
        let mut deriver = TokenDeriver::default();
        let mut batch = Batch::default();
        for log in SynthFills::new(fills, seed) {
            if let Ok(Some(ev @ Event::OrderFilled(_))) = decode(&log, &contracts) {
                batch.push(&log, &ev, &mut deriver);
            }
            if batch.rows(Table::OrderFilled) >= 50_000 {
                send_rows(std::mem::take(&mut batch), &mut first, &tx);
            }
        }
        send_rows(batch, &mut first, &tx);
        let _ = tx.blocking_send(bytes::Bytes::from_static(&[0xff, 0xff]));
    });
    let t = Instant::now();
    let sink = client
        .copy_in::<_, bytes::Bytes>(&format!(
            "COPY bench_raw_fills ({}) FROM STDIN (FORMAT binary)",
            Table::OrderFilled.columns()
        ))
        .await?;
    futures::pin_mut!(sink);
    while let Some(chunk) = rx.recv().await {
        sink.send(chunk).await?;
    }
    let copied = sink.finish().await?;
    let copy_secs = t.elapsed().as_secs_f64();
    producer.join().expect("producer thread");
    if copied != fills {
        bail!("raw COPY wrote {copied} rows, expected {fills}");
    }

    let stdout = String::from_utf8_lossy(&out.stdout);
    // The importer stops to derive positions (`… deriving positions D s`), every
    // derive_every_rows events and after the last write, and derives on its second connection
    // beside the writes while it waits for the parser (`(and A s alongside the writes)`).
    let derive_secs = summary_secs(&stdout, "deriving positions ")
        .context("the import summary names no time for deriving positions")?;
    let alongside_secs = summary_secs(&stdout, "(and ").unwrap_or(0.0);
    let index_secs = summary_secs(&stdout, "indexing partitions ")
        .context("the import summary names no time for indexing partitions")?;
    let stored_secs = import_secs - derive_secs;
    // Without building the partitions' secondary indexes (the raw COPY has none).
    let committed_secs = stored_secs - index_secs;
    let committed_rate = fills as f64 / committed_secs;
    let import_rate = fills as f64 / import_secs;
    let stored_rate = fills as f64 / stored_secs;
    let copy_rate = fills as f64 / copy_secs;
    println!("indexer import : {fills} fills in {import_secs:.2}s = {import_rate:.0} rows/s, positions included (peak RSS {peak_mb:.0} MB)");
    println!("  events stored (fills, trades, wallets, signals checked; the import's time less its stops to derive): {stored_secs:.2}s = {stored_rate:.0} rows/s");
    println!("  of which building the secondary indexes {index_secs:.2}s; without it {committed_secs:.2}s = {committed_rate:.0} rows/s");
    println!(
        "  positions derived (flow.derive: ledger and positions): {derive_secs:.2}s stopped for it, {alongside_secs:.2}s beside the writes"
    );
    for line in stdout.lines().filter(|l| l.contains("time")) {
        println!("  importer{}", line.trim_start().trim_start_matches("time"));
    }
    println!("raw binary COPY: {fills} rows  in {copy_secs:.2}s = {copy_rate:.0} rows/s (bare table, primary key only)");
    println!(
        "ratio import/raw COPY: {:.2} storing the events ({:.2} without the secondary indexes), {:.2} the whole import (positions derived)",
        stored_rate / copy_rate,
        committed_rate / copy_rate,
        import_rate / copy_rate
    );

    Ok(())
}

/// Which side bounds a backfill of `secs` seconds whose loop waited `waited` seconds for
/// ranges from the node and derived for `derive_after` seconds after its last write.
fn bottleneck(secs: f64, waited: f64, derive_after: f64) -> String {
    let share = waited / secs.max(f64::EPSILON);
    let side = if share >= 0.5 {
        "the RPC path"
    } else {
        "our code"
    };
    format!(
        "bottleneck: {side} (the indexer waited for ranges {waited:.1}s of {secs:.1}s, {:.0}%; deriving after the last write {derive_after:.1}s)",
        share * 100.0
    )
}

/// The seconds printed right after `label` in an import summary ("… deriving positions 1.2s").
fn summary_secs(summary: &str, label: &str) -> Option<f64> {
    let rest = &summary[summary.find(label)? + label.len()..];
    rest[..rest.find('s')?].trim().parse().ok()
}

/// Sends one batch's fill rows as part of a single COPY stream: the 19-byte header only on
/// the first chunk, no per-chunk trailer (the caller sends it once at the end).
fn send_rows(batch: Batch, first: &mut bool, tx: &tokio::sync::mpsc::Sender<bytes::Bytes>) {
    for (t, _, bytes) in batch.into_parts().1 {
        if t != Table::OrderFilled {
            continue;
        }
        let body = bytes.slice(if *first { 0 } else { 19 }..bytes.len() - 2);
        *first = false;
        let _ = tx.blocking_send(body);
    }
}

async fn backfill(
    fills: u64,
    seed: u64,
    concurrency: u64,
    latency: std::time::Duration,
    keep: bool,
    admin_url: &str,
) -> anyhow::Result<()> {
    use crate::{
        replay::{self, ReplayChain},
        sim::{Sim, SimConfig},
    };
    if fills == 0 {
        bail!("--fills must be at least 1");
    }
    // A simulated chain big enough for `fills` fills, numbered from block 1.
    let t = Instant::now();
    let fill_topics = [
        keccak256("OrderFilled(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)"),
        keccak256("OrderFilled(bytes32,address,address,uint8,uint256,uint256,uint256,uint256,bytes32,bytes32)"),
    ];
    let cfg = SimConfig {
        seed,
        markets: (fills / 2_000).clamp(40, 5_000) as usize,
        wallets: (fills / 200).clamp(400, 200_000) as usize,
        blocks: fills.saturating_mul(2).max(1_000),
        start_block: 1,
        cutover_block: 1 + fills / 10,
        ..SimConfig::default()
    };
    let mut chain = ReplayChain::new(cfg.start_time);
    chain.latency = latency;
    let mut got = 0u64;
    for block in Sim::new(cfg)? {
        let logs = block.into_raw_logs();
        got += logs
            .iter()
            .filter(|l| l.topics.first().is_some_and(|t| fill_topics.contains(t)))
            .count() as u64;
        chain.push(logs);
        if got >= fills {
            break;
        }
    }
    let head = chain.head();
    let logs = chain.len();
    println!(
        "simulated chain: {got} fills, {logs} logs in {head} blocks ({:.1}s)",
        t.elapsed().as_secs_f64()
    );
    let chain = std::sync::Arc::new(chain);
    let (addr, server) = replay::serve(chain.clone(), "127.0.0.1:0".parse()?).await?;

    let url = scratch_db(admin_url, "orderflow_bench_backfill").await?;
    let mut client = db::connect(&url).await?;
    db::migrate(&mut client, &db::SqlDir::locate(None)).await?;

    let indexer = std::env::current_exe()?.with_file_name("indexer");
    let t = Instant::now();
    let child = std::process::Command::new(&indexer)
        .args([
            "--rpc-url",
            &format!("http://{addr}"),
            "--to-block",
            &head.to_string(),
            "--concurrency",
            &concurrency.to_string(),
            "--no-progress",
        ])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", indexer.display()))?;
    // getrusage would count the pages this (large) process shared with the child before its
    // exec, so read the child's own high-water mark while it runs.
    let pid = child.id();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output());
    let mut peak_kb = 0u64;
    while !waiter.is_finished() {
        peak_kb = peak_kb.max(vm_hwm_kb(pid).unwrap_or(0));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let out = waiter.await??;
    let secs = t.elapsed().as_secs_f64();
    server.abort();
    if !out.status.success() {
        bail!(
            "indexer backfill failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let peak_mb = peak_kb as f64 / 1024.0;
    let stored: i64 = client
        .query_one("SELECT count(*) FROM chain.order_filled", &[])
        .await?
        .get(0);
    if stored as u64 != got {
        bail!("backfill stored {stored} fills, expected {got}");
    }
    println!(
        "indexer backfill: {logs} logs ({got} fills) in {secs:.2}s = {:.0} logs/s, {:.0} fills/s (peak RSS {peak_mb:.0} MB)",
        logs as f64 / secs,
        got as f64 / secs
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("  {}", line.trim());
    }
    let busy = chain.busy_nanos.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9;
    let requests = chain.requests.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "  replay node: {requests} requests, {busy:.1}s answering them, each answer sent {} ms late",
        latency.as_millis()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let derive_after = summary_secs(&stdout, "deriving positions ").unwrap_or(0.0);
    match summary_secs(&stdout, "waiting for ranges ") {
        Some(waited) => println!("{}", bottleneck(secs, waited, derive_after)),
        None => println!(
            "bottleneck: unknown (the backfill's summary names no time waiting for ranges)"
        ),
    }
    if latency.is_zero() {
        // Our code's rate with answers that cost nothing (the whole backfill, deriving after the
        // last write included): a provider that delivers fewer logs a second, at these requests
        // in flight and this average answer (every request the node saw), is the slower side.
        let per_request = logs as f64 / requests.max(1) as f64;
        let break_even_ms = concurrency as f64 * per_request / (logs as f64 / secs) * 1e3;
        println!(
            "our code's rate: {:.0} logs/s, deriving included; at {per_request:.0} logs a request on average \
             and {concurrency} in flight, a provider taking more than {break_even_ms:.0} ms a request is the \
             bottleneck (see --rpc-latency-ms)",
            logs as f64 / secs
        );
    }
    drop(client);
    drop_scratch(admin_url, "orderflow_bench_backfill", keep).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bottleneck_is_the_side_the_backfill_waited_on() {
        let rpc = bottleneck(47.9, 33.5, 0.1);
        assert!(rpc.starts_with("bottleneck: the RPC path"), "{rpc}");
        assert!(rpc.contains("33.5s of 47.9s, 70%"), "{rpc}");
        let ours = bottleneck(30.5, 0.1, 16.9);
        assert!(ours.starts_with("bottleneck: our code"), "{ours}");
        assert!(ours.contains("after the last write 16.9s"), "{ours}");
    }

    #[test]
    fn summary_seconds_are_read_after_their_label() {
        let line = "time: waiting for ranges 33.5s (RPC wait 158.2s, …), deriving positions 0.1s (and 22.6s alongside the writes)";
        assert_eq!(summary_secs(line, "waiting for ranges "), Some(33.5));
        assert_eq!(summary_secs(line, "deriving positions "), Some(0.1));
        assert_eq!(summary_secs(line, "(and "), Some(22.6));
        assert_eq!(summary_secs(line, "indexing partitions "), None);
    }
}
