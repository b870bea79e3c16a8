//! The Polymarket contracts on Polygon, and which of them a run listens to.

use std::{collections::HashMap, fmt, str::FromStr};

use thiserror::Error;

use super::{hex, log::Address};

/// What a contract is, which decides how its logs are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContractKind {
    /// CTF Exchange V1 (2022-11 .. 2026-04-28).
    ExchangeV1,
    /// NegRisk CTF Exchange V1.
    NegRiskExchangeV1,
    /// CTF Exchange V2 (since 2026-04-28).
    ExchangeV2,
    /// NegRisk CTF Exchange V2.
    NegRiskExchangeV2,
    /// Gnosis ConditionalTokens (the CTF).
    ConditionalTokens,
    /// NegRiskAdapter.
    NegRiskAdapter,
    /// V1 fee module, which refunds part of a V1 fee.
    FeeModuleV1,
}

impl ContractKind {
    const ALL: [(ContractKind, &'static str); 7] = [
        (ContractKind::ExchangeV1, "exchange_v1"),
        (ContractKind::NegRiskExchangeV1, "negrisk_exchange_v1"),
        (ContractKind::ExchangeV2, "exchange_v2"),
        (ContractKind::NegRiskExchangeV2, "negrisk_exchange_v2"),
        (ContractKind::ConditionalTokens, "ctf"),
        (ContractKind::NegRiskAdapter, "negrisk_adapter"),
        (ContractKind::FeeModuleV1, "fee_module_v1"),
    ];

    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Exchange generation (1 or 2), if this is an exchange.
    pub fn exchange_version(self) -> Option<i16> {
        match self {
            ContractKind::ExchangeV1 | ContractKind::NegRiskExchangeV1 => Some(1),
            ContractKind::ExchangeV2 | ContractKind::NegRiskExchangeV2 => Some(2),
            _ => None,
        }
    }
}

impl fmt::Display for ContractKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Well-known addresses (chain id 137).
pub mod addr {
    /// CTF Exchange V1.
    pub const EXCHANGE_V1: &str = "0x4bfb41d5b3570defd03c39a9a4d8de6bd8b8982e";
    /// NegRisk CTF Exchange V1.
    pub const NEGRISK_EXCHANGE_V1: &str = "0xc5d563a36ae78145c45a50134d48a1215220f80a";
    /// CTF Exchange V2.
    pub const EXCHANGE_V2: &str = "0xe111180000d2663c0091e4f400237545b87b996b";
    /// NegRisk CTF Exchange V2.
    pub const NEGRISK_EXCHANGE_V2: &str = "0xe2222d279d744050d28e00520010520000310f59";
    /// NegRisk CTF Exchange V2, first deployment.
    pub const NEGRISK_EXCHANGE_V2_EARLY: &str = "0xe2222d002000ba0053cef3375333610f64600036";
    /// ConditionalTokens.
    pub const CTF: &str = "0x4d97dcd97ec945f40cf65f87097ace5ea0476045";
    /// NegRiskAdapter.
    pub const NEGRISK_ADAPTER: &str = "0xd91e80cf2e7be2e162c6513ced06f1dd0da35296";
    /// NegRisk WrappedCollateral: the collateral neg-risk token ids are derived from.
    pub const NEGRISK_WRAPPED_COLLATERAL: &str = "0x3a3bd7bb9528e159577f7c2e685cc81a765002e2";
    /// USDC.e: the collateral standard token ids are derived from.
    pub const USDC_E: &str = "0x2791bca1f2de4661ed88a30c99a7a9449aa84174";
    /// pUSD, V2 collateral.
    pub const PUSD: &str = "0xc011a7e12a19f7b1f670d46f03b03f3342e82dfb";
}

/// Parses one of the constants above.
pub fn known(a: &str) -> Address {
    hex::decode_fixed::<20>(a).expect("well-known address constant")
}

/// A bad `--contracts` value.
#[derive(Debug, Error)]
pub enum ContractsError {
    /// An entry is not `kind:0xaddress`.
    #[error("contract entry {0:?} is not kind:0xaddress")]
    Syntax(String),
    /// Unknown kind name.
    #[error("unknown contract kind {kind:?} (known: {known})")]
    UnknownKind {
        /// The name given.
        kind: String,
        /// The accepted names.
        known: String,
    },
    /// Address is not 20 bytes of hex.
    #[error("contract address {addr:?}: {source}")]
    Address {
        /// The text given.
        addr: String,
        /// What was wrong.
        source: hex::HexError,
    },
}

/// The set of contracts whose logs a run decodes; logs from any other address are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contracts {
    by_address: HashMap<Address, ContractKind>,
}

impl Default for Contracts {
    fn default() -> Self {
        use addr::*;
        let mut c = Contracts {
            by_address: HashMap::new(),
        };
        for (a, k) in [
            (EXCHANGE_V1, ContractKind::ExchangeV1),
            (NEGRISK_EXCHANGE_V1, ContractKind::NegRiskExchangeV1),
            (EXCHANGE_V2, ContractKind::ExchangeV2),
            (NEGRISK_EXCHANGE_V2, ContractKind::NegRiskExchangeV2),
            (NEGRISK_EXCHANGE_V2_EARLY, ContractKind::NegRiskExchangeV2),
            (CTF, ContractKind::ConditionalTokens),
            (NEGRISK_ADAPTER, ContractKind::NegRiskAdapter),
        ] {
            c.by_address.insert(known(a), k);
        }
        for a in FEE_MODULES_V1 {
            c.by_address.insert(known(a), ContractKind::FeeModuleV1);
        }
        c
    }
}

/// V1 fee modules (exchange-fee-module v2.0.0: FeeModule for the CTF exchange, NegRiskFeeModule
/// for the NegRisk exchange). The 2023 module at 0x56c7…e113 emitted a different, unindexed
/// FeeRefunded and is not decoded.
pub const FEE_MODULES_V1: [&str; 2] = [
    "0xe3f18acc55091e2c48d883fc8c8413319d4ab7b0",
    "0xb768891e3130f6df18214ac804d4db76c2c37730",
];

impl Contracts {
    /// What the contract at `address` is, if this run listens to it.
    #[inline]
    pub fn kind(&self, address: &Address) -> Option<ContractKind> {
        self.by_address.get(address).copied()
    }

    /// Every address of the set (for eth_getLogs filters).
    pub fn addresses(&self) -> Vec<Address> {
        let mut v: Vec<_> = self.by_address.keys().copied().collect();
        v.sort();
        v
    }

    /// True if `address` is one of the exchanges (the taker of a taker-order fill).
    pub fn is_exchange(&self, address: &Address) -> bool {
        self.kind(address)
            .is_some_and(|k| k.exchange_version().is_some())
    }
}

impl FromStr for Contracts {
    type Err = ContractsError;

    /// `kind:0xaddress,kind:0xaddress,…` replaces the default list.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut by_address = HashMap::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kind, a) = entry
                .split_once(':')
                .ok_or_else(|| ContractsError::Syntax(entry.to_owned()))?;
            let kind = ContractKind::ALL
                .iter()
                .find(|(_, n)| *n == kind.trim())
                .map(|(k, _)| *k)
                .ok_or_else(|| ContractsError::UnknownKind {
                    kind: kind.to_owned(),
                    known: ContractKind::ALL.map(|(_, n)| n).join(", "),
                })?;
            let address =
                hex::decode_fixed::<20>(a.trim()).map_err(|source| ContractsError::Address {
                    addr: a.to_owned(),
                    source,
                })?;
            by_address.insert(address, kind);
        }
        Ok(Contracts { by_address })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Contracts::default();
        assert_eq!(
            c.kind(&known(addr::EXCHANGE_V2)),
            Some(ContractKind::ExchangeV2)
        );
        assert!(c.is_exchange(&known(addr::NEGRISK_EXCHANGE_V1)));
        assert!(!c.is_exchange(&known(addr::CTF)));
        let o: Contracts = "exchange_v1:0x00000000000000000000000000000000000000aa, ctf:0x00000000000000000000000000000000000000bb"
            .parse()
            .unwrap();
        assert_eq!(o.addresses().len(), 2);
        assert_eq!(o.kind(&known(addr::EXCHANGE_V1)), None);
        let e = "nope:0x00".parse::<Contracts>().unwrap_err().to_string();
        assert!(e.contains("unknown contract kind"), "{e}");
        assert!("exchange_v1=0x00".parse::<Contracts>().is_err());
        assert!("exchange_v1:0x00".parse::<Contracts>().is_err());
    }
}
