//! Market titles, categories and outcome labels from Polymarket's Gamma API.
//!
//! The chain says which token belongs to which condition and outcome index (`market.tokens`,
//! the truth for accounting); Gamma says what a market is about. This module adds that human
//! layer without making anything depend on it:
//! - [`client`]: paging with limit/offset, a request-rate cap, retries with backoff and jitter
//!   on 429/5xx/timeouts, redacted URLs;
//! - [`record`]: Gamma's records read defensively (its `outcomes`, `outcomePrices` and
//!   `clobTokenIds` are JSON-encoded strings inside the JSON; plain arrays are read too), a bad
//!   record rejected with its id and reason without failing its page;
//! - [`store`]: upserts into `market.gamma_markets` / `market.gamma_events`, rejects into
//!   `market.gamma_rejects`, and the chain cross-check of every clobTokenIds[i] against the
//!   token of (conditionId, outcome i) — from `market.tokens`, or derived when the chain has not
//!   shown the condition yet — stored as a flag and reported, with `market.labels` refreshed;
//! - [`sync`]: `orderflow markets sync` and `orderflow markets import FILE`;
//! - [`refresh`]: the periodic lookup of conditions newly seen on chain, for running services.

pub mod client;
pub mod record;
pub mod refresh;
pub mod store;
pub mod sync;

use thiserror::Error;

pub use client::{GammaClient, GammaOptions, GammaUrl, DEFAULT_GAMMA_URL};
pub use record::{GammaEvent, GammaMarket, RecordError};
pub use refresh::{refresh_once, run_refresher, RefreshOptions, RefreshReport};
pub use store::{Check, Source, Store, StoreReport};
pub use sync::{import_file, sync, SyncOptions, SyncSummary};

use crate::db::DbError;

/// Errors of the Gamma layer, each saying what failed, against which endpoint or file.
#[derive(Debug, Error)]
pub enum GammaError {
    /// The URL is not http:// or https://.
    #[error("bad Gamma URL {url}: expected http:// or https://")]
    BadUrl {
        /// The URL, redacted.
        url: String,
    },
    /// Could not connect or the connection broke.
    #[error("GET {path} from {url}: connection failed: {detail}")]
    Transport {
        /// Request path (without its query).
        path: String,
        /// Endpoint, redacted.
        url: String,
        /// What the HTTP client said.
        detail: String,
    },
    /// No answer in time.
    #[error("GET {path} from {url}: no answer within {secs:.0} s")]
    Timeout {
        /// Request path.
        path: String,
        /// Endpoint, redacted.
        url: String,
        /// The timeout.
        secs: f64,
    },
    /// Gamma answered with an HTTP error status.
    #[error("GET {path} from {url}: HTTP {status}{}", if *.status == 429 { " (rate limited; lower --max-rps)" } else { "" })]
    Http {
        /// Request path.
        path: String,
        /// Endpoint, redacted.
        url: String,
        /// HTTP status.
        status: u16,
        /// Seconds from a Retry-After header.
        retry_after: Option<u64>,
    },
    /// The answer was not a JSON list of records.
    #[error("GET {path} from {url}: bad response: {detail}")]
    BadResponse {
        /// Request path.
        path: String,
        /// Endpoint, redacted.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// A saved file cannot be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// File path.
        path: String,
        /// I/O error.
        source: std::io::Error,
    },
    /// A saved file is not JSON (one document or JSON lines).
    #[error("{path} is not a Gamma JSON file: {detail}")]
    FileFormat {
        /// File path.
        path: String,
        /// What the JSON parser said.
        detail: String,
    },
    /// Writing to or reading from Postgres failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl GammaError {
    /// True when the same request may succeed later (rate limits, server trouble, timeouts,
    /// dropped connections, garbled answers, a database connection lost).
    pub fn is_retryable(&self) -> bool {
        match self {
            GammaError::Transport { .. }
            | GammaError::Timeout { .. }
            | GammaError::BadResponse { .. } => true,
            GammaError::Http { status, .. } => *status == 429 || *status == 408 || *status >= 500,
            GammaError::Db(e) => e.is_retryable(),
            GammaError::BadUrl { .. } | GammaError::File { .. } | GammaError::FileFormat { .. } => {
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_errors() {
        let http = |status| GammaError::Http {
            path: "/markets".into(),
            url: "https://gamma-api.polymarket.com".into(),
            status,
            retry_after: None,
        };
        assert!(http(429).is_retryable() && http(503).is_retryable() && http(500).is_retryable());
        assert!(!http(404).is_retryable() && !http(400).is_retryable());
        assert!(http(429).to_string().contains("rate limited"));
        assert!(!GammaError::BadUrl { url: "x".into() }.is_retryable());
    }
}
