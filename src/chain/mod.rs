//! Everything that knows what Polygon and Polymarket look like: contract addresses, raw logs,
//! event decoding and on-chain token ids.

pub mod contracts;
pub mod events;
pub mod hex;
pub mod log;
pub mod position_id;

pub use contracts::{ContractKind, Contracts};
pub use events::{decode, DecodeError, Event};
pub use log::{LogParseError, RawLog};
