//! `orderflow`: the admin CLI.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use orderflow::{
    anvil, backtest, bench,
    cli::{DbArgs, LogArgs},
    clob, db, demo, gamma, scores, sim, telemetry,
};

/// Admin commands for orderflow: schema, simulation, benchmarks, market labels.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations, then functions/ and views/ from disk, in one transaction. Idempotent.
    Migrate {
        /// Folder holding functions/ and views/ (default: the current folder if it has them,
        /// else the source tree).
        #[arg(long, env = "ORDERFLOW_SQL_DIR")]
        sql_dir: Option<PathBuf>,
    },
    /// Re-apply functions/ and views/ only (after an analyst's edit).
    #[command(name = "sql-reload")]
    SqlReload {
        /// Folder holding functions/ and views/.
        #[arg(long, env = "ORDERFLOW_SQL_DIR")]
        sql_dir: Option<PathBuf>,
    },
    /// A deterministic synthetic Polymarket: markets, skilled and unskilled wallets, market
    /// makers, panic sellers, resolutions. Writes JSONL logs (`--out`), or publishes them live
    /// onto an anvil node (`--rpc-url`) from the real contract addresses.
    Sim {
        #[command(flatten)]
        args: sim::SimArgs,
        /// Publish onto this anvil node instead of writing JSONL.
        #[arg(long, env = "ORDERFLOW_SIM_RPC_URL", hide_env_values = true)]
        rpc_url: Option<String>,
        /// Milliseconds between published blocks (0: as fast as the node takes them).
        #[arg(long, env = "ORDERFLOW_SIM_PACE_MS", default_value_t = 0)]
        pace_ms: u64,
    },
    /// The whole pipeline on its embedded default: a simulated Polymarket served over
    /// JSON-RPC, indexed into a fresh database `orderflow_demo`, then shown as an analyst sees it.
    Demo(demo::DemoArgs),
    /// Replay a stored period: point-in-time score snapshots, the live signal function, the
    /// executor's sizing, limits, slippage and fees after a latency; the strategy against three
    /// baselines with bootstrap intervals by market; writes a report. Leaves the database as
    /// it was (one transaction, rolled back).
    Backtest(backtest::cli::BacktestArgs),
    /// Wallet score snapshots: `orderflow scores snapshot [--block N]`.
    #[command(subcommand)]
    Scores(ScoresCommand),
    /// Benchmarks that print their numbers.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Market titles, categories and outcome labels from Polymarket's Gamma API.
    #[command(subcommand)]
    Markets(MarketsCommand),
    /// Polymarket CLOB orders: sign one, compute amounts.
    #[command(subcommand)]
    Order(clob::cli::OrderCommand),
}

#[derive(Debug, Subcommand)]
enum ScoresCommand {
    /// Score every wallet as known at a block (default: the head, refreshing wallet_stats too)
    /// and keep it as a snapshot (views wallet_scores, wallet_scores_now).
    Snapshot {
        /// The last block the snapshot may see (default: the newest indexed).
        #[arg(long, env = "ORDERFLOW_SCORE_BLOCK")]
        block: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum MarketsCommand {
    /// Page through Gamma's markets and events and upsert them; every clobTokenIds list is
    /// cross-checked against the chain's tokens and a mismatch is reported.
    Sync {
        #[command(flatten)]
        gamma: GammaArgs,
        /// Records per page.
        #[arg(long, env = "ORDERFLOW_GAMMA_PAGE_SIZE", default_value_t = 500,
              value_parser = clap::value_parser!(u64).range(1..=10_000))]
        page_size: u64,
        /// Only open markets and events (skip the closed history).
        #[arg(long, env = "ORDERFLOW_GAMMA_ONLY_OPEN")]
        only_open: bool,
        /// Skip the events listing (categories and tags then come only from markets).
        #[arg(long, env = "ORDERFLOW_GAMMA_NO_EVENTS")]
        no_events: bool,
        /// Stop each listing after this many pages.
        #[arg(long, env = "ORDERFLOW_GAMMA_MAX_PAGES")]
        max_pages: Option<usize>,
    },
    /// Load Gamma records from a saved JSON file: an array of markets or events, saved pages,
    /// or JSON lines.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// One cycle of the label refresher: look up conditions seen on chain that have no labels.
    Refresh {
        #[command(flatten)]
        gamma: GammaArgs,
    },
}

/// Where Gamma is and how hard to ask it.
#[derive(Debug, clap::Args)]
struct GammaArgs {
    /// Gamma API base URL.
    #[arg(long, env = "ORDERFLOW_GAMMA_URL", default_value = gamma::DEFAULT_GAMMA_URL,
          hide_env_values = true)]
    gamma_url: String,
    /// Most requests per second (0: no cap).
    #[arg(long, env = "ORDERFLOW_GAMMA_MAX_RPS", default_value_t = 5.0)]
    max_rps: f64,
    /// Retries of a request after 429, 5xx or a transport error.
    #[arg(long, env = "ORDERFLOW_GAMMA_RETRIES", default_value_t = 8)]
    retries: u32,
}

impl GammaArgs {
    fn client(&self) -> anyhow::Result<gamma::GammaClient> {
        Ok(gamma::GammaClient::new(
            &self.gamma_url,
            gamma::GammaOptions {
                max_rps: self.max_rps,
                retries: self.retries,
                ..gamma::GammaOptions::default()
            },
        )?)
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    telemetry::exit_on_error(rt.block_on(run(cli)))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log.log_json);
    match cli.command {
        Command::Migrate { sql_dir } => {
            let sql = db::SqlDir::locate(sql_dir.as_deref());
            let mut client = db::connect(&cli.db.database_url).await?;
            let r = db::migrate(&mut client, &sql).await?;
            println!(
                "migrated: {} new migration(s){}; {} repeatable SQL file(s) applied from {}",
                r.applied.len(),
                if r.applied.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.applied.join(", "))
                },
                r.repeatable_files,
                sql.0.display()
            );
        }
        Command::Sim {
            args,
            rpc_url: None,
            ..
        } => {
            // stdout may be the data (`--out -`), so the summary goes to stderr.
            let summary = tokio::task::spawn_blocking(move || sim::run_to_jsonl(&args)).await??;
            eprintln!("{summary}");
        }
        Command::Sim {
            args,
            rpc_url: Some(url),
            pace_ms,
        } => {
            let mut s = sim::Sim::new(args.config()?)?;
            if let Some(path) = &args.truth {
                s.write_truth(path)?;
            }
            let (blocks, logs) = anvil::publish_sim(
                &url,
                &mut s,
                std::time::Duration::from_millis(pace_ms),
                telemetry::shutdown_signal(),
            )
            .await?;
            eprintln!("published {blocks} blocks, {logs} logs");
        }
        Command::Demo(args) => demo::run(args, &cli.db.database_url).await?,
        Command::Backtest(args) => backtest::cli::run(args, &cli.db.database_url).await?,
        Command::SqlReload { sql_dir } => {
            let sql = db::SqlDir::locate(sql_dir.as_deref());
            let mut client = db::connect(&cli.db.database_url).await?;
            let tx = client.transaction().await?;
            let n = sql.apply(&tx).await?;
            tx.commit().await?;
            println!(
                "reloaded {n} repeatable SQL file(s) from {}",
                sql.0.display()
            );
        }
        Command::Scores(ScoresCommand::Snapshot { block }) => {
            let client = db::connect(&cli.db.database_url).await?;
            println!("{}", scores::snapshot(&client, block, "manual").await?);
        }
        Command::Bench(b) => bench::run(b, &cli.db.database_url).await?,
        Command::Markets(m) => markets(m, &cli.db.database_url).await?,
        Command::Order(o) => clob::cli::run(o)?,
    }
    Ok(())
}

async fn markets(cmd: MarketsCommand, database_url: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut client = db::connect(database_url).await?;
    match cmd {
        MarketsCommand::Sync {
            gamma: args,
            page_size,
            only_open,
            no_events,
            max_pages,
        } => {
            let g = args.client()?;
            let opts = gamma::SyncOptions {
                page_size: page_size as usize,
                include_closed: !only_open,
                events: !no_events,
                max_pages,
            };
            let summary = gamma::sync(&mut client, &g, &opts, telemetry::shutdown_signal())
                .await
                .with_context(|| format!("markets sync from {}", g.url()))?;
            println!("{summary}");
        }
        MarketsCommand::Import { file } => {
            let summary = gamma::import_file(&mut client, &file).await?;
            println!("{summary}");
        }
        MarketsCommand::Refresh { gamma: args } => {
            let g = args.client()?;
            let r = gamma::refresh_once(&mut client, &g, &gamma::RefreshOptions::default())
                .await
                .with_context(|| format!("markets refresh from {}", g.url()))?;
            println!("{r}");
        }
    }
    Ok(())
}
