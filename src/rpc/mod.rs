//! A Polygon JSON-RPC client made for indexing: retries with backoff and jitter on 429, 5xx,
//! timeouts and dropped connections, tells "range too large" apart so the caller can shrink its
//! `eth_getLogs` ranges, batches header requests, and counts where the time goes.
//!
//! RPC URLs often carry an API key in their path or query, so the URL is kept in [`RpcUrl`],
//! whose Display and Debug show only scheme, host and port.

pub mod ws;

use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use rand::Rng;
use serde::Deserialize;
use serde_json::value::RawValue;
use thiserror::Error;

use crate::chain::{hex, log::Word, RawLog};

/// An RPC endpoint URL that never prints its path, query or credentials.
#[derive(Clone)]
pub struct RpcUrl(String);

impl RpcUrl {
    /// Wraps a URL after checking its scheme.
    pub fn parse(url: &str) -> Result<Self, RpcError> {
        let scheme_ok = ["http://", "https://", "ws://", "wss://"]
            .iter()
            .any(|s| url.starts_with(s));
        if !scheme_ok {
            return Err(RpcError::BadUrl {
                url: RpcUrl(url.to_owned()).to_string(),
            });
        }
        Ok(RpcUrl(url.to_owned()))
    }

    /// The full URL, for the HTTP client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A URL as it may be shown: scheme, host and port; any credentials, path or query (where API
/// keys live) become `/***`.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let hidden = rest.len() > authority.len() || authority.contains('@');
    format!("{scheme}://{host}{}", if hidden { "/***" } else { "" })
}

impl fmt::Display for RpcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for RpcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpcUrl({self})")
    }
}

/// RPC errors, each saying what failed and against which endpoint.
#[derive(Debug, Error)]
pub enum RpcError {
    /// The URL is not http(s):// or ws(s)://.
    #[error("bad RPC URL {url}: expected http://, https://, ws:// or wss://")]
    BadUrl {
        /// The URL, redacted.
        url: String,
    },
    /// Could not connect or the connection broke.
    #[error("{method} to {url}: connection failed: {detail}")]
    Transport {
        /// JSON-RPC method.
        method: String,
        /// Endpoint, redacted.
        url: String,
        /// What the HTTP client said.
        detail: String,
    },
    /// No answer in time.
    #[error("{method} to {url}: no answer within {secs:.0} s")]
    Timeout {
        /// JSON-RPC method.
        method: String,
        /// Endpoint, redacted.
        url: String,
        /// The timeout.
        secs: f64,
    },
    /// The endpoint answered with an HTTP error status.
    #[error("{method} to {url}: HTTP {status}{}", if *.status == 429 { " (rate limited)" } else { "" })]
    Http {
        /// JSON-RPC method.
        method: String,
        /// Endpoint, redacted.
        url: String,
        /// HTTP status.
        status: u16,
        /// Seconds from a Retry-After header.
        retry_after: Option<u64>,
    },
    /// The node answered with a JSON-RPC error object.
    #[error("{method} to {url}: node error {code}: {message}")]
    Node {
        /// JSON-RPC method.
        method: String,
        /// Endpoint, redacted.
        url: String,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The answer was not the JSON we expect.
    #[error("{method} to {url}: bad response: {detail}")]
    BadResponse {
        /// JSON-RPC method.
        method: String,
        /// Endpoint, redacted.
        url: String,
        /// What was wrong.
        detail: String,
    },
}

impl RpcError {
    /// True when the same request may succeed later (rate limits, server trouble, timeouts,
    /// dropped connections, garbled answers, a node lagging behind).
    pub fn is_retryable(&self) -> bool {
        match self {
            RpcError::BadUrl { .. } => false,
            RpcError::Transport { .. } | RpcError::Timeout { .. } => true,
            RpcError::BadResponse { .. } => true,
            RpcError::Http { status, .. } => *status == 429 || *status >= 500 || *status == 408,
            RpcError::Node { code, message, .. } => {
                let m = message.to_ascii_lowercase();
                *code == -32603
                    || *code == 429
                    || m.contains("header not found")
                    || m.contains("unknown block")
                    || m.contains("rate limit")
                    || m.contains("try again")
                    || m.contains("timeout")
                    || m.contains("busy")
            }
        }
    }

    /// True when an eth_getLogs range should be split: the provider refused its size.
    pub fn is_range_too_large(&self) -> bool {
        match self {
            RpcError::Http { status, .. } => *status == 413,
            RpcError::Node { code, message, .. } => {
                let m = message.to_ascii_lowercase();
                *code == -32005
                    || [
                        "more than",
                        "too many",
                        "range",
                        "limit exceeded",
                        "response size",
                        "too large",
                        "exceed",
                    ]
                    .iter()
                    .any(|k| m.contains(k))
            }
            _ => false,
        }
    }

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RpcError::BadUrl { .. } => "bad_url",
            RpcError::Transport { .. } => "transport",
            RpcError::Timeout { .. } => "timeout",
            RpcError::Http { status: 429, .. } => "rate_limited",
            RpcError::Http { status, .. } if *status >= 500 => "server",
            RpcError::Http { .. } => "http",
            RpcError::Node { .. } if self.is_range_too_large() => "range_too_large",
            RpcError::Node { .. } => "node",
            RpcError::BadResponse { .. } => "bad_response",
        }
    }
}

/// How hard to try.
#[derive(Debug, Clone)]
pub struct RpcOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts after the first for a retryable error.
    pub retries: u32,
    /// First backoff delay; doubles each attempt up to `max_backoff`, with ±50% jitter.
    pub backoff: Duration,
    /// Largest backoff delay.
    pub max_backoff: Duration,
    /// Requests per JSON-RPC batch (providers cap it).
    pub batch_limit: usize,
}

impl Default for RpcOptions {
    fn default() -> Self {
        RpcOptions {
            timeout: Duration::from_secs(30),
            retries: 10,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(15),
            batch_limit: 100,
        }
    }
}

/// Counters of the client's work, shared with metrics.
#[derive(Debug, Default)]
pub struct RpcStats {
    /// HTTP requests sent (a batch counts once).
    pub requests: AtomicU64,
    /// Retries after a retryable error.
    pub retries: AtomicU64,
    /// Nanoseconds from sending a request to holding the whole body.
    pub wait_nanos: AtomicU64,
    /// Nanoseconds parsing response JSON into logs and headers.
    pub parse_nanos: AtomicU64,
    errors: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl RpcStats {
    fn error(&self, kind: &'static str) {
        if let Ok(mut m) = self.errors.lock() {
            *m.entry(kind).or_default() += 1;
        }
    }

    /// Errors seen so far, by kind (each failed attempt counts).
    pub fn errors(&self) -> Vec<(&'static str, u64)> {
        self.errors
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }
}

/// One block header, as far as indexing needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: Word,
    /// Parent block hash.
    pub parent_hash: Word,
    /// Unix seconds.
    pub timestamp: u64,
}

/// An `eth_getLogs` filter: these emitters, any of these first topics.
#[derive(Debug, Clone)]
pub struct LogFilter {
    /// Emitting contracts.
    pub addresses: Vec<crate::chain::log::Address>,
    /// Accepted topic0 values.
    pub topics0: Vec<Word>,
}

impl LogFilter {
    fn params(&self, from: u64, to: u64) -> String {
        let list = |items: Vec<String>| {
            items
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "[{{\"fromBlock\":\"0x{from:x}\",\"toBlock\":\"0x{to:x}\",\"address\":[{}],\"topics\":[[{}]]}}]",
            list(self.addresses.iter().map(|a| hex::encode(a)).collect()),
            list(self.topics0.iter().map(|t| hex::encode(t)).collect()),
        )
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonHeader<'a> {
    number: &'a str,
    hash: &'a str,
    parent_hash: &'a str,
    timestamp: &'a str,
}

/// A JSON-RPC client over HTTP(S).
#[derive(Clone)]
pub struct RpcClient {
    http: reqwest::Client,
    url: RpcUrl,
    opts: RpcOptions,
    next_id: Arc<AtomicU64>,
    /// Shared counters.
    pub stats: Arc<RpcStats>,
}

impl fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient").field("url", &self.url).finish()
    }
}

impl RpcClient {
    /// A client for `url` (http:// or https://).
    pub fn new(url: &str, opts: RpcOptions) -> Result<Self, RpcError> {
        let url = RpcUrl::parse(url)?;
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| RpcError::Transport {
                method: "connect".into(),
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        Ok(RpcClient {
            http,
            url,
            opts,
            next_id: Arc::new(AtomicU64::new(1)),
            stats: Arc::new(RpcStats::default()),
        })
    }

    /// The endpoint, redacted.
    pub fn url(&self) -> &RpcUrl {
        &self.url
    }

    /// Sends one body, once: the response body or a classified error.
    async fn post_once(&self, method: &str, body: String) -> Result<bytes::Bytes, RpcError> {
        let started = Instant::now();
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                RpcError::Timeout {
                    method: method.to_owned(),
                    url: self.url.to_string(),
                    secs: self.opts.timeout.as_secs_f64(),
                }
            } else {
                RpcError::Transport {
                    method: method.to_owned(),
                    url: self.url.to_string(),
                    detail: error_chain(&e),
                }
            }
        };
        let resp = self
            .http
            .post(self.url.expose())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let retry_after = retry_after(resp.headers());
            return Err(RpcError::Http {
                method: method.to_owned(),
                url: self.url.to_string(),
                status,
                retry_after,
            });
        }
        let body = resp.bytes().await.map_err(transport)?;
        self.stats
            .wait_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(body)
    }

    /// Runs `attempt` until it succeeds, fails for good, or runs out of retries.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, RpcError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, RpcError>>,
    {
        let mut n = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.stats.error(e.kind());
                    if !e.is_retryable() || e.is_range_too_large() || n >= self.opts.retries {
                        return Err(e);
                    }
                    let asked = match e {
                        RpcError::Http { retry_after, .. } => retry_after,
                        _ => None,
                    };
                    let delay = backoff_delay(
                        self.opts.backoff,
                        self.opts.max_backoff,
                        n,
                        asked,
                        Duration::from_secs(60),
                    );
                    tracing::debug!(target: "indexer::rpc", error = %e, attempt = n + 1, "retrying");
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                    n += 1;
                }
            }
        }
    }

    fn request(&self, method: &str, params: &str) -> (u64, String) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        (
            id,
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{method}\",\"params\":{params}}}"
            ),
        )
    }

    fn bad(&self, method: &str, detail: impl fmt::Display) -> RpcError {
        RpcError::BadResponse {
            method: method.to_owned(),
            url: self.url.to_string(),
            detail: detail.to_string(),
        }
    }

    fn result<'a>(&self, method: &str, env: Envelope<'a>) -> Result<&'a str, RpcError> {
        if let Some(err) = env.error {
            return Err(RpcError::Node {
                method: method.to_owned(),
                url: self.url.to_string(),
                code: err.code,
                message: err.message,
            });
        }
        // serde reads `"result": null` as absent; both mean null here.
        Ok(env.result.map_or("null", |r| r.get()))
    }

    /// Calls `method` with `params` (a JSON array) and hands the raw `result` JSON to `parse`.
    pub async fn call<T>(
        &self,
        method: &str,
        params: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, RpcError> {
        self.with_retries(|| async {
            let (_, body) = self.request(method, params);
            let bytes = self.post_once(method, body).await?;
            let started = Instant::now();
            let text = std::str::from_utf8(&bytes).map_err(|e| self.bad(method, e))?;
            let env: Envelope<'_> = serde_json::from_str(text).map_err(|e| self.bad(method, e))?;
            let raw = self.result(method, env)?;
            let out = parse(raw).map_err(|e| self.bad(method, e));
            self.stats
                .parse_nanos
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            out
        })
        .await
    }

    /// Calls a method whose result we do not need beyond success.
    pub async fn call_unit(&self, method: &str, params: &str) -> Result<(), RpcError> {
        self.call(method, params, |_| Ok(())).await
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64, RpcError> {
        self.call("eth_blockNumber", "[]", |r| {
            let s: &str = serde_json::from_str(r).map_err(|e| e.to_string())?;
            hex::quantity(s).map_err(|e| e.to_string())
        })
        .await
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        self.call("eth_chainId", "[]", |r| {
            let s: &str = serde_json::from_str(r).map_err(|e| e.to_string())?;
            hex::quantity(s).map_err(|e| e.to_string())
        })
        .await
    }

    /// `eth_getLogs` over `[from, to]`. A range the provider refuses comes back as an error
    /// with [`RpcError::is_range_too_large`]; the caller splits it.
    pub async fn get_logs(
        &self,
        filter: &LogFilter,
        from: u64,
        to: u64,
    ) -> Result<Vec<RawLog>, RpcError> {
        let params = filter.params(from, to);
        self.call("eth_getLogs", &params, |r| {
            RawLog::array_from_json(r).map_err(|e| e.to_string())
        })
        .await
    }

    /// Headers of `numbers` by batched `eth_getBlockByNumber`, in the order asked. A block the
    /// node does not have (yet) is an error, so the caller retries later.
    pub async fn headers(&self, numbers: &[u64]) -> Result<Vec<Header>, RpcError> {
        let method = "eth_getBlockByNumber";
        let mut out = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(self.opts.batch_limit.max(1)) {
            let got = self
                .with_retries(|| async {
                    let mut ids = Vec::with_capacity(chunk.len());
                    let mut body = String::from("[");
                    for (i, n) in chunk.iter().enumerate() {
                        let (id, req) = self.request(method, &format!("[\"0x{n:x}\",false]"));
                        ids.push(id);
                        if i > 0 {
                            body.push(',');
                        }
                        body.push_str(&req);
                    }
                    body.push(']');
                    let bytes = self.post_once(method, body).await?;
                    let started = Instant::now();
                    let text = std::str::from_utf8(&bytes).map_err(|e| self.bad(method, e))?;
                    let envs: Vec<Envelope<'_>> = serde_json::from_str(text)
                        .map_err(|e| self.bad(method, format!("batch answer: {e}")))?;
                    let mut by_id = std::collections::HashMap::with_capacity(envs.len());
                    for env in envs {
                        let id = env
                            .id
                            .ok_or_else(|| self.bad(method, "answer without id"))?;
                        by_id.insert(id, env);
                    }
                    let mut headers = Vec::with_capacity(chunk.len());
                    for (id, n) in ids.iter().zip(chunk) {
                        let env = by_id
                            .remove(id)
                            .ok_or_else(|| self.bad(method, format!("no answer for block {n}")))?;
                        let raw = self.result(method, env)?;
                        if raw == "null" {
                            return Err(RpcError::Node {
                                method: method.to_owned(),
                                url: self.url.to_string(),
                                code: 0,
                                message: format!("unknown block {n}"),
                            });
                        }
                        let h = parse_header(raw).map_err(|e| self.bad(method, e))?;
                        if h.number != *n {
                            return Err(
                                self.bad(method, format!("asked block {n}, got {}", h.number))
                            );
                        }
                        headers.push(h);
                    }
                    self.stats
                        .parse_nanos
                        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    Ok(headers)
                })
                .await?;
            out.extend(got);
        }
        Ok(out)
    }
}

/// Parses one block object's header fields.
pub fn parse_header(raw: &str) -> Result<Header, String> {
    let j: JsonHeader<'_> = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    Ok(Header {
        number: hex::quantity(j.number).map_err(|e| format!("number: {e}"))?,
        hash: hex::decode_fixed::<32>(j.hash).map_err(|e| format!("hash: {e}"))?,
        parent_hash: hex::decode_fixed::<32>(j.parent_hash)
            .map_err(|e| format!("parentHash: {e}"))?,
        timestamp: hex::quantity(j.timestamp).map_err(|e| format!("timestamp: {e}"))?,
    })
}

/// Seconds asked for by an HTTP Retry-After header (the delta-seconds form).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The wait before retry `attempt` (0-based): `base` doubled per attempt up to `max`, with
/// ±50% jitter, and never shorter than a server's Retry-After (capped at `retry_after_cap`).
pub fn backoff_delay(
    base: Duration,
    max: Duration,
    attempt: u32,
    retry_after: Option<u64>,
    retry_after_cap: Duration,
) -> Duration {
    let delay = base
        .saturating_mul(1 << attempt.min(16))
        .min(max)
        .mul_f64(rand::thread_rng().gen_range(0.5..1.5));
    match retry_after {
        Some(s) => delay.max(Duration::from_secs(s).min(retry_after_cap)),
        None => delay,
    }
}

/// How an HTTP client's retry loop paces itself.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff, doubled per retry.
    pub backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Longest wait a server's Retry-After may impose.
    pub retry_after_cap: Duration,
}

/// Runs `attempt` until it succeeds, fails for good (`retryable` says no), or runs out of
/// retries, sleeping [`backoff_delay`] between tries (at least what the error's Retry-After
/// asks). `retries` counts the retries made; `path` (query stripped) goes in the debug log.
pub async fn with_retries<T, E, F, Fut>(
    policy: RetryPolicy,
    path: &str,
    retries: &std::sync::atomic::AtomicU64,
    retryable: impl Fn(&E) -> (bool, Option<u64>),
    mut attempt: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut n = 0u32;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let (again, asked) = retryable(&e);
                if !again || n >= policy.retries {
                    return Err(e);
                }
                let delay = backoff_delay(
                    policy.backoff,
                    policy.max_backoff,
                    n,
                    asked,
                    policy.retry_after_cap,
                );
                tracing::debug!(target: "orderflow::http", error = %e, path = %path_only(path),
                                attempt = n + 1, delay_ms = delay.as_millis() as u64, "retrying");
                retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(delay).await;
                n += 1;
            }
        }
    }
}

/// A request path without its query string (queries may carry ids not worth logging).
pub fn path_only(path: &str) -> String {
    path.split('?').next().unwrap_or(path).to_owned()
}

/// Percent-encodes what a query value must not carry raw.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An error and its causes on one line, without the URL reqwest puts in its messages.
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        // reqwest's own top-level message embeds the full URL (and so any API key in it).
        if !s.contains("://") {
            parts.push(s);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        "request failed".into()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_never_show_keys() {
        let u = RpcUrl::parse("https://polygon-mainnet.g.alchemy.com/v2/SECRETKEY").unwrap();
        assert_eq!(u.to_string(), "https://polygon-mainnet.g.alchemy.com/***");
        assert!(!format!("{u:?}").contains("SECRET"));
        let u = RpcUrl::parse("https://user:pw@host:8545").unwrap();
        assert_eq!(u.to_string(), "https://host:8545/***");
        let u = RpcUrl::parse("http://127.0.0.1:8545").unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8545");
        assert!(RpcUrl::parse("127.0.0.1:8545").is_err());
    }

    #[test]
    fn classifies_provider_errors() {
        let node = |code, message: &str| RpcError::Node {
            method: "eth_getLogs".into(),
            url: "x".into(),
            code,
            message: message.into(),
        };
        assert!(node(-32005, "query returned more than 10000 results").is_range_too_large());
        assert!(node(-32602, "block range is too wide").is_range_too_large());
        assert!(node(-32000, "Log response size exceeded.").is_range_too_large());
        assert!(!node(-32000, "header not found").is_range_too_large());
        assert!(node(-32000, "header not found").is_retryable());
        assert!(!node(-32601, "method not found").is_retryable());
        let http = |status| RpcError::Http {
            method: "m".into(),
            url: "x".into(),
            status,
            retry_after: None,
        };
        assert!(http(429).is_retryable() && http(503).is_retryable());
        assert!(!http(401).is_retryable());
        assert_eq!(http(429).kind(), "rate_limited");
    }

    #[test]
    fn filter_params_are_valid_json() {
        let f = LogFilter {
            addresses: vec![[0x11; 20]],
            topics0: vec![[0x22; 32], [0x33; 32]],
        };
        let v: serde_json::Value = serde_json::from_str(&f.params(16, 31)).unwrap();
        assert_eq!(v[0]["fromBlock"], "0x10");
        assert_eq!(v[0]["toBlock"], "0x1f");
        assert_eq!(v[0]["topics"][0].as_array().unwrap().len(), 2);
    }

    #[test]
    fn parses_a_header() {
        let h = parse_header(r#"{"number":"0x10","hash":"0x1f111d64fb14a019da0c0bbd09712a471f3a6f579db34c7d1e51f34f75458834","parentHash":"0x0000000000000000000000000000000000000000000000000000000000000000","timestamp":"0x5f5e100","miner":"0x00"}"#).unwrap();
        assert_eq!(h.number, 16);
        assert_eq!(h.timestamp, 100_000_000);
        assert_eq!(h.hash[0], 0x1f);
    }
}
