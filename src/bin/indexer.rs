//! `indexer`: streams Polymarket logs into Postgres.

use std::{
    io::{BufReader, IsTerminal},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use orderflow::{
    cli::{ContractArgs, DbArgs, LogArgs},
    db, gamma,
    ingest::{self, import::Progress, FollowOptions, ImportOptions, Writer},
    metrics::{self, Metrics},
    rpc::{RpcClient, RpcOptions},
    scores, telemetry,
};

/// Streams Polymarket exchange, CTF and NegRisk logs into Postgres, exactly once.
///
/// Without a subcommand it reads a JSON-RPC node: backfills from the cursor (or
/// --from-block), then follows the head unless --to-block is given.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    node: NodeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Reading a node.
#[derive(Debug, clap::Args)]
struct NodeArgs {
    /// HTTP(S) JSON-RPC endpoint of a Polygon node (may carry an API key; it is never logged).
    #[arg(long, env = "ORDERFLOW_RPC_URL", hide_env_values = true)]
    rpc_url: Option<String>,
    /// WebSocket endpoint for new-head notifications (polling goes on underneath).
    #[arg(long, env = "ORDERFLOW_WS_URL", hide_env_values = true)]
    ws_url: Option<String>,
    /// First block, when the cursor is behind it or absent (V1 exchange history starts at
    /// 33605403).
    #[arg(long, env = "ORDERFLOW_FROM_BLOCK", default_value_t = 0)]
    from_block: u64,
    /// Last block; without it the indexer follows the head until stopped.
    #[arg(long, env = "ORDERFLOW_TO_BLOCK")]
    to_block: Option<u64>,
    /// Blocks to stay behind the head.
    #[arg(long, env = "ORDERFLOW_CONFIRMATIONS", default_value_t = 0)]
    confirmations: u64,
    /// eth_getLogs requests in flight during backfill.
    #[arg(long, env = "ORDERFLOW_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    concurrency: u64,
    /// First eth_getLogs range in blocks (it adapts to the provider).
    #[arg(long, env = "ORDERFLOW_RANGE", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    range: u64,
    /// Largest eth_getLogs range in blocks (some providers cap it, e.g. 2000 or 10000).
    #[arg(long, env = "ORDERFLOW_MAX_RANGE", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_range: u64,
    /// Logs per write transaction during backfill.
    #[arg(long, env = "ORDERFLOW_BATCH_SIZE", default_value_t = 20_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch_size: u64,
    /// Milliseconds between head polls.
    #[arg(long, env = "ORDERFLOW_POLL_MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(10..))]
    poll_ms: u64,
    /// Seconds before an RPC request is abandoned (and retried).
    #[arg(long, env = "ORDERFLOW_RPC_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    rpc_timeout: u64,
    /// Cursor name in chain.cursor (run several indexers over different ranges with different
    /// names).
    #[arg(long, env = "ORDERFLOW_CURSOR", default_value = "indexer")]
    cursor: String,
    /// Serve Prometheus metrics on this address (e.g. 0.0.0.0:9187).
    #[arg(long, env = "ORDERFLOW_METRICS_ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Never draw a progress bar (log lines instead).
    #[arg(long)]
    no_progress: bool,
    /// Gamma API base URL (e.g. https://gamma-api.polymarket.com): while following, a
    /// background task looks up titles, categories and outcome labels of conditions newly seen
    /// on chain. Its failures are logged and never stop indexing.
    #[arg(long, env = "ORDERFLOW_GAMMA_URL", hide_env_values = true)]
    gamma_url: Option<String>,
    /// Seconds between label lookups (with --gamma-url).
    #[arg(long, env = "ORDERFLOW_LABELS_EVERY_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    labels_every_secs: u64,
    /// Seconds between checks of the score schedule (parameters score_refresh_blocks and
    /// score_refresh_minutes); a due snapshot is taken on its own connection. 0: no snapshots.
    #[arg(long, env = "ORDERFLOW_SCORE_CHECK_SECS", default_value_t = 30)]
    score_check_secs: u64,
    #[command(flatten)]
    contracts: ContractArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a JSONL file of eth_getLogs-shaped logs (one object a line); `-` reads stdin.
    /// Re-importing the same file changes nothing.
    Import {
        /// The file, or `-` for stdin.
        file: PathBuf,
        /// Logs per batch; each batch is one transaction.
        #[arg(long, env = "ORDERFLOW_BATCH_SIZE", default_value_t = 20_000,
              value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch_size: u64,
        /// Never draw a progress bar (log lines instead).
        #[arg(long)]
        no_progress: bool,
        #[command(flatten)]
        contracts: ContractArgs,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    telemetry::exit_on_error(rt.block_on(run(cli)))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log.log_json);
    let Some(command) = cli.command else {
        return follow(cli.node, &cli.db.database_url).await;
    };
    match command {
        Command::Import {
            file,
            batch_size,
            no_progress,
            contracts,
        } => {
            let opts = ImportOptions {
                batch_size: batch_size as usize,
                contracts: contracts.contracts(),
                progress: if !no_progress && std::io::stderr().is_terminal() {
                    Progress::Bar
                } else {
                    Progress::Log
                },
            };
            let mut writer = open_writer(&cli.db.database_url).await?;
            let shutdown = telemetry::shutdown_signal();
            let summary = if file.as_os_str() == "-" {
                let input = BufReader::with_capacity(1 << 20, std::io::stdin());
                ingest::import(input, "stdin", None, &mut writer, &opts, shutdown).await?
            } else {
                let f = std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?;
                let size = f.metadata().ok().map(|m| m.len());
                let input = BufReader::with_capacity(1 << 20, f);
                ingest::import(
                    input,
                    &file.display().to_string(),
                    size,
                    &mut writer,
                    &opts,
                    shutdown,
                )
                .await?
            };
            println!("{summary}");
        }
    }
    Ok(())
}

/// The indexer's writer, with its second connection for deriving positions alongside the writes.
async fn open_writer(database_url: &str) -> anyhow::Result<Writer> {
    let mut writer = Writer::new(db::connect(database_url).await?)
        .await
        .context("is the database migrated? run `orderflow migrate`")?;
    writer
        .derive_alongside(db::connect(database_url).await?)
        .await?;
    Ok(writer)
}

async fn follow(args: NodeArgs, database_url: &str) -> anyhow::Result<()> {
    let Some(rpc_url) = args.rpc_url else {
        anyhow::bail!(
            "nothing to do: give --rpc-url URL (or ORDERFLOW_RPC_URL) to index a node, or `indexer import FILE`"
        );
    };
    let rpc = RpcClient::new(
        &rpc_url,
        RpcOptions {
            timeout: Duration::from_secs(args.rpc_timeout),
            ..RpcOptions::default()
        },
    )?;
    let mut writer = open_writer(database_url).await?;
    // A wrong URL should fail in a second, not after the service's patient retries.
    let probe = RpcClient::new(
        &rpc_url,
        RpcOptions {
            timeout: Duration::from_secs(args.rpc_timeout.min(10)),
            retries: 2,
            ..RpcOptions::default()
        },
    )?;
    let chain_id = probe
        .chain_id()
        .await
        .with_context(|| format!("cannot use the node at {}", rpc.url()))?;
    tracing::info!(target: "indexer", url = %rpc.url(), chain_id, "node answers");
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = args.metrics_addr {
        let (bound, _task) = metrics::serve(addr, metrics.clone())
            .await
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        tracing::info!(target: "indexer", "metrics on http://{bound}/metrics");
    }
    let labels = match &args.gamma_url {
        Some(url) => Some(tokio::spawn(gamma::run_refresher(
            database_url.to_owned(),
            // Few retries inside a cycle: the next cycle tries again anyway.
            gamma::GammaClient::new(
                url,
                gamma::GammaOptions {
                    retries: 2,
                    ..gamma::GammaOptions::default()
                },
            )?,
            gamma::RefreshOptions {
                interval: Duration::from_secs(args.labels_every_secs),
                ..gamma::RefreshOptions::default()
            },
            std::future::pending(),
        ))),
        None => None,
    };
    let scores = (args.score_check_secs > 0).then(|| {
        tokio::spawn(scores::run_refresher(
            database_url.to_owned(),
            Duration::from_secs(args.score_check_secs),
            std::future::pending(),
        ))
    });
    let opts = FollowOptions {
        from_block: args.from_block,
        to_block: args.to_block,
        confirmations: args.confirmations,
        cursor: args.cursor,
        concurrency: args.concurrency as usize,
        initial_span: args.range.min(args.max_range),
        max_span: args.max_range,
        batch_logs: args.batch_size,
        poll_interval: Duration::from_millis(args.poll_ms),
        ws_url: args.ws_url.filter(|u| !u.trim().is_empty()),
        reorg_window: writer.reorg_window().await?,
        contracts: args.contracts.contracts(),
        progress: if !args.no_progress && std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Log
        },
        ..FollowOptions::default()
    };
    let summary = ingest::follow(
        rpc,
        &mut writer,
        opts,
        metrics,
        telemetry::shutdown_signal(),
    )
    .await;
    for task in [labels, scores].into_iter().flatten() {
        task.abort();
    }
    println!("{}", summary?);
    Ok(())
}
