//! orderflow: index every Polymarket trade on Polygon into Postgres, score every wallet's
//! skill in SQL, and trade on it.
#![warn(missing_docs)]

pub mod anvil;
pub mod backtest;
pub mod bench;
pub mod chain;
pub mod cli;
pub mod clob;
pub mod db;
pub mod demo;
pub mod exec;
pub mod gamma;
pub mod ingest;
pub mod metrics;
pub mod replay;
pub mod rpc;
pub mod scores;
pub mod sim;
pub mod telemetry;
