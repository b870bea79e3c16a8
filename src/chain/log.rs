//! The raw log as eth_getLogs returns it, parsed from JSON without trusting it.

use serde::Deserialize;
use thiserror::Error;

use super::hex::{self, HexError};

/// A 20-byte address.
pub type Address = [u8; 20];
/// A 32-byte word (hash, topic).
pub type Word = [u8; 32];

/// One log, validated only as far as its envelope: the event payload is checked by the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLog {
    /// Emitting contract.
    pub address: Address,
    /// Topics, each 32 bytes (0 to 4 of them).
    pub topics: Vec<Word>,
    /// Non-indexed event data.
    pub data: Vec<u8>,
    /// Block number.
    pub block_number: u64,
    /// Index of the log within its block.
    pub log_index: u32,
    /// Transaction hash.
    pub tx_hash: Word,
    /// Block hash, when the source gave one.
    pub block_hash: Option<Word>,
    /// Block time in unix seconds, when the source gave one.
    pub block_timestamp: Option<u64>,
    /// `true` when a node retracts the log after a reorg.
    pub removed: bool,
}

/// Why a line could not be read as a log at all.
#[derive(Debug, Error)]
pub enum LogParseError {
    /// The line is not JSON or lacks a required field.
    #[error("not a log object: {0}")]
    Json(#[from] serde_json::Error),
    /// A field is present but not valid hex of the right width.
    #[error("field {field}: {source}")]
    Field {
        /// The JSON field name.
        field: &'static str,
        /// What was wrong with it.
        source: HexError,
    },
    /// More than four topics.
    #[error("{0} topics (a log has at most 4)")]
    TooManyTopics(usize),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Quantity<'a> {
    Hex(&'a str),
    Number(u64),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonLog<'a> {
    #[serde(borrow)]
    address: &'a str,
    #[serde(borrow)]
    topics: Vec<&'a str>,
    #[serde(borrow)]
    data: &'a str,
    #[serde(borrow)]
    block_number: Quantity<'a>,
    #[serde(borrow)]
    transaction_hash: &'a str,
    #[serde(borrow)]
    log_index: Quantity<'a>,
    #[serde(borrow, default)]
    block_hash: Option<&'a str>,
    #[serde(borrow, default)]
    block_timestamp: Option<Quantity<'a>>,
    #[serde(default)]
    removed: bool,
}

fn field<T>(field: &'static str, r: Result<T, HexError>) -> Result<T, LogParseError> {
    r.map_err(|source| LogParseError::Field { field, source })
}

fn qty(name: &'static str, q: &Quantity<'_>) -> Result<u64, LogParseError> {
    match q {
        Quantity::Hex(s) => field(name, hex::quantity(s)),
        Quantity::Number(n) => Ok(*n),
    }
}

impl RawLog {
    /// Parses one JSON object in eth_getLogs shape.
    pub fn from_json(line: &str) -> Result<Self, LogParseError> {
        let j: JsonLog<'_> = serde_json::from_str(line)?;
        Self::from_parts(j)
    }

    /// Parses a JSON array of log objects (an eth_getLogs result); any bad log fails the whole
    /// array, since a node that sends one is not to be trusted for the rest.
    pub fn array_from_json(json: &str) -> Result<Vec<Self>, LogParseError> {
        let items: Vec<JsonLog<'_>> = serde_json::from_str(json)?;
        items.into_iter().map(Self::from_parts).collect()
    }

    fn from_parts(j: JsonLog<'_>) -> Result<Self, LogParseError> {
        if j.topics.len() > 4 {
            return Err(LogParseError::TooManyTopics(j.topics.len()));
        }
        let topics = j
            .topics
            .iter()
            .map(|t| field("topics", hex::decode_fixed::<32>(t)))
            .collect::<Result<_, _>>()?;
        let log_index = qty("logIndex", &j.log_index)?;
        Ok(RawLog {
            address: field("address", hex::decode_fixed::<20>(j.address))?,
            topics,
            data: field("data", hex::decode(j.data))?,
            block_number: qty("blockNumber", &j.block_number)?,
            log_index: u32::try_from(log_index).map_err(|_| LogParseError::Field {
                field: "logIndex",
                source: HexError::BadQuantity(log_index.to_string()),
            })?,
            tx_hash: field(
                "transactionHash",
                hex::decode_fixed::<32>(j.transaction_hash),
            )?,
            block_hash: j
                .block_hash
                .map(|h| field("blockHash", hex::decode_fixed::<32>(h)))
                .transpose()?,
            block_timestamp: j
                .block_timestamp
                .as_ref()
                .map(|q| qty("blockTimestamp", q))
                .transpose()?,
            removed: j.removed,
        })
    }

    /// The log as one eth_getLogs-shaped JSON object (the inverse of [`RawLog::from_json`]).
    pub fn to_json(&self) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(160 + 67 * self.topics.len() + 2 * self.data.len());
        let _ = write!(
            s,
            "{{\"address\":\"{}\",\"topics\":[",
            hex::encode(&self.address)
        );
        for (i, t) in self.topics.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(s, "{sep}\"{}\"", hex::encode(t));
        }
        let _ = write!(
            s,
            "],\"data\":\"{}\",\"blockNumber\":\"0x{:x}\",\"transactionHash\":\"{}\",\"logIndex\":\"0x{:x}\"",
            hex::encode(&self.data),
            self.block_number,
            hex::encode(&self.tx_hash),
            self.log_index
        );
        if let Some(h) = &self.block_hash {
            let _ = write!(s, ",\"blockHash\":\"{}\"", hex::encode(h));
        }
        if let Some(t) = self.block_timestamp {
            let _ = write!(s, ",\"blockTimestamp\":\"0x{t:x}\"");
        }
        if self.removed {
            s.push_str(",\"removed\":true");
        }
        s.push('}');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_decimal_quantities_and_round_trips() {
        let line = r#"{"address":"0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E","topics":["0xd0a08e8c493f9c94f29311604c9de1b4e8c8d4c06bd0c789af57f2d65bfec0f6"],"data":"0x","blockNumber":51866068,"transactionHash":"0x31d5dca405136cb4ed09bcf817d2b6c2ce1331b18d4b5738eae2e76f7e73e391","logIndex":"0x1b","blockTimestamp":"0x695e9f3d"}"#;
        let log = RawLog::from_json(line).unwrap();
        assert_eq!(log.block_number, 51_866_068);
        assert_eq!(log.log_index, 27);
        assert_eq!(log.block_timestamp, Some(0x695e9f3d));
        assert_eq!(log.address[0], 0x4b);
        assert_eq!(RawLog::from_json(&log.to_json()).unwrap(), log);
    }

    #[test]
    fn names_the_bad_field() {
        let line = r#"{"address":"0x12","topics":[],"data":"0x","blockNumber":"0x1","transactionHash":"0x00","logIndex":"0x0"}"#;
        let err = RawLog::from_json(line).unwrap_err().to_string();
        assert!(err.contains("address"), "{err}");
        assert!(RawLog::from_json("{\"address\":1}").is_err());
    }
}
