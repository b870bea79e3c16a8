//! `orderflow demo`: the whole pipeline on its embedded default, with nothing to configure.
//! A simulated Polymarket (`orderflow sim`, fixed seed) is served by a local replay node; the
//! live indexer backfills it into a fresh database `orderflow_demo` over JSON-RPC, exactly as
//! it reads Polygon; then the analyst relations are printed as psql would show them.

use std::{sync::Arc, time::Instant};

use clap::Args;

use crate::{
    backtest,
    bench::with_dbname,
    db,
    ingest::{self, FollowOptions, Writer},
    metrics::Metrics,
    replay::{self, ReplayChain},
    rpc::{RpcClient, RpcOptions},
    sim::{Sim, SimConfig},
};

/// Options of the demo.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Blocks of simulated market to index.
    #[arg(long, default_value_t = 20_000)]
    pub blocks: u64,
    /// Simulation seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Database to (re)create on the server of DATABASE_URL.
    #[arg(long, default_value = "orderflow_demo")]
    pub database: String,
}

/// Runs the demo against the server of `database_url`.
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
    let started = Instant::now();
    let cfg = SimConfig {
        seed: args.seed,
        blocks: args.blocks,
        ..SimConfig::default()
    };
    let start = cfg.start_block;
    let mut sim = Sim::new(cfg)?;
    let mut chain = ReplayChain::new(SimConfig::default().start_time);
    for block in sim.by_ref() {
        chain.push(block.into_raw_logs());
    }
    let stats = sim.stats();
    println!(
        "1. simulated Polymarket (seed {}): {} blocks, {} logs: {} fills in {} matches, {} splits, {} resolutions, {} redemptions, {} panic sells",
        args.seed, stats.blocks, stats.logs, stats.fills, stats.matches, stats.splits, stats.resolutions, stats.redemptions, stats.panic_sells
    );
    let head = chain.head();
    let (addr, server) = replay::serve(Arc::new(chain), "127.0.0.1:0".parse()?).await?;

    let admin = db::connect(database_url).await?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", args.database),
        format!("CREATE DATABASE {}", args.database),
    ] {
        admin
            .batch_execute(&sql)
            .await
            .map_err(db::DbError::query(format!(
                "(re)creating database {}",
                args.database
            )))?;
    }
    let url = with_dbname(database_url, &args.database);
    let mut client = db::connect(&url).await?;
    let m = db::migrate(&mut client, &db::SqlDir::locate(None)).await?;
    println!(
        "2. database {}: {} migrations, {} SQL files applied",
        db::redact_url(&url),
        m.applied.len(),
        m.repeatable_files
    );

    let rpc = RpcClient::new(&format!("http://{addr}"), RpcOptions::default())?;
    let mut writer = Writer::new(db::connect(&url).await?).await?;
    let opts = FollowOptions {
        from_block: start,
        to_block: Some(head),
        ..FollowOptions::default()
    };
    let summary = ingest::follow(
        rpc,
        &mut writer,
        opts,
        Arc::new(Metrics::default()),
        crate::telemetry::shutdown_signal(),
    )
    .await?;
    server.abort();
    println!(
        "3. indexer over JSON-RPC (local replay node at {addr}):\n   {}",
        summary.to_string().replace('\n', "\n   ")
    );

    client
        .batch_execute("REFRESH MATERIALIZED VIEW wallet_stats; SELECT flow.take_score_snapshot();")
        .await
        .map_err(db::DbError::query("refreshing wallet_stats and scores"))?;
    // The simulated chain is in the past, so indexing it made no signal (only fresh blocks do).
    // Replay it as it happened, as a backtest does, and keep what it made to show it.
    let replay = std::time::Instant::now();
    let replayed =
        backtest::replay::replay_signals(&client, start as i64, head as i64, 1000).await?;
    println!(
        "\n   history replayed through {} score snapshots and strategy.make_signals ({} blocks, {} signals) in {:.1}s",
        replayed.snapshots,
        replayed.blocks,
        replayed.signals,
        replay.elapsed().as_secs_f64()
    );
    println!(
        "\n4. what an analyst sees (psql \"{}\"):",
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
            "signals as they would have fired (point-in-time scores; won = the bought outcome paid)",
            "SELECT s.action, count(*) AS signals, count(DISTINCT s.wallet_address) AS wallets,
                    round(avg(s.confidence), 3) AS confidence, round(avg(s.trigger_price), 3) AS price,
                    count(o.payout) AS resolved, round(avg((o.payout > 0.5)::int) * 100) AS won_pct,
                    round(avg(o.payout - s.trigger_price), 3) AS edge
             FROM signals s
             LEFT JOIN LATERAL (SELECT flow.payout(decode(substr(s.market_id, 3), 'hex'), s.outcome_index) AS payout) o ON true
             GROUP BY 1 ORDER BY 1",
        ),
        (
            "fills by exchange version, role and side",
            "SELECT version, role, side, count(*) AS fills, round(avg(price), 3) AS avg_price
             FROM trades GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        ),
    ];
    for (title, sql) in queries {
        let rows = client.simple_query(sql).await?;
        println!("\n   {title}");
        print_table(&rows);
    }
    println!(
        "\ndone in {:.1}s. Explore: psql \"{}\"  (relations: trades, positions, wallet_stats, wallet_scores, signals, markets, market_outcomes, wallets; ready queries in sql/, e.g. psql -v id=1 -f sql/why_signal.sql)",
        started.elapsed().as_secs_f64(),
        db::redact_url(&url)
    );
    Ok(())
}

/// Prints simple-query rows as an aligned text table.
fn print_table(msgs: &[tokio_postgres::SimpleQueryMessage]) {
    use tokio_postgres::SimpleQueryMessage;
    let rows: Vec<&tokio_postgres::SimpleQueryRow> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect();
    let Some(first) = rows.first() else {
        println!("   (no rows)");
        return;
    };
    let names: Vec<&str> = first.columns().iter().map(|c| c.name()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            (0..names.len())
                .map(|i| r.get(i).unwrap_or("").to_owned())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..names.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([names[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: Vec<String>| {
        let parts: Vec<String> = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        println!("   {}", parts.join(" | "));
    };
    line(names.iter().map(|s| s.to_string()).collect());
    println!(
        "   {}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for c in cells {
        line(c);
    }
}
