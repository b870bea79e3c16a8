//! The executor's numbers, read from strategy.parameters at every decision (an UPDATE from
//! psql takes effect at the next one).

use std::collections::HashMap;

use rust_decimal::Decimal;
use tokio_postgres::GenericClient;

use super::{
    broker::PaperParams, risk::RiskLimits, sizing::FeeModel, sizing::SizingParams, ExecError,
};
use crate::db::{CachedTx, DbError};

/// Every parameter the executor reads.
pub const NAMES: [&str; 14] = [
    "trading_enabled",
    "kelly_fraction",
    "max_position_fraction",
    "max_open_positions",
    "max_deployed_fraction",
    "stop_loss",
    "daily_loss_limit",
    "signal_ttl_seconds",
    "min_order_usdc",
    "paper_starting_capital",
    "paper_slippage",
    "paper_price_window_seconds",
    "taker_fee_rate",
    "taker_fee_exponent",
];

/// The executor's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Kelly sizing.
    pub sizing: SizingParams,
    /// Risk limits.
    pub limits: RiskLimits,
    /// The paper broker's prices and fees.
    pub paper: PaperParams,
    /// USDC a new paper account starts with.
    pub paper_starting_capital: Decimal,
}

impl Params {
    /// Reads them (one query).
    pub async fn load(db: &impl GenericClient) -> Result<Params, ExecError> {
        let rows = db
            .query(Self::SQL, &[&NAMES.as_slice()])
            .await
            .map_err(DbError::query(Self::READING))?;
        Self::from_rows(&rows)
    }

    /// Reads them through a transaction's statement cache.
    pub async fn load_cached(tx: &CachedTx<'_>) -> Result<Params, ExecError> {
        let rows = tx
            .query(Self::SQL, &[&NAMES.as_slice()])
            .await
            .map_err(DbError::query(Self::READING))?;
        Self::from_rows(&rows)
    }

    /// The statement that reads them.
    pub(crate) const SQL: &'static str =
        "SELECT name, value FROM strategy.parameters WHERE name = ANY($1)";
    const READING: &'static str = "reading the executor's strategy.parameters";

    /// Checks and takes the rows of [`Params::SQL`].
    fn from_rows(rows: &[tokio_postgres::Row]) -> Result<Params, ExecError> {
        let map: HashMap<String, Decimal> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let get = |name: &str| {
            map.get(name)
                .copied()
                .ok_or_else(|| ExecError::MissingParameter(name.to_owned()))
        };
        let non_negative = |name: &str| {
            let v = get(name)?;
            if v < Decimal::ZERO {
                return Err(ExecError::BadParameter {
                    name: name.to_owned(),
                    value: v,
                    expected: "a number >= 0",
                });
            }
            Ok(v)
        };
        let fraction = |name: &str| {
            let v = non_negative(name)?;
            if v > Decimal::ONE {
                return Err(ExecError::BadParameter {
                    name: name.to_owned(),
                    value: v,
                    expected: "a fraction between 0 and 1",
                });
            }
            Ok(v)
        };
        let max_open = non_negative("max_open_positions")?;
        Ok(Params {
            sizing: SizingParams {
                kelly_fraction: non_negative("kelly_fraction")?,
                max_position_fraction: fraction("max_position_fraction")?,
            },
            limits: RiskLimits {
                trading_enabled: get("trading_enabled")? != Decimal::ZERO,
                signal_ttl_secs: non_negative("signal_ttl_seconds")?,
                max_open_positions: u32::try_from(max_open.trunc()).unwrap_or(u32::MAX),
                max_deployed_fraction: fraction("max_deployed_fraction")?,
                stop_loss: fraction("stop_loss")?,
                daily_loss_limit: fraction("daily_loss_limit")?,
                min_order_usdc: non_negative("min_order_usdc")?,
            },
            paper: PaperParams {
                slippage: fraction("paper_slippage")?,
                price_window_secs: non_negative("paper_price_window_seconds")?,
                fees: FeeModel {
                    rate: non_negative("taker_fee_rate")?,
                    exponent: non_negative("taker_fee_exponent")?,
                },
            },
            paper_starting_capital: non_negative("paper_starting_capital")?,
        })
    }
}
