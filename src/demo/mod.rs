//! `orderflow demo`: the whole system on its embedded default, with nothing to configure.
//!
//! It finds Postgres (DATABASE_URL, else a throwaway cluster from the machine's initdb), loads
//! a simulated Polymarket's history with `indexer import`, starts anvil at the history's last
//! block with the log relay at the real Polymarket addresses, runs `indexer` and `executor`
//! (paper) as real processes against it, then publishes the rest of the simulated market live,
//! block by block with fresh timestamps, so skilled buyers and panic sellers make signals and
//! the executor trades them on paper, printed as they happen. At the end it stops the
//! services, backtests the history against the baselines and writes the report, prints what an
//! analyst sees, and stops everything it started.

mod procs;
mod show;

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use clap::Args;

use rust_decimal::Decimal;

use crate::{
    anvil::Anvil,
    backtest::cli::BacktestArgs,
    bench::with_dbname,
    chain::Contracts,
    db::{self, cluster::LocalCluster},
    sim::{Sim, SimBlock, SimConfig},
};
use procs::Service;
use show::{print_table, Feed};

/// Options of the demo.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Blocks of simulated market in all (history, then the live part).
    #[arg(long, default_value_t = 20_000)]
    pub blocks: u64,
    /// Of those, the last ones published live while the indexer and executor run.
    #[arg(long, default_value_t = 1_500)]
    pub live_blocks: u64,
    /// Milliseconds between live blocks (Polygon makes one every 2000).
    #[arg(long, default_value_t = 80)]
    pub pace_ms: u64,
    /// Simulation seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Database to (re)create on the server of DATABASE_URL.
    #[arg(long, default_value = "orderflow_demo")]
    pub database: String,
    /// Folder for the services' logs (and the Postgres cluster when the demo starts one).
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
}

/// How long before now the simulated history ends: older than signal_max_age_seconds, so
/// importing it makes no signal, as a real backfill would not.
const HISTORY_AGE_SECS: u64 = 600;

/// Port of the cluster the demo starts when no server answers.
const DEMO_PG_PORT: u16 = 54_329;

/// Runs the demo against the server of `database_url` (or a cluster it starts).
pub async fn run(args: DemoArgs, database_url: &str) -> anyhow::Result<()> {
    if !args
        .database
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        anyhow::bail!(
            "--database {:?}: use lowercase letters, digits and _",
            args.database
        );
    }
    if args.live_blocks >= args.blocks {
        anyhow::bail!(
            "--live-blocks {} must be less than --blocks {} (the rest is the history the scores learn from)",
            args.live_blocks,
            args.blocks
        );
    }
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create --out {}", args.out.display()))?;

    let (admin_url, mut cluster) = find_postgres(database_url, &args.out).await?;
    let url = recreate_database(&admin_url, &args.database).await?;
    let client = db::connect(&url).await?;

    // The simulated market, numbered from block 1 as anvil is, timed so that its history
    // ends a few minutes ago (too old to make signals) and its live part runs now.
    let history_blocks = args.blocks - args.live_blocks;
    let block_secs = SimConfig::default().block_secs;
    let cfg = SimConfig {
        seed: args.seed,
        blocks: args.blocks,
        start_block: 1,
        cutover_block: 1 + args.blocks / 2,
        start_time: unix_now() - history_blocks * block_secs - HISTORY_AGE_SECS,
        ..SimConfig::default()
    };
    let live_from = cfg.start_block + history_blocks;
    let last_history = live_from - 1;
    let mut sim = Sim::new(cfg)?;
    let blocks: Vec<SimBlock> = sim.by_ref().collect();
    let stats = sim.stats();
    println!(
        "2. simulated Polymarket (seed {}): {} blocks, {} logs: {} fills in {} matches, {} splits, {} resolutions, {} redemptions, {} panic sells",
        args.seed, stats.blocks, stats.logs, stats.fills, stats.matches, stats.splits, stats.resolutions, stats.redemptions, stats.panic_sells
    );
    let split = blocks.partition_point(|b| b.number < live_from);
    let (history, live) = blocks.split_at(split);

    // The history, as a node's logs in a file, through `indexer import`.
    let t = Instant::now();
    let file = args.out.join("history.jsonl");
    write_jsonl(&file, history)?;
    let import = Service::start(
        "indexer",
        &[
            "import".into(),
            file.display().to_string(),
            "--no-progress".into(),
        ],
        &url,
        args.out.join("import.log"),
    )?;
    import.finish(Duration::from_secs(900)).await?;
    println!(
        "3. history: blocks 1-{last_history} written to {} and loaded by `indexer import` in {:.1}s (log {})",
        file.display(),
        t.elapsed().as_secs_f64(),
        args.out.join("import.log").display()
    );

    // anvil, its genesis at the history's last block, with the relay at the real Polymarket addresses.
    let anvil = Anvil::start_at(last_history, unix_now() - HISTORY_AGE_SECS / 2).await?;
    anvil
        .install_relay(&Contracts::default().addresses())
        .await?;

    // The indexer, as a service, follows anvil's head from the first live block.
    let mut indexer = Service::start(
        "indexer",
        &[
            "--rpc-url".into(),
            anvil.url.clone(),
            "--from-block".into(),
            live_from.to_string(),
            "--poll-ms".into(),
            "250".into(),
            "--score-check-secs".into(),
            "5".into(),
            "--no-progress".into(),
        ],
        &url,
        args.out.join("indexer.log"),
    )?;
    println!(
        "4. anvil at {} (chain id 137, head {}); indexer following it from block {live_from} (log {})",
        anvil.url,
        live_from - 1,
        indexer.log.display()
    );
    client
        .batch_execute(
            "SELECT flow.derive(); REFRESH MATERIALIZED VIEW wallet_stats; SELECT flow.take_score_snapshot(NULL, 'demo');",
        )
        .await
        .map_err(db::DbError::query("refreshing wallet_stats and scores"))?;
    println!("   scores refreshed; the best wallets the executor will follow:");
    print_table(
        &client
            .simple_query(
                "SELECT wallet_address, score, resolved_positions AS resolved, win_rate, edge,
                        round(total_pnl) AS pnl
                 FROM wallet_scores_now WHERE NOT is_market_maker ORDER BY score DESC LIMIT 5",
            )
            .await
            .map_err(db::DbError::query("reading wallet_scores_now"))?,
    );

    // The executor, paper trading.
    let mut executor = Service::start(
        "executor",
        &[
            "--account".into(),
            "demo".into(),
            "--poll-ms".into(),
            "200".into(),
        ],
        &url,
        args.out.join("executor.log"),
    )?;
    println!(
        "\n5. executor (paper, account demo, log {}); publishing {} blocks live, one every {} ms:",
        executor.log.display(),
        live.len(),
        args.pace_ms
    );
    let mut feed = Feed::default();
    let mut last_poll = Instant::now();
    let (mut last_ts, mut height) = (0, last_history);
    for b in live {
        let ts = unix_now().max(last_ts);
        // anvil's block numbers follow the simulation's: empty blocks fill the gaps.
        for _ in height + 1..b.number {
            anvil.mine(Some(ts)).await?;
        }
        publish(&anvil, b, ts).await?;
        (last_ts, height) = (ts, b.number);
        tokio::time::sleep(Duration::from_millis(args.pace_ms)).await;
        if last_poll.elapsed() > Duration::from_millis(500) {
            feed.poll(&client).await?;
            indexer.check_running()?;
            executor.check_running()?;
            last_poll = Instant::now();
        }
    }
    wait_for_cursor(&client, &mut indexer, height, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    feed.poll(&client).await?;
    println!(
        "   {} signals; executor: {} orders and exits on paper, {} entries skipped (reasons above)",
        feed.signals, feed.decisions.0, feed.decisions.1
    );
    let grace = Duration::from_secs(30);
    println!(
        "   {}; {}",
        executor.stop(grace).await?,
        indexer.stop(grace).await?
    );
    println!("\n   paper account after the live part:");
    print_table(
        &client
            .simple_query(
                "SELECT account, starting_capital, round(cash, 2) AS cash, round(equity, 2) AS equity,
                        round(deployed, 2) AS deployed, open_positions, round(total_pnl, 2) AS total_pnl
                 FROM paper_account",
            )
            .await
            .map_err(db::DbError::query("reading paper_account"))?,
    );

    // The history was indexed long after the fact, so it made no signal (only fresh blocks
    // do). The backtest replays it as it happened (point-in-time snapshots, the live signal
    // function, the executor's sizing and limits, in a transaction rolled back afterwards)
    // against its baselines.
    let report = args.out.join("backtest");
    println!(
        "\n6. backtest of the history (orderflow backtest --to {last_history} --capital 1000 --out {}):\n",
        report.display()
    );
    crate::backtest::cli::run(
        BacktestArgs {
            from: None,
            to: Some(last_history.to_string()),
            capital: Decimal::from(1000),
            latency_seconds: 5,
            slippage: None,
            fee_rate: None,
            fee_exponent: None,
            snapshot_blocks: None,
            seed: args.seed,
            resamples: 2000,
            out: report.clone(),
        },
        &url,
    )
    .await?;

    println!(
        "\n7. what an analyst sees (psql \"{}\"):",
        db::redact_url(&url)
    );
    let queries = [
        (
            "markets by taker volume",
            "SELECT left(m.market_id, 12) || '…' AS market, m.neg_risk, m.resolved,
                    count(*) AS fills, round(sum(t.usdc)) AS usdc_volume
             FROM trades t JOIN markets m USING (market_id)
             WHERE t.role = 'taker' GROUP BY 1, 2, 3 ORDER BY 5 DESC LIMIT 5",
        ),
        (
            "wallets by volume",
            "SELECT wallet_address, total_trades, round(total_volume) AS volume
             FROM wallets ORDER BY total_volume DESC LIMIT 5",
        ),
        (
            "wallets by PnL (average cost, fees in; resolved positions closed at their payout)",
            "SELECT wallet_address, count(*) AS positions, round(sum(realized_pnl)) AS realized,
                    round(sum(settled_pnl)) AS settled, round(sum(pnl)) AS pnl
             FROM positions GROUP BY 1 ORDER BY sum(pnl) DESC LIMIT 5",
        ),
        (
            "top wallets by score 0-10 (wallet_scores_now: win rate, profit factor, consistency, confidence, early entry, shrunk toward the population)",
            "SELECT wallet_address, score, resolved_positions AS resolved, win_rate, edge,
                    round(total_pnl) AS pnl, maker_share
             FROM wallet_scores_now ORDER BY score DESC LIMIT 5",
        ),
        (
            "signals made live, and what became of them (won = the bought outcome paid)",
            SIGNAL_OUTCOMES,
        ),
        (
            "fills by exchange version, role and side",
            "SELECT version, role, side, count(*) AS fills, round(avg(price), 3) AS avg_price
             FROM trades GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        ),
    ];
    for (title, sql) in queries {
        let rows = client
            .simple_query(sql)
            .await
            .map_err(db::DbError::query(title))?;
        println!("\n   {title}");
        print_table(&rows);
    }
    drop(anvil);
    let pg = match cluster.as_mut() {
        Some(c) => {
            c.stop()?;
            format!(
                "the Postgres cluster it started is stopped; its data stays in {0}/pg: start it again with\n     pg_ctl -D {0}/pg/data -o '-p {DEMO_PG_PORT} -k /tmp' start   (then DATABASE_URL={1})",
                args.out.display(),
                db::redact_url(&url)
            )
        }
        None => format!("the database stays: psql \"{}\"", db::redact_url(&url)),
    };
    println!(
        "\ndone in {:.0}s; anvil, indexer and executor are stopped, and {pg}

Where to look:
  the backtest's report     {out}/backtest/report.md (chart equity.svg, trades trades.csv)
  logs of the services      {out}/import.log, {out}/indexer.log, {out}/executor.log
  relations to query        trades, positions, wallet_stats, wallet_scores_now, signals,
                            executor_decisions, paper_positions, paper_account, markets, wallets
  ready queries (psql -f)   sql/score_leaderboard.sql, sql/why_signal.sql (-v id=1),
                            sql/wallet_score.sql (-v wallet=0x…), sql/market_flow_by_score.sql
  the strategy's rules      functions/070_signals.sql and strategy.parameters (orderflow migrate after an edit)",
        started.elapsed().as_secs_f64(),
        out = args.out.display(),
    );
    Ok(())
}

/// The live signals with their outcomes, by action.
const SIGNAL_OUTCOMES: &str =
    "SELECT s.action, count(*) AS signals, count(DISTINCT s.wallet_address) AS wallets,
            round(avg(s.confidence), 3) AS confidence, round(avg(s.trigger_price), 3) AS price,
            count(o.payout) AS resolved, round(avg((o.payout > 0.5)::int) * 100) AS won_pct,
            round(avg(o.payout - s.trigger_price), 3) AS edge
     FROM signals s
     LEFT JOIN LATERAL (SELECT flow.payout(decode(substr(s.market_id, 3), 'hex'), s.outcome_index) AS payout) o ON true
     GROUP BY 1 ORDER BY 1";

/// DATABASE_URL's server when it answers; else a cluster started under `out/pg`.
async fn find_postgres(
    database_url: &str,
    out: &Path,
) -> anyhow::Result<(String, Option<LocalCluster>)> {
    let err = match tokio::time::timeout(Duration::from_secs(5), db::connect(database_url)).await {
        Ok(Ok(_)) => {
            println!("1. Postgres at {}", db::redact_url(database_url));
            return Ok((database_url.to_owned(), None));
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer from {} within 5 s", db::redact_url(database_url)),
    };
    if !db::cluster::can_start() {
        anyhow::bail!("{err}; set DATABASE_URL to a Postgres server, or install PostgreSQL (initdb, pg_ctl) for the demo to start one");
    }
    let dir = out.join("pg");
    let cluster = LocalCluster::start(&dir, DEMO_PG_PORT)
        .with_context(|| format!("{err}; and starting a cluster in {} failed", dir.display()))?;
    println!(
        "1. no Postgres answered ({err}); started one in {} at {}",
        dir.display(),
        db::redact_url(&cluster.url)
    );
    let url = cluster.url.clone();
    Ok((url, Some(cluster)))
}

/// Drops and creates `name`, migrates it, and returns its URL.
async fn recreate_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let admin = db::connect(admin_url).await?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .batch_execute(&sql)
            .await
            .map_err(db::DbError::query(format!("(re)creating database {name}")))?;
    }
    let url = with_dbname(admin_url, name);
    let mut client = db::connect(&url).await?;
    let m = db::migrate(&mut client, &db::SqlDir::locate(None)).await?;
    println!(
        "   database {name}: {} migrations, {} SQL files applied",
        m.applied.len(),
        m.repeatable_files
    );
    Ok(url)
}

/// Writes the logs of `blocks` as JSONL, as `eth_getLogs` returns them.
fn write_jsonl(path: &Path, blocks: &[SimBlock]) -> anyhow::Result<()> {
    use std::io::Write;
    let err = || format!("cannot write {}", path.display());
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).with_context(err)?);
    for b in blocks {
        for log in b.clone().into_raw_logs() {
            writeln!(w, "{}", log.to_json()).with_context(err)?;
        }
    }
    w.flush().with_context(err)
}

/// One simulated block onto anvil: its transactions, then a block mined at `timestamp`.
async fn publish(anvil: &Anvil, block: &SimBlock, timestamp: u64) -> anyhow::Result<()> {
    for tx in &block.txs {
        anvil.send_logs(&tx.emitter, &tx.logs).await?;
    }
    anvil.mine(Some(timestamp)).await
}

/// Waits until the indexer's cursor reaches `block`, failing if it exits or takes too long.
async fn wait_for_cursor(
    client: &tokio_postgres::Client,
    indexer: &mut Service,
    block: u64,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let at: Option<i64> = client
            .query_opt(
                "SELECT block_number FROM chain.cursor WHERE name = 'indexer'",
                &[],
            )
            .await
            .map_err(db::DbError::query("reading the indexer's cursor"))?
            .map(|r| r.get(0));
        if at.is_some_and(|b| b >= block as i64) {
            return Ok(());
        }
        indexer.check_running()?;
        if Instant::now() > deadline {
            anyhow::bail!(
                "the indexer reached block {} of {block} within {}s; see {}",
                at.unwrap_or(0),
                limit.as_secs(),
                indexer.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
