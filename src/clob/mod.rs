//! Trading on Polymarket's CLOB: EIP-712 orders (V1 for history, V2 and V3 for trading),
//! amounts from price and size by tick size, L1 (EIP-712) and L2 (HMAC) authentication, and a
//! REST client that retries only where a retry cannot place an order twice.
//!
//! Secrets (the private key, the API secret and passphrase) live in types whose Debug and
//! Display print `***`, and no error message carries them.

pub mod amounts;
pub mod auth;
pub mod cli;
pub mod client;
pub mod order;
pub mod secret;

pub use amounts::{market_order_amounts, order_amounts, taker_fee, TickSize};
pub use auth::{ApiCreds, L2Headers};
pub use client::{ClobClient, ClobOptions, OpenOrder};
pub use order::{Domain, Order, OrderVersion, Side, SignedOrder};
pub use secret::{PrivateKey, Secret};

use thiserror::Error;

/// Polymarket's public CLOB API.
pub const DEFAULT_CLOB_URL: &str = "https://clob.polymarket.com";

/// Polygon mainnet.
pub const POLYGON: u64 = 137;

/// Polygon's Amoy testnet (the public clients' test vectors are signed for it).
pub const AMOY: u64 = 80_002;

/// Errors of the CLOB layer: bad input (orders, keys, amounts), signing, and the REST API.
/// No variant carries a private key, an API secret or a passphrase.
#[derive(Debug, Error)]
pub enum ClobError {
    /// An order's JSON or one of its fields is not acceptable.
    #[error("bad order: {0}")]
    BadOrder(String),
    /// A price, size, amount or tick size is out of range or malformed.
    #[error("bad amount: {0}")]
    BadAmount(String),
    /// The private key could not be read or is not a secp256k1 key (the key itself is never
    /// shown).
    #[error("private key: {0}")]
    BadKey(String),
    /// A secret that the call needs was not given.
    #[error("missing {0}")]
    Missing(String),
    /// The order cannot be signed by this key or for this version.
    #[error("cannot sign: {0}")]
    Signing(String),
    /// The base URL is not http(s)://.
    #[error("bad CLOB URL {url}: expected http:// or https://")]
    BadUrl {
        /// The URL, redacted.
        url: String,
    },
    /// Could not connect, or the connection broke.
    #[error("{method} {path} at {url}: connection failed: {detail}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Request path without its query.
        path: String,
        /// Base URL, redacted.
        url: String,
        /// What the HTTP client said (without URLs).
        detail: String,
    },
    /// No answer in time.
    #[error("{method} {path} at {url}: no answer within {secs:.0} s")]
    Timeout {
        /// HTTP method.
        method: &'static str,
        /// Request path without its query.
        path: String,
        /// Base URL, redacted.
        url: String,
        /// The timeout.
        secs: f64,
    },
    /// The API answered with an HTTP error status.
    #[error("{method} {path} at {url}: HTTP {status}{}{}",
            if *.status == 429 { " (rate limited)" } else { "" },
            if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    Http {
        /// HTTP method.
        method: &'static str,
        /// Request path without its query.
        path: String,
        /// Base URL, redacted.
        url: String,
        /// HTTP status.
        status: u16,
        /// The API's own error text (`{"error": ...}`), shortened.
        message: String,
        /// Seconds from a Retry-After header.
        retry_after: Option<u64>,
    },
    /// The answer was not the JSON we expect.
    #[error("{method} {path} at {url}: bad response: {detail}")]
    BadResponse {
        /// HTTP method.
        method: &'static str,
        /// Request path without its query.
        path: String,
        /// Base URL, redacted.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The exchange answered 200 but refused the order (`success: false`).
    #[error("order {order_hash} refused: {message}")]
    Refused {
        /// The order's EIP-712 hash.
        order_hash: String,
        /// The API's `errorMsg`.
        message: String,
    },
}

impl ClobError {
    /// True when the same request may succeed later: rate limits, server trouble, timeouts,
    /// dropped connections. Bad input, signing problems and refusals are final. The client
    /// never retries POST /order by itself whatever this says: a retry after a lost answer
    /// could place the order twice, so the caller reconciles by order hash.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClobError::Transport { .. } | ClobError::Timeout { .. } => true,
            ClobError::Http { status, .. } => *status == 429 || *status == 408 || *status >= 500,
            ClobError::BadResponse { .. } => true,
            ClobError::BadOrder(_)
            | ClobError::BadAmount(_)
            | ClobError::BadKey(_)
            | ClobError::Missing(_)
            | ClobError::Signing(_)
            | ClobError::BadUrl { .. }
            | ClobError::Refused { .. } => false,
        }
    }

    /// True when an answer to POST /order shows that the exchange did not take the order and
    /// asks for it again later: 429 (throttled before the order was read) and 503 (the
    /// exchange is not taking orders). Posting the same signed order again is then safe; after
    /// a timeout or a dropped connection it is not known, and the order must be looked up.
    pub fn surely_not_taken(&self) -> bool {
        matches!(
            self,
            ClobError::Http {
                status: 429 | 503,
                ..
            }
        )
    }

    /// True when the CLOB refused the API credentials (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ClobError::Http { status: 401, .. })
    }

    /// Seconds the server asked us to wait (Retry-After), if it did.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ClobError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True when the exchange refused the order because it was signed for another version
    /// (the caller asks `/version` again and re-signs; the order was not placed).
    pub fn is_version_mismatch(&self) -> bool {
        match self {
            ClobError::Http { message, .. } | ClobError::Refused { message, .. } => message
                .to_ascii_lowercase()
                .contains("order_version_mismatch"),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, message: &str) -> ClobError {
        ClobError::Http {
            method: "GET",
            path: "/book".into(),
            url: "https://clob.polymarket.com".into(),
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        assert!(http(429, "").is_retryable());
        assert!(http(503, "").is_retryable());
        assert!(!http(400, "invalid order").is_retryable());
        assert!(!http(401, "").is_retryable());
        assert!(!ClobError::BadOrder("x".into()).is_retryable());
        assert!(!ClobError::Refused {
            order_hash: "0x".into(),
            message: "not enough balance".into()
        }
        .is_retryable());
    }

    #[test]
    fn version_mismatch_is_recognised() {
        assert!(http(400, "order_version_mismatch").is_version_mismatch());
        assert!(ClobError::Refused {
            order_hash: "0x".into(),
            message: "ORDER_VERSION_MISMATCH: sign for version 2".into()
        }
        .is_version_mismatch());
        assert!(!http(400, "invalid signature").is_version_mismatch());
    }

    #[test]
    fn http_errors_say_what_the_api_said() {
        assert_eq!(
            http(429, "").to_string(),
            "GET /book at https://clob.polymarket.com: HTTP 429 (rate limited)"
        );
        assert_eq!(
            http(400, "bad tick").to_string(),
            "GET /book at https://clob.polymarket.com: HTTP 400: bad tick"
        );
    }
}
