//! The executor: sizing ([`sizing`]) and the limits ([`risk`]) are plain functions over values
//! read from the database, shared with the backtest.

pub mod risk;
pub mod sizing;
