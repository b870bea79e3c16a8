//! `orderflow sim`: a deterministic synthetic Polymarket.
//!
//! [`Sim`] streams blocks of logs exactly as the real contracts emit them: markets prepared on
//! the CTF (neg-risk ones through the NegRiskAdapter), matches on the V1 exchanges before the
//! cutover block and on the V2 exchanges from it, splits, merges, conversions, resolutions and
//! redemptions. Behind the logs sit wallets with hidden roles and skills and markets with hidden
//! winners; [`Sim::truth`] hands that ground truth out so scoring can be checked against it.
//!
//! The same [`SimConfig`] always yields byte-identical output: one seeded `StdRng` drives
//! everything, state is iterated in key order only, and the price arithmetic uses only
//! `+ - * /` and `round` on f64 (no transcendental functions whose last bit varies by libm).

mod cli;
pub mod encode;
mod model;
mod truth;

use ethers::utils::keccak256;
use serde::Serialize;
use thiserror::Error;

use crate::chain::{
    log::{Address, Word},
    RawLog,
};

pub use cli::{run_to_jsonl, SimArgs, SimSummary};
pub use model::{Sim, SimStats};
pub use truth::{MarketTruth, Role, Truth, WalletTruth};

/// Fewest wallets that still give every role at least two members.
pub const MIN_WALLETS: usize = 10;
/// Most markets one run prepares (setup derives every token id up front).
pub const MAX_MARKETS: usize = 200_000;
/// Most wallets one run creates.
pub const MAX_WALLETS: usize = 1_000_000;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimConfig {
    /// Seed of the one random generator behind everything.
    pub seed: u64,
    /// Binary markets (conditions); roughly half are neg-risk questions in groups of 1-4.
    pub markets: usize,
    /// Wallets: market makers, skilled, noise and retail traders.
    pub wallets: usize,
    /// Length of the simulated chain in blocks.
    pub blocks: u64,
    /// First block number.
    pub start_block: u64,
    /// First block whose fills go to the V2 exchanges (earlier fills go to V1).
    pub cutover_block: u64,
    /// Unix time of `start_block`.
    pub start_time: u64,
    /// Seconds between blocks.
    pub block_secs: u64,
    /// A world without skill: every buyer picks an outcome with the market's own probability
    /// (its price), so no wallet knows more than the price. The null world of the backtest.
    /// Left out of the ground truth's JSON when false, so default runs stay byte-identical.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_skill: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 7,
            markets: 40,
            wallets: 400,
            blocks: 20_000,
            start_block: 84_000_000,
            cutover_block: 84_010_000,
            // 2 s blocks from here put block 84_902_353 (the real V2 launch) at 2026-04-28.
            start_time: 1_775_529_694,
            block_secs: 2,
            no_skill: false,
        }
    }
}

impl SimConfig {
    /// Checks that the numbers make a simulation; the error names the value and the fix.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Config(m));
        if self.blocks == 0 {
            return bad("blocks is 0: simulate at least 1 block".into());
        }
        if self.start_block.checked_add(self.blocks).is_none() {
            return bad(format!(
                "start block {} + {} blocks overflows a u64: lower one of them",
                self.start_block, self.blocks
            ));
        }
        if self.markets == 0 || self.markets > MAX_MARKETS {
            return bad(format!(
                "markets is {}: use 1 to {MAX_MARKETS}",
                self.markets
            ));
        }
        if self.wallets < MIN_WALLETS || self.wallets > MAX_WALLETS {
            return bad(format!(
                "wallets is {}: the roles need at least {MIN_WALLETS} (at most {MAX_WALLETS})",
                self.wallets
            ));
        }
        if self.block_secs == 0 {
            return bad("block_secs is 0: blocks need at least 1 second between them".into());
        }
        let span = self.blocks.saturating_mul(self.block_secs);
        if self.start_time.checked_add(span).is_none() {
            return bad(format!(
                "start time {} + {span} s overflows a u64: lower start_time",
                self.start_time
            ));
        }
        Ok(())
    }

    /// One past the last block.
    pub fn end_block(&self) -> u64 {
        self.start_block.saturating_add(self.blocks)
    }
}

/// What went wrong in the simulator.
#[derive(Debug, Error)]
pub enum SimError {
    /// A configuration value is out of range.
    #[error("invalid simulation config: {0}")]
    Config(String),
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Serialising the ground truth failed.
    #[error("cannot serialise the ground truth: {0}")]
    Json(#[from] serde_json::Error),
}

impl SimError {
    /// Only an I/O failure can go away on its own (a full disk freed, a mount back);
    /// the same config always fails the same way.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SimError::Io { .. })
    }
}

/// One transaction's logs, all emitted by one contract (a real transaction whose logs come
/// from two contracts, e.g. a neg-risk split, is two `SimTx`s in a row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTx {
    /// The contract that emits every log of this transaction.
    pub emitter: Address,
    /// Topics and data of each log, in emission order.
    pub logs: Vec<(Vec<Word>, Vec<u8>)>,
}

/// A block that has at least one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBlock {
    /// Block number.
    pub number: u64,
    /// Unix seconds.
    pub timestamp: u64,
    /// Block hash: keccak256(number ‖ seed), both big-endian u64.
    pub hash: Word,
    /// Transactions in block order.
    pub txs: Vec<SimTx>,
}

/// The synthetic transaction hash: keccak256(block number ‖ tx index), big-endian.
pub fn tx_hash(block: u64, tx_index: u32) -> Word {
    let mut b = [0u8; 12];
    b[..8].copy_from_slice(&block.to_be_bytes());
    b[8..].copy_from_slice(&tx_index.to_be_bytes());
    keccak256(b)
}

/// The synthetic block hash: keccak256(block number ‖ seed), big-endian.
pub fn block_hash(block: u64, seed: u64) -> Word {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&block.to_be_bytes());
    b[8..].copy_from_slice(&seed.to_be_bytes());
    keccak256(b)
}

impl SimBlock {
    /// Number of logs in the block.
    pub fn log_count(&self) -> usize {
        self.txs.iter().map(|t| t.logs.len()).sum()
    }

    /// The block's logs as eth_getLogs returns them: log_index counts up across the block.
    pub fn to_raw_logs(&self) -> Vec<RawLog> {
        let mut out = Vec::with_capacity(self.log_count());
        let mut log_index = 0u32;
        for (i, tx) in self.txs.iter().enumerate() {
            let tx_hash = tx_hash(self.number, i as u32);
            for (topics, data) in &tx.logs {
                out.push(RawLog {
                    address: tx.emitter,
                    topics: topics.clone(),
                    data: data.clone(),
                    block_number: self.number,
                    log_index,
                    tx_hash,
                    block_hash: Some(self.hash),
                    block_timestamp: Some(self.timestamp),
                    removed: false,
                });
                log_index += 1;
            }
        }
        out
    }

    /// [`SimBlock::to_raw_logs`] without copying topics and data.
    pub fn into_raw_logs(self) -> Vec<RawLog> {
        let mut out = Vec::with_capacity(self.log_count());
        let mut log_index = 0u32;
        let (number, hash, timestamp) = (self.number, self.hash, self.timestamp);
        for (i, tx) in self.txs.into_iter().enumerate() {
            let tx_hash = tx_hash(number, i as u32);
            for (topics, data) in tx.logs {
                out.push(RawLog {
                    address: tx.emitter,
                    topics,
                    data,
                    block_number: number,
                    log_index,
                    tx_hash,
                    block_hash: Some(hash),
                    block_timestamp: Some(timestamp),
                    removed: false,
                });
                log_index += 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_bad_value() {
        assert!(SimConfig::default().validate().is_ok());
        let e = SimConfig {
            wallets: 3,
            ..SimConfig::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("wallets is 3"), "{e}");
        let e = SimConfig {
            blocks: 0,
            ..SimConfig::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("blocks is 0"), "{e}");
        assert!(SimConfig {
            markets: 0,
            ..SimConfig::default()
        }
        .validate()
        .is_err());
        assert!(SimConfig {
            start_block: u64::MAX,
            ..SimConfig::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn raw_logs_number_across_the_block() {
        let b = SimBlock {
            number: 5,
            timestamp: 10,
            hash: block_hash(5, 1),
            txs: vec![
                SimTx {
                    emitter: [1; 20],
                    logs: vec![(vec![[0; 32]], vec![]), (vec![[1; 32]], vec![])],
                },
                SimTx {
                    emitter: [2; 20],
                    logs: vec![(vec![[2; 32]], vec![])],
                },
            ],
        };
        let logs = b.to_raw_logs();
        assert_eq!(
            logs.iter().map(|l| l.log_index).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(logs[0].tx_hash, logs[1].tx_hash);
        assert_ne!(logs[1].tx_hash, logs[2].tx_hash);
        assert_eq!(logs[2].address, [2; 20]);
        assert_eq!(b.clone().into_raw_logs(), logs);
        assert_ne!(block_hash(5, 1), block_hash(5, 2));
    }
}
