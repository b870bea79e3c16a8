//! An HTTP client for Gamma's read API: pages with limit/offset, a cap on the request rate,
//! and retries with exponential backoff and jitter on 429, 5xx, timeouts and dropped
//! connections (honouring Retry-After). Like [`crate::rpc::RpcUrl`], the base URL never prints
//! its path, query or credentials (a proxy in front of Gamma may carry a key).

use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use serde_json::Value;
use tokio::{sync::Mutex, time::Instant};

use crate::rpc::{path_only, query_escape};

use super::GammaError;

/// Polymarket's public Gamma API.
pub const DEFAULT_GAMMA_URL: &str = "https://gamma-api.polymarket.com";

/// A Gamma base URL that prints only scheme, host and port.
#[derive(Clone)]
pub struct GammaUrl(String);

impl GammaUrl {
    /// Wraps a base URL after checking its scheme; a trailing slash is dropped.
    pub fn parse(url: &str) -> Result<Self, GammaError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(GammaError::BadUrl {
                url: GammaUrl(url.to_owned()).to_string(),
            });
        }
        Ok(GammaUrl(url.trim_end_matches('/').to_owned()))
    }

    /// The full URL, for the HTTP client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GammaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::rpc::redact(&self.0))
    }
}

impl fmt::Debug for GammaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GammaUrl({self})")
    }
}

/// How hard and how fast to ask.
#[derive(Debug, Clone)]
pub struct GammaOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts after the first for a retryable error.
    pub retries: u32,
    /// First backoff delay; doubles each attempt up to `max_backoff`, with ±50% jitter.
    pub backoff: Duration,
    /// Largest backoff delay (a Retry-After may ask for more, up to two minutes).
    pub max_backoff: Duration,
    /// Most requests per second (Gamma throttles with 429 above its limits); 0 for no cap.
    pub max_rps: f64,
}

impl Default for GammaOptions {
    fn default() -> Self {
        GammaOptions {
            timeout: Duration::from_secs(30),
            retries: 8,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_rps: 5.0,
        }
    }
}

/// Counters of the client's work.
#[derive(Debug, Default)]
pub struct GammaStats {
    /// HTTP requests sent (retries included).
    pub requests: AtomicU64,
    /// Retries after a retryable error.
    pub retries: AtomicU64,
}

/// A client for one Gamma base URL. Clones share the rate cap and the counters.
#[derive(Clone)]
pub struct GammaClient {
    http: reqwest::Client,
    url: GammaUrl,
    opts: GammaOptions,
    next_slot: Arc<Mutex<Instant>>,
    /// Shared counters.
    pub stats: Arc<GammaStats>,
}

impl fmt::Debug for GammaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GammaClient")
            .field("url", &self.url)
            .finish()
    }
}

/// Which markets a listing asks for by their `closed` flag. Gamma's /markets answers only
/// open markets when no `closed` is sent, so a full listing asks for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// `closed=false`.
    Open,
    /// `closed=true`.
    Closed,
}

impl Closed {
    fn param(self) -> &'static str {
        match self {
            Closed::Open => "false",
            Closed::Closed => "true",
        }
    }
}

impl GammaClient {
    /// A client for the base URL `url` (http:// or https://).
    pub fn new(url: &str, opts: GammaOptions) -> Result<Self, GammaError> {
        let url = GammaUrl::parse(url)?;
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .user_agent(concat!("orderflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GammaError::Transport {
                path: "(client)".into(),
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        Ok(GammaClient {
            http,
            url,
            opts,
            next_slot: Arc::new(Mutex::new(Instant::now())),
            stats: Arc::new(GammaStats::default()),
        })
    }

    /// The base URL, redacted.
    pub fn url(&self) -> &GammaUrl {
        &self.url
    }

    /// One page of `/markets`, ordered by id so that offsets stay stable while Gamma adds
    /// markets.
    pub async fn markets_page(
        &self,
        limit: usize,
        offset: usize,
        closed: Closed,
    ) -> Result<Vec<Value>, GammaError> {
        self.get_list(&format!(
            "/markets?limit={limit}&offset={offset}&closed={}&order=id&ascending=true",
            closed.param()
        ))
        .await
    }

    /// One page of `/events` (with their tags and nested markets).
    pub async fn events_page(
        &self,
        limit: usize,
        offset: usize,
        closed: Closed,
    ) -> Result<Vec<Value>, GammaError> {
        self.get_list(&format!(
            "/events?limit={limit}&offset={offset}&closed={}&order=id&ascending=true",
            closed.param()
        ))
        .await
    }

    /// The markets of these conditions (0x hex), open or closed as asked.
    pub async fn markets_by_condition(
        &self,
        condition_ids: &[String],
        closed: Closed,
    ) -> Result<Vec<Value>, GammaError> {
        let mut path = format!(
            "/markets?limit={}&closed={}",
            condition_ids.len(),
            closed.param()
        );
        for c in condition_ids {
            path.push_str("&condition_ids=");
            path.push_str(&query_escape(c));
        }
        self.get_list(&path).await
    }

    /// The events with these Gamma ids.
    pub async fn events_by_id(&self, ids: &[String]) -> Result<Vec<Value>, GammaError> {
        let mut path = format!("/events?limit={}", ids.len());
        for id in ids {
            path.push_str("&id=");
            path.push_str(&query_escape(id));
        }
        self.get_list(&path).await
    }

    /// GET `path` (with its query) and read the answer as a list of records: a JSON array, or
    /// an object wrapping one (`data`, `markets`, `events`).
    pub async fn get_list(&self, path: &str) -> Result<Vec<Value>, GammaError> {
        self.with_retries(path, || self.get_once(path)).await
    }

    /// Waits for this request's turn under the rate cap.
    async fn pace(&self) {
        if self.opts.max_rps <= 0.0 {
            return;
        }
        let gap = Duration::from_secs_f64(1.0 / self.opts.max_rps);
        let wait_until = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + gap;
            slot
        };
        tokio::time::sleep_until(wait_until).await;
    }

    async fn get_once(&self, path: &str) -> Result<Vec<Value>, GammaError> {
        self.pace().await;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let shown = path_only(path);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                GammaError::Timeout {
                    path: shown.clone(),
                    url: self.url.to_string(),
                    secs: self.opts.timeout.as_secs_f64(),
                }
            } else {
                GammaError::Transport {
                    path: shown.clone(),
                    url: self.url.to_string(),
                    detail: crate::rpc::error_chain(&e),
                }
            }
        };
        let resp = self
            .http
            .get(format!("{}{path}", self.url.expose()))
            .header("accept", "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let retry_after = crate::rpc::retry_after(resp.headers());
            return Err(GammaError::Http {
                path: shown,
                url: self.url.to_string(),
                status,
                retry_after,
            });
        }
        let bytes = resp.bytes().await.map_err(transport)?;
        let bad = |detail: String| GammaError::BadResponse {
            path: shown.clone(),
            url: self.url.to_string(),
            detail,
        };
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        match v {
            Value::Array(items) => Ok(items),
            Value::Object(mut o) => {
                for key in ["data", "markets", "events"] {
                    if let Some(Value::Array(items)) = o.remove(key) {
                        return Ok(items);
                    }
                }
                Err(bad("a JSON object without a list of records".into()))
            }
            _ => Err(bad("expected a JSON array of records".into())),
        }
    }

    /// Runs `attempt` with the client's retry policy (crate::rpc::with_retries).
    async fn with_retries<T, F, Fut>(&self, path: &str, attempt: F) -> Result<T, GammaError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, GammaError>>,
    {
        let policy = crate::rpc::RetryPolicy {
            retries: self.opts.retries,
            backoff: self.opts.backoff,
            max_backoff: self.opts.max_backoff,
            retry_after_cap: Duration::from_secs(120),
        };
        let retryable = |e: &GammaError| {
            let asked = match e {
                GammaError::Http { retry_after, .. } => *retry_after,
                _ => None,
            };
            (e.is_retryable(), asked)
        };
        crate::rpc::with_retries(policy, path, &self.stats.retries, retryable, attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_never_show_keys() {
        let u = GammaUrl::parse("https://proxy.example/gamma?key=SECRET").unwrap();
        assert_eq!(u.to_string(), "https://proxy.example/***");
        assert!(!format!("{u:?}").contains("SECRET"));
        let u = GammaUrl::parse("https://gamma-api.polymarket.com/").unwrap();
        assert_eq!(u.to_string(), "https://gamma-api.polymarket.com");
        assert_eq!(u.expose(), "https://gamma-api.polymarket.com");
        assert!(GammaUrl::parse("gamma-api.polymarket.com").is_err());
    }

    #[test]
    fn escapes_query_values() {
        assert_eq!(query_escape("0xAb-1"), "0xAb-1");
        assert_eq!(query_escape("a&b=c"), "a%26b%3Dc");
        assert_eq!(path_only("/markets?limit=5"), "/markets");
    }

    #[tokio::test]
    async fn the_rate_cap_spaces_requests() {
        let c = GammaClient::new(
            "http://127.0.0.1:9",
            GammaOptions {
                max_rps: 20.0,
                ..GammaOptions::default()
            },
        )
        .unwrap();
        let t = Instant::now();
        for _ in 0..5 {
            c.pace().await;
        }
        // Five slots at 50 ms apart: the fifth starts 200 ms after the first.
        assert!(
            t.elapsed() >= Duration::from_millis(195),
            "{:?}",
            t.elapsed()
        );
    }
}
