//! The hidden state behind the simulated chain: who each wallet is and how each market ends.

use std::{io::Write, path::Path};

use ethers::types::U256;
use serde::{Serialize, Serializer};

use super::{SimConfig, SimError};
use crate::chain::{
    hex,
    log::{Address, Word},
};

/// What a wallet does in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Quotes both sides; the maker of most fills; mints inventory with splits.
    MarketMaker,
    /// Buys the eventual winner 65-90% of the time.
    Skilled,
    /// Buys the eventual winner about half the time.
    Noise,
    /// Buys the eventual winner 20-45% of the time and panic-sells after sharp drops.
    Retail,
}

/// One wallet's hidden identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WalletTruth {
    /// The address that appears as `maker` in its fills.
    #[serde(serialize_with = "ser_hex")]
    pub address: Address,
    /// Its role.
    pub role: Role,
    /// Probability that a buy of its is a buy of the eventual winner (3 decimals).
    pub skill: f64,
}

/// One binary market (condition) and how it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketTruth {
    /// CTF condition id.
    #[serde(serialize_with = "ser_hex")]
    pub condition_id: Word,
    /// Question id the condition was prepared with.
    #[serde(serialize_with = "ser_hex")]
    pub question_id: Word,
    /// The condition's oracle (the NegRiskAdapter for neg-risk markets).
    #[serde(serialize_with = "ser_hex")]
    pub oracle: Address,
    /// Collateral its token ids are derived from.
    #[serde(serialize_with = "ser_hex")]
    pub collateral: Address,
    /// True when the NegRiskAdapter is the oracle.
    pub neg_risk: bool,
    /// The adapter's market id (the group of mutually exclusive questions), neg-risk only.
    #[serde(serialize_with = "ser_opt_hex")]
    pub neg_risk_market_id: Option<Word>,
    /// Index of the question in its neg-risk market, neg-risk only.
    pub question_index: Option<u8>,
    /// ERC-1155 token ids of outcome 0 and outcome 1, as decimal strings in JSON.
    #[serde(serialize_with = "ser_dec2")]
    pub token_ids: [U256; 2],
    /// The outcome that wins (0 or 1), whether or not it resolves inside the run.
    pub winning_outcome: u8,
    /// Block of its ConditionPreparation.
    pub created_block: u64,
    /// Block of its ConditionResolution, if inside the run.
    pub resolution_block: Option<u64>,
}

/// Everything hidden: the config, every wallet and every market, in creation order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    /// The configuration that produced the run.
    pub config: SimConfig,
    /// Wallets by index.
    pub wallets: Vec<WalletTruth>,
    /// Markets by index (creation order).
    pub markets: Vec<MarketTruth>,
}

impl Truth {
    /// Pretty JSON with a trailing newline, fields and rows in a fixed order.
    pub fn to_json_pretty(&self) -> Result<String, SimError> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }

    /// Writes [`Truth::to_json_pretty`] to `path`.
    pub fn write(&self, path: &Path) -> Result<(), SimError> {
        let io = |source| SimError::Io {
            path: path.display().to_string(),
            source,
        };
        let json = self.to_json_pretty()?;
        let mut f = std::fs::File::create(path).map_err(io)?;
        f.write_all(json.as_bytes()).map_err(io)?;
        f.flush().map_err(io)
    }
}

fn ser_hex<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

fn ser_opt_hex<S: Serializer>(v: &Option<Word>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(w) => s.serialize_str(&hex::encode(w)),
        None => s.serialize_none(),
    }
}

fn ser_dec2<S: Serializer>(v: &[U256; 2], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeTuple;
    let mut t = s.serialize_tuple(2)?;
    for x in v {
        t.serialize_element(&x.to_string())?;
    }
    t.end()
}
