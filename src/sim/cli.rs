//! `orderflow sim` arguments and the run that writes the chain as JSONL.

use std::{
    fmt,
    io::{BufWriter, Write},
    path::PathBuf,
};

use anyhow::Context;

use super::{Sim, SimConfig};

/// Arguments of `orderflow sim` (every flag has an `ORDERFLOW_SIM_*` twin).
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Seed: the same seed and sizes give byte-identical output.
    #[arg(long, env = "ORDERFLOW_SIM_SEED", default_value_t = SimConfig::default().seed)]
    pub seed: u64,
    /// Binary markets (conditions) to create.
    #[arg(long, env = "ORDERFLOW_SIM_MARKETS", default_value_t = SimConfig::default().markets)]
    pub markets: usize,
    /// Wallets (market makers, skilled, noise and retail traders).
    #[arg(long, env = "ORDERFLOW_SIM_WALLETS", default_value_t = SimConfig::default().wallets)]
    pub wallets: usize,
    /// Blocks to simulate.
    #[arg(long, env = "ORDERFLOW_SIM_BLOCKS", default_value_t = SimConfig::default().blocks)]
    pub blocks: u64,
    /// First block number.
    #[arg(
        long,
        env = "ORDERFLOW_SIM_START_BLOCK",
        default_value_t = SimConfig::default().start_block
    )]
    pub start_block: u64,
    /// First block of the V2 exchanges [default: the middle of the run].
    #[arg(long, env = "ORDERFLOW_SIM_CUTOVER_BLOCK")]
    pub cutover_block: Option<u64>,
    /// Unix time of the first block.
    #[arg(
        long,
        env = "ORDERFLOW_SIM_START_TIME",
        default_value_t = SimConfig::default().start_time
    )]
    pub start_time: u64,
    /// Seconds between blocks.
    #[arg(
        long,
        env = "ORDERFLOW_SIM_BLOCK_SECS",
        default_value_t = SimConfig::default().block_secs
    )]
    pub block_secs: u64,
    /// No skill: every buyer picks an outcome with the market's own probability (its price),
    /// a world where following anyone can earn nothing but luck.
    #[arg(long, env = "ORDERFLOW_SIM_NO_SKILL")]
    pub no_skill: bool,
    /// Where to write the logs, one eth_getLogs-shaped JSON object a line (`-` = stdout).
    #[arg(long, env = "ORDERFLOW_SIM_OUT", default_value = "-")]
    pub out: String,
    /// Also write the ground truth (wallet roles and skills, market outcomes) as JSON here.
    #[arg(long, env = "ORDERFLOW_SIM_TRUTH")]
    pub truth: Option<PathBuf>,
}

impl SimArgs {
    /// The validated configuration these arguments describe.
    pub fn config(&self) -> anyhow::Result<SimConfig> {
        let cfg = SimConfig {
            seed: self.seed,
            markets: self.markets,
            wallets: self.wallets,
            blocks: self.blocks,
            start_block: self.start_block,
            cutover_block: self
                .cutover_block
                .unwrap_or_else(|| self.start_block.saturating_add(self.blocks / 2)),
            start_time: self.start_time,
            block_secs: self.block_secs,
            no_skill: self.no_skill,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// What a run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSummary {
    /// Blocks with at least one log.
    pub blocks: u64,
    /// Logs written.
    pub logs: u64,
    /// OrderFilled logs.
    pub fills: u64,
    /// OrdersMatched logs.
    pub matches: u64,
    /// Markets created.
    pub markets: usize,
    /// Of which neg-risk.
    pub neg_risk_markets: usize,
    /// Markets resolved inside the run.
    pub resolved: usize,
    /// Wallets.
    pub wallets: usize,
    /// Where the logs went (`-` for stdout).
    pub out: String,
}

impl fmt::Display for SimSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} blocks, {} logs: {} fills, {} matches, {} markets ({} neg-risk), {} resolved, {} wallets -> {}",
            self.blocks,
            self.logs,
            self.fills,
            self.matches,
            self.markets,
            self.neg_risk_markets,
            self.resolved,
            self.wallets,
            self.out
        )
    }
}

/// Generates the chain of `args` into `--out` as JSONL (buffered, streaming) and the ground
/// truth into `--truth`.
pub fn run_to_jsonl(args: &SimArgs) -> anyhow::Result<SimSummary> {
    let cfg = args.config()?;
    let mut sim = Sim::new(cfg)?;
    let truth = sim.truth();
    if let Some(path) = &args.truth {
        truth.write(path)?;
    }
    let sink: Box<dyn Write> = if args.out == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            std::fs::File::create(&args.out)
                .with_context(|| format!("cannot create --out {}", args.out))?,
        )
    };
    let mut w = BufWriter::with_capacity(1 << 20, sink);
    let write_err = || format!("cannot write --out {}", args.out);
    for block in sim.by_ref() {
        for log in block.into_raw_logs() {
            w.write_all(log.to_json().as_bytes())
                .with_context(write_err)?;
            w.write_all(b"\n").with_context(write_err)?;
        }
    }
    w.flush().with_context(write_err)?;
    let stats = sim.stats();
    Ok(SimSummary {
        blocks: stats.blocks,
        logs: stats.logs,
        fills: stats.fills,
        matches: stats.matches,
        markets: truth.markets.len(),
        neg_risk_markets: truth.markets.iter().filter(|m| m.neg_risk).count(),
        resolved: truth
            .markets
            .iter()
            .filter(|m| m.resolution_block.is_some())
            .count(),
        wallets: truth.wallets.len(),
        out: args.out.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn args(extra: &[&str]) -> SimArgs {
        let mut v = vec!["sim"];
        v.extend_from_slice(extra);
        Cli::parse_from(v).sim
    }

    #[test]
    fn flags_make_a_config_with_the_cutover_in_the_middle() {
        let a = args(&["--blocks", "1000", "--start-block", "500", "--seed", "9"]);
        let c = a.config().unwrap();
        assert_eq!((c.seed, c.blocks, c.start_block), (9, 1000, 500));
        assert_eq!(c.cutover_block, 1000);
        assert_eq!(c.markets, SimConfig::default().markets);
        let e = args(&["--wallets", "2"]).config().unwrap_err().to_string();
        assert!(e.contains("wallets is 2"), "{e}");
    }

    #[test]
    fn writes_jsonl_and_truth_and_counts_them() {
        let dir = std::env::temp_dir().join(format!("orderflow-sim-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("logs.jsonl");
        let truth = dir.join("truth.json");
        let a = args(&[
            "--blocks",
            "2000",
            "--markets",
            "8",
            "--wallets",
            "60",
            "--out",
            out.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ]);
        let s = run_to_jsonl(&a).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text.lines().count() as u64, s.logs);
        let fills = text
            .lines()
            .map(|l| crate::chain::RawLog::from_json(l).unwrap())
            .filter(|l| {
                matches!(
                    crate::chain::decode(l, &crate::chain::Contracts::default()),
                    Ok(Some(crate::chain::Event::OrderFilled(_)))
                )
            })
            .count() as u64;
        assert_eq!(fills, s.fills);
        assert!(s.fills > 0 && s.matches > 0 && s.matches < s.fills);
        let t: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
        assert_eq!(t["markets"].as_array().unwrap().len(), 8);
        assert_eq!(t["wallets"].as_array().unwrap().len(), 60);
        let line = s.to_string();
        assert!(
            line.contains(" fills, ") && line.ends_with(out.to_str().unwrap()),
            "{line}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
