//! The CLOB REST client. Reads and cancels retry on 429, 5xx, timeouts and dropped
//! connections with the shared backoff (honouring Retry-After); POST /order never retries by
//! itself, because a lost answer may hide a placed order and a blind retry of a re-signed order
//! would place a second one. The caller stores the signed order and its hash first (see
//! [`ClobClient::place_order`]) and reconciles by that hash.

use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::{sync::Mutex, time::Instant};

use crate::rpc::{path_only, query_escape};

use super::{
    amounts::TickSize,
    auth::{l1_headers, ApiCreds, L2Headers},
    order::{Domain, Order, OrderType, OrderVersion, SignedOrder},
    secret::PrivateKey,
    ClobError, DEFAULT_CLOB_URL, POLYGON,
};

/// A CLOB base URL that prints only scheme, host and port.
#[derive(Clone)]
pub struct ClobUrl(String);

impl ClobUrl {
    /// Wraps a base URL after checking its scheme; a trailing slash is dropped.
    pub fn parse(url: &str) -> Result<Self, ClobError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ClobError::BadUrl {
                url: crate::rpc::redact(url),
            });
        }
        Ok(ClobUrl(url.trim_end_matches('/').to_owned()))
    }

    /// The full URL, for the HTTP client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClobUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::rpc::redact(&self.0))
    }
}

impl fmt::Debug for ClobUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClobUrl({self})")
    }
}

/// How hard and how fast to ask.
#[derive(Debug, Clone)]
pub struct ClobOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts after the first for a retryable error (reads and cancels only).
    pub retries: u32,
    /// First backoff delay; doubles each attempt up to `max_backoff`, with ±50% jitter.
    pub backoff: Duration,
    /// Largest backoff delay (a Retry-After may ask for more, up to a minute).
    pub max_backoff: Duration,
    /// Most requests per second from this client (0: no cap). The CLOB's own limits are far
    /// higher; the cap keeps a bug in a strategy loop from earning a ban.
    pub max_rps: f64,
    /// Chain id the orders and L1 signatures are for.
    pub chain_id: u64,
}

impl Default for ClobOptions {
    fn default() -> Self {
        ClobOptions {
            timeout: Duration::from_secs(10),
            retries: 5,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            max_rps: 20.0,
            chain_id: POLYGON,
        }
    }
}

/// Counters of the client's work.
#[derive(Debug, Default)]
pub struct ClobStats {
    /// HTTP requests sent (retries included).
    pub requests: AtomicU64,
    /// Retries after a retryable error.
    pub retries: AtomicU64,
}

/// One price level of a book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Price.
    pub price: Decimal,
    /// Shares.
    pub size: Decimal,
}

/// `/book` for one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBook {
    /// Bids as the API lists them.
    pub bids: Vec<Level>,
    /// Asks as the API lists them.
    pub asks: Vec<Level>,
    /// Smallest order in shares.
    pub min_order_size: Option<Decimal>,
    /// The market's tick.
    pub tick_size: Option<Decimal>,
    /// Whether the market trades on the neg-risk exchange.
    pub neg_risk: Option<bool>,
    /// Last traded price.
    pub last_trade_price: Option<Decimal>,
    /// The market's condition id, as the API names it.
    pub market: Option<String>,
}

/// `/clob-markets/{condition_id}`: the V2 fee curve and the minimum order size.
#[derive(Debug, Clone, PartialEq)]
pub struct ClobMarket {
    /// Fee rate `r` of `fd` (0 when the market has no fee).
    pub fee_rate: Decimal,
    /// Fee exponent `e` of `fd`.
    pub fee_exponent: Decimal,
    /// `mos`: minimum order size in shares.
    pub min_order_size: Option<Decimal>,
    /// The whole answer, for fields not read here.
    pub raw: Value,
}

/// The answer to POST /order when the exchange took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOrderResponse {
    /// The CLOB's id for the order (the order hash).
    pub order_id: String,
    /// live, matched, delayed or unmatched.
    pub status: String,
    /// Collateral or shares given so far.
    pub making_amount: String,
    /// Collateral or shares got so far.
    pub taking_amount: String,
    /// Settlement transactions of immediate matches.
    pub transaction_hashes: Vec<String>,
    /// Trades of immediate matches.
    pub trade_ids: Vec<String>,
}

/// GET /data/order/{id}: the CLOB's state of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrder {
    /// The order id (its hash).
    pub id: String,
    /// ORDER_STATUS_LIVE, _MATCHED, _CANCELED, _CANCELED_MARKET_RESOLVED, _INVALID, …
    pub status: String,
    /// Shares ordered.
    pub original_size: Option<Decimal>,
    /// Shares matched so far.
    pub size_matched: Decimal,
}

impl OpenOrder {
    /// True when the order can match no more (anything but LIVE or DELAYED).
    pub fn is_terminal(&self) -> bool {
        let s = self.status.to_ascii_uppercase();
        !(s.ends_with("LIVE") || s.ends_with("DELAYED"))
    }
}

/// The answer to a cancel.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelResponse {
    /// Ids cancelled.
    pub canceled: Vec<String>,
    /// Ids not cancelled, with the reason.
    pub not_canceled: Vec<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    L1 { nonce: u64 },
    L2,
}

/// A client for one CLOB base URL. Clones share the rate cap, the cached version and counters.
#[derive(Clone)]
pub struct ClobClient {
    http: reqwest::Client,
    url: ClobUrl,
    opts: ClobOptions,
    key: Option<Arc<PrivateKey>>,
    creds: Option<ApiCreds>,
    next_slot: Arc<Mutex<Instant>>,
    version: Arc<Mutex<Option<OrderVersion>>>,
    /// Shared counters.
    pub stats: Arc<ClobStats>,
}

impl fmt::Debug for ClobClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClobClient")
            .field("url", &self.url)
            .field("address", &self.key.as_ref().map(|k| k.address()))
            .field("creds", &self.creds)
            .finish()
    }
}

impl ClobClient {
    /// A client for `url` (default [`DEFAULT_CLOB_URL`]) without keys: public reads only.
    pub fn new(url: Option<&str>, opts: ClobOptions) -> Result<Self, ClobError> {
        let url = ClobUrl::parse(url.unwrap_or(DEFAULT_CLOB_URL))?;
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .user_agent(concat!("orderflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClobError::Transport {
                method: "-",
                path: "(client)".into(),
                url: url.to_string(),
                detail: crate::rpc::error_chain(&e),
            })?;
        Ok(ClobClient {
            http,
            url,
            opts,
            key: None,
            creds: None,
            next_slot: Arc::new(Mutex::new(Instant::now())),
            version: Arc::new(Mutex::new(None)),
            stats: Arc::new(ClobStats::default()),
        })
    }

    /// Adds the wallet key (orders, L1 calls).
    pub fn with_key(mut self, key: PrivateKey) -> Self {
        self.key = Some(Arc::new(key));
        self
    }

    /// Adds API credentials (L2 calls).
    pub fn with_creds(mut self, creds: ApiCreds) -> Self {
        self.creds = Some(creds);
        self
    }

    /// The base URL, redacted.
    pub fn url(&self) -> &ClobUrl {
        &self.url
    }

    fn key(&self) -> Result<&PrivateKey, ClobError> {
        self.key
            .as_deref()
            .ok_or_else(|| ClobError::Missing("private key (needed to sign)".into()))
    }

    /// The order version the CLOB signs for now (asked once, then cached).
    pub async fn version(&self) -> Result<OrderVersion, ClobError> {
        if let Some(v) = *self.version.lock().await {
            return Ok(v);
        }
        self.refresh_version().await
    }

    /// Asks `/version` again (after `order_version_mismatch`).
    pub async fn refresh_version(&self) -> Result<OrderVersion, ClobError> {
        let v = self.get("/version", Auth::None).await?;
        let n = v
            .get("version")
            .and_then(as_u64)
            .ok_or_else(|| self.bad("GET", "/version", "no numeric \"version\""))?;
        let version = OrderVersion::from_number(n)
            .map_err(|e| self.bad("GET", "/version", &e.to_string()))?;
        *self.version.lock().await = Some(version);
        Ok(version)
    }

    /// The token's tick size.
    pub async fn tick_size(&self, token_id: &str) -> Result<TickSize, ClobError> {
        let path = format!("/tick-size?token_id={}", query_escape(token_id));
        let v = self.get(&path, Auth::None).await?;
        let tick = v
            .get("minimum_tick_size")
            .and_then(as_decimal)
            .ok_or_else(|| self.bad("GET", "/tick-size", "no \"minimum_tick_size\""))?;
        TickSize::from_decimal(tick).map_err(|e| self.bad("GET", "/tick-size", &e.to_string()))
    }

    /// Whether the token trades on the neg-risk exchange.
    pub async fn neg_risk(&self, token_id: &str) -> Result<bool, ClobError> {
        let path = format!("/neg-risk?token_id={}", query_escape(token_id));
        let v = self.get(&path, Auth::None).await?;
        v.get("neg_risk")
            .and_then(Value::as_bool)
            .ok_or_else(|| self.bad("GET", "/neg-risk", "no boolean \"neg_risk\""))
    }

    /// The token's order book.
    pub async fn book(&self, token_id: &str) -> Result<OrderBook, ClobError> {
        let path = format!("/book?token_id={}", query_escape(token_id));
        let v = self.get(&path, Auth::None).await?;
        let levels = |side: &str| -> Result<Vec<Level>, ClobError> {
            let Some(list) = v.get(side).and_then(Value::as_array) else {
                return Ok(Vec::new());
            };
            list.iter()
                .map(|l| {
                    Some(Level {
                        price: l.get("price").and_then(as_decimal)?,
                        size: l.get("size").and_then(as_decimal)?,
                    })
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.bad("GET", "/book", &format!("a bad level in {side}")))
        };
        Ok(OrderBook {
            bids: levels("bids")?,
            asks: levels("asks")?,
            min_order_size: v.get("min_order_size").and_then(as_decimal),
            tick_size: v.get("tick_size").and_then(as_decimal),
            neg_risk: v.get("neg_risk").and_then(Value::as_bool),
            last_trade_price: v.get("last_trade_price").and_then(as_decimal),
            market: v.get("market").and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// The market's V2 fee curve and minimum order size.
    pub async fn clob_market(&self, condition_id: &str) -> Result<ClobMarket, ClobError> {
        let path = format!("/clob-markets/{}", query_escape(condition_id));
        let v = self.get(&path, Auth::None).await?;
        let fd = v.get("fd");
        let num = |k: &str| fd.and_then(|f| f.get(k)).and_then(as_decimal);
        if fd.is_some_and(|f| !f.is_null()) && (num("r").is_none() || num("e").is_none()) {
            return Err(self.bad("GET", "/clob-markets", "\"fd\" without numeric r and e"));
        }
        Ok(ClobMarket {
            fee_rate: num("r").unwrap_or_default(),
            fee_exponent: num("e").unwrap_or_default(),
            min_order_size: v.get("mos").and_then(as_decimal),
            raw: v,
        })
    }

    /// Creates new API credentials (L1). Not retried: a second call would make a second key.
    pub async fn create_api_key(&self, nonce: u64) -> Result<ApiCreds, ClobError> {
        let v = self
            .send_once(
                reqwest::Method::POST,
                "/auth/api-key",
                None,
                Auth::L1 { nonce },
            )
            .await?;
        self.creds_from(v, "POST", "/auth/api-key")
    }

    /// Derives the existing API credentials for this key and nonce (L1).
    pub async fn derive_api_key(&self, nonce: u64) -> Result<ApiCreds, ClobError> {
        let v = self.get("/auth/derive-api-key", Auth::L1 { nonce }).await?;
        self.creds_from(v, "GET", "/auth/derive-api-key")
    }

    fn creds_from(
        &self,
        v: Value,
        method: &'static str,
        path: &str,
    ) -> Result<ApiCreds, ClobError> {
        // The detail never quotes the answer: it holds the secret.
        serde_json::from_value(v)
            .map_err(|_| self.bad(method, path, "expected {apiKey, secret, passphrase}"))
    }

    /// Signs `order` for the CLOB's current version and the market's exchange.
    pub async fn sign_order(
        &self,
        order: &Order,
        neg_risk: bool,
    ) -> Result<SignedOrder, ClobError> {
        let version = self.version().await?;
        let domain = Domain::for_market(version, self.opts.chain_id, neg_risk)?;
        order.sign(&domain, self.key()?)
    }

    /// POST /order, once. On a transport error or timeout the order may or may not be on the
    /// book: look it up by `signed.hash_hex()` before trying again.
    pub async fn post_order(
        &self,
        signed: &SignedOrder,
        order_type: OrderType,
        post_only: bool,
    ) -> Result<PostOrderResponse, ClobError> {
        let body = self.order_body(signed, order_type, post_only)?;
        self.post_order_body(&body, &signed.hash_hex()).await
    }

    /// The POST /order body of `signed` for this client's API key, as it will be sent (store
    /// these bytes to post exactly them again).
    pub fn order_body(
        &self,
        signed: &SignedOrder,
        order_type: OrderType,
        post_only: bool,
    ) -> Result<String, ClobError> {
        let owner = &self.creds()?.api_key;
        Ok(signed.post_body(owner, order_type, post_only).to_string())
    }

    /// POST /order with a body built by [`ClobClient::order_body`], once (`order_hash` names
    /// the order in a refusal).
    pub async fn post_order_body(
        &self,
        body: &str,
        order_hash: &str,
    ) -> Result<PostOrderResponse, ClobError> {
        let v = self
            .send_once(
                reqwest::Method::POST,
                "/order",
                Some(body.as_bytes().to_vec()),
                Auth::L2,
            )
            .await?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let list = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        if v.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(ClobError::Refused {
                order_hash: order_hash.to_owned(),
                message: short(&text("errorMsg")),
            });
        }
        Ok(PostOrderResponse {
            order_id: text("orderID"),
            status: text("status"),
            making_amount: text("makingAmount"),
            taking_amount: text("takingAmount"),
            transaction_hashes: list("transactionsHashes"),
            trade_ids: list("tradeIDs"),
        })
    }

    /// Signs, stores, posts. `store` runs before every post (it should write the signed order
    /// and its hash durably); if the CLOB answers `order_version_mismatch`, the order was not
    /// taken, so the version is asked again and the order re-signed, stored and posted once
    /// more. Any other failure is returned as it is.
    pub async fn place_order<F>(
        &self,
        order: &Order,
        neg_risk: bool,
        order_type: OrderType,
        post_only: bool,
        mut store: F,
    ) -> Result<(SignedOrder, PostOrderResponse), ClobError>
    where
        F: FnMut(&SignedOrder) -> Result<(), ClobError>,
    {
        let signed = self.sign_order(order, neg_risk).await?;
        store(&signed)?;
        match self.post_order(&signed, order_type, post_only).await {
            Ok(r) => Ok((signed, r)),
            Err(e) if e.is_version_mismatch() => {
                let before = signed.domain.version;
                let now = self.refresh_version().await?;
                tracing::warn!(target: "orderflow::clob", from = %before, to = %now,
                               order_hash = %signed.hash_hex(), "order version changed; re-signing");
                let signed = self.sign_order(order, neg_risk).await?;
                store(&signed)?;
                let r = self.post_order(&signed, order_type, post_only).await?;
                Ok((signed, r))
            }
            Err(e) => Err(e),
        }
    }

    /// GET /data/order/{hash} (L2): the CLOB's record of one of our orders; None when the CLOB
    /// does not know it (HTTP 404, or an empty answer). Retried like every read.
    pub async fn get_order(&self, order_hash: &str) -> Result<Option<OpenOrder>, ClobError> {
        self.creds()?;
        let path = format!("/data/order/{}", query_escape(order_hash));
        let v = match self.get(&path, Auth::L2).await {
            Ok(v) => v,
            Err(ClobError::Http { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if v.is_null() || v.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(None);
        }
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let size_matched = v
            .get("size_matched")
            .map(|s| as_decimal(s).ok_or_else(|| self.bad("GET", &path, "bad \"size_matched\"")))
            .transpose()?
            .unwrap_or_default();
        Ok(Some(OpenOrder {
            id: text("id"),
            status: text("status"),
            original_size: v.get("original_size").and_then(as_decimal),
            size_matched,
        }))
    }

    /// GET /auth/api-keys (L2): a cheap call that proves the API credentials work.
    pub async fn check_creds(&self) -> Result<(), ClobError> {
        self.creds()?;
        self.get("/auth/api-keys", Auth::L2).await.map(|_| ())
    }

    /// The wallet's address, when a key was given.
    pub fn address(&self) -> Option<ethers::types::Address> {
        self.key.as_ref().map(|k| k.address())
    }

    /// DELETE /order: cancels one order.
    pub async fn cancel_order(&self, order_id: &str) -> Result<CancelResponse, ClobError> {
        let body = json!({ "orderID": order_id }).to_string();
        self.cancel("/order", Some(body)).await
    }

    /// DELETE /orders: cancels these orders.
    pub async fn cancel_orders(&self, order_ids: &[String]) -> Result<CancelResponse, ClobError> {
        let body = serde_json::to_string(order_ids).expect("strings serialize");
        self.cancel("/orders", Some(body)).await
    }

    /// DELETE /cancel-all: cancels every open order of the account.
    pub async fn cancel_all(&self) -> Result<CancelResponse, ClobError> {
        self.cancel("/cancel-all", None).await
    }

    async fn cancel(&self, path: &str, body: Option<String>) -> Result<CancelResponse, ClobError> {
        self.creds()?;
        let body = body.map(String::into_bytes);
        // A cancel is idempotent: repeating it after a lost answer cannot do harm.
        let v = self
            .with_retries(path, || {
                self.send_once(reqwest::Method::DELETE, path, body.clone(), Auth::L2)
            })
            .await?;
        let canceled = v
            .get("canceled")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let not_canceled = v
            .get("not_canceled")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, why)| (k.clone(), why.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(CancelResponse {
            canceled,
            not_canceled,
        })
    }

    fn creds(&self) -> Result<&ApiCreds, ClobError> {
        self.creds.as_ref().ok_or_else(|| {
            ClobError::Missing("API credentials (derive or create them first)".into())
        })
    }

    async fn get(&self, path: &str, auth: Auth) -> Result<Value, ClobError> {
        self.with_retries(path, || {
            self.send_once(reqwest::Method::GET, path, None, auth)
        })
        .await
    }

    /// Waits for this request's turn under the rate cap.
    async fn pace(&self) {
        if self.opts.max_rps <= 0.0 {
            return;
        }
        let gap = Duration::from_secs_f64(1.0 / self.opts.max_rps);
        let wait_until = {
            let mut next = self.next_slot.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + gap;
            slot
        };
        tokio::time::sleep_until(wait_until).await;
    }

    fn bad(&self, method: &'static str, path: &str, detail: &str) -> ClobError {
        ClobError::BadResponse {
            method,
            path: path_only(path),
            url: self.url.to_string(),
            detail: detail.to_owned(),
        }
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        auth: Auth,
    ) -> Result<Value, ClobError> {
        let m: &'static str = match method {
            reqwest::Method::GET => "GET",
            reqwest::Method::POST => "POST",
            reqwest::Method::DELETE => "DELETE",
            _ => "HTTP",
        };
        let shown = path_only(path);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url.expose()))
            .header("accept", "application/json");
        match auth {
            Auth::None => {}
            Auth::L1 { nonce } => {
                for (k, v) in l1_headers(self.key()?, now, nonce, self.opts.chain_id)? {
                    req = req.header(k, v);
                }
            }
            Auth::L2 => {
                let h = L2Headers::new(
                    self.key()?.address(),
                    self.creds()?,
                    now,
                    m,
                    &shown,
                    body.as_deref().unwrap_or(b""),
                )?;
                for (k, v) in h.pairs() {
                    req = req.header(k, v);
                }
            }
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        self.pace().await;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                ClobError::Timeout {
                    method: m,
                    path: shown.clone(),
                    url: self.url.to_string(),
                    secs: self.opts.timeout.as_secs_f64(),
                }
            } else {
                ClobError::Transport {
                    method: m,
                    path: shown.clone(),
                    url: self.url.to_string(),
                    detail: crate::rpc::error_chain(&e),
                }
            }
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after = crate::rpc::retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(short))
                .unwrap_or_default();
            return Err(ClobError::Http {
                method: m,
                path: shown,
                url: self.url.to_string(),
                status,
                message,
                retry_after,
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| self.bad(m, &shown, &format!("not JSON: {e}")))
    }

    /// Runs `attempt` with the client's retry policy (crate::rpc::with_retries).
    async fn with_retries<T, F, Fut>(&self, path: &str, attempt: F) -> Result<T, ClobError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClobError>>,
    {
        let policy = crate::rpc::RetryPolicy {
            retries: self.opts.retries,
            backoff: self.opts.backoff,
            max_backoff: self.opts.max_backoff,
            retry_after_cap: Duration::from_secs(60),
        };
        let retryable = |e: &ClobError| {
            let asked = match e {
                ClobError::Http { retry_after, .. } => *retry_after,
                _ => None,
            };
            (e.is_retryable(), asked)
        };
        crate::rpc::with_retries(policy, path, &self.stats.retries, retryable, attempt).await
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn as_decimal(v: &Value) -> Option<Decimal> {
    use std::str::FromStr;
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// The API's error text, cut to a length that fits a log line.
fn short(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::VecDeque, sync::Mutex as StdMutex};

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;
    use crate::clob::{auth::hmac_signature, Secret};

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const SECRET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    /// One request as the test server saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// One scripted answer.
    struct Resp {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    fn resp(status: u16, body: &str) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    type Script = Arc<StdMutex<VecDeque<Resp>>>;

    /// A tiny HTTP/1.1 server on 127.0.0.1 answering from a script, one connection per
    /// request, recording what it was sent. It stops with the test's runtime.
    async fn serve(script: Vec<Resp>) -> (String, Arc<StdMutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let script: Script = Arc::new(StdMutex::new(script.into_iter().collect()));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i);
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_owned();
                let path = first.next().unwrap_or("").to_owned();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = buf[head_end + 4..].to_vec();
                while body.len() < len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                seen2.lock().unwrap().push(Seen {
                    method,
                    path,
                    headers,
                    body,
                });
                let Resp {
                    status,
                    headers: extra,
                    body: text,
                } = script
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| resp(500, r#"{"error":"script ran out"}"#));
                let mut resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    text.len()
                );
                for (k, v) in extra {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                resp.push_str(&text);
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        (format!("http://{addr}"), seen)
    }

    fn fast() -> ClobOptions {
        ClobOptions {
            backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_rps: 0.0,
            retries: 3,
            timeout: Duration::from_secs(5),
            chain_id: POLYGON,
        }
    }

    fn creds() -> ApiCreds {
        ApiCreds {
            api_key: "11111111-2222-3333-4444-555555555555".into(),
            secret: Secret::new(SECRET),
            passphrase: Secret::new("pass-phrase-xyz"),
        }
    }

    fn client(url: &str) -> ClobClient {
        ClobClient::new(Some(url), fast())
            .unwrap()
            .with_key(PrivateKey::from_hex(KEY).unwrap())
            .with_creds(creds())
    }

    fn order() -> Order {
        Order::from_json(
            r#"{"salt":12345,"maker":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                "tokenId":"1234","makerAmount":"5000000","takerAmount":"10000000",
                "side":"BUY","timestamp":"1710000000000"}"#,
        )
        .unwrap()
    }

    fn check_l2(s: &Seen, path: &str) {
        assert_eq!(
            s.header("POLY_ADDRESS"),
            Some("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            s.header("POLY_API_KEY"),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(s.header("POLY_PASSPHRASE"), Some("pass-phrase-xyz"));
        let ts = s.header("POLY_TIMESTAMP").unwrap();
        let want = hmac_signature(&Secret::new(SECRET), ts, &s.method, path, &s.body).unwrap();
        assert_eq!(s.header("POLY_SIGNATURE"), Some(want.as_str()));
    }

    #[tokio::test]
    async fn gets_retry_on_429_and_503_honouring_retry_after() {
        let (url, seen) = serve(vec![
            Resp {
                headers: vec![("retry-after".into(), "1".into())],
                ..resp(429, r#"{"error":"slow down"}"#)
            },
            resp(503, ""),
            resp(200, r#"{"minimum_tick_size":0.001}"#),
        ])
        .await;
        let c = client(&url);
        let t = Instant::now();
        let tick = c.tick_size("123").await.unwrap();
        assert_eq!(tick.to_string(), "0.001");
        assert!(
            t.elapsed() >= Duration::from_millis(950),
            "{:?}",
            t.elapsed()
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|s| s.path == "/tick-size?token_id=123"));
        assert_eq!(c.stats.retries.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn gets_give_up_after_the_retries() {
        let (url, seen) = serve((0..10).map(|_| resp(503, "")).collect()).await;
        let e = client(&url).neg_risk("1").await.unwrap_err();
        assert!(matches!(e, ClobError::Http { status: 503, .. }), "{e}");
        assert_eq!(seen.lock().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn post_order_is_not_retried_on_5xx() {
        let (url, seen) = serve(vec![
            resp(503, r#"{"error":"service unavailable"}"#),
            resp(200, r#"{"success":true,"orderID":"0xabc","status":"live"}"#),
        ])
        .await;
        let c = client(&url);
        *c.version.lock().await = Some(OrderVersion::V2);
        let signed = c.sign_order(&order(), false).await.unwrap();
        let e = c
            .post_order(&signed, OrderType::Gtc, false)
            .await
            .unwrap_err();
        assert!(matches!(e, ClobError::Http { status: 503, .. }), "{e}");
        assert!(
            e.is_retryable(),
            "retryable in kind, yet not retried by post_order"
        );
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "POST /order must be sent once"
        );
    }

    #[tokio::test]
    async fn post_order_sends_the_l2_headers_and_the_clob_body() {
        let (url, seen) = serve(vec![resp(
            200,
            r#"{"success":true,"errorMsg":"","orderID":"0xabc","status":"matched",
                "makingAmount":"5000000","takingAmount":"10000000",
                "transactionsHashes":["0xt1"],"tradeIDs":["tr1"]}"#,
        )])
        .await;
        let c = client(&url);
        *c.version.lock().await = Some(OrderVersion::V2);
        let signed = c.sign_order(&order(), false).await.unwrap();
        let r = c.post_order(&signed, OrderType::Fok, false).await.unwrap();
        assert_eq!(r.status, "matched");
        assert_eq!(r.transaction_hashes, vec!["0xt1".to_string()]);
        let seen = seen.lock().unwrap();
        let s = &seen[0];
        assert_eq!((s.method.as_str(), s.path.as_str()), ("POST", "/order"));
        check_l2(s, "/order");
        let body: Value = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(
            body,
            signed.post_body(
                "11111111-2222-3333-4444-555555555555",
                OrderType::Fok,
                false
            )
        );
        let o = &body["order"];
        assert_eq!(o["salt"], json!(12345));
        assert_eq!(o["tokenId"], json!("1234"));
        assert_eq!(o["side"], json!("BUY"));
        assert_eq!(o["signatureType"], json!(0));
        assert_eq!(o["timestamp"], json!("1710000000000"));
        assert_eq!(o["signature"], json!(signed.signature_hex()));
        assert_eq!(body["orderType"], json!("FOK"));
        assert_eq!(body["postOnly"], json!(false));
    }

    #[tokio::test]
    async fn a_refused_order_names_its_hash() {
        let (url, _) = serve(vec![resp(
            200,
            r#"{"success":false,"errorMsg":"not enough balance / allowance"}"#,
        )])
        .await;
        let c = client(&url);
        *c.version.lock().await = Some(OrderVersion::V2);
        let signed = c.sign_order(&order(), false).await.unwrap();
        let e = c
            .post_order(&signed, OrderType::Gtc, false)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "order {} refused: not enough balance / allowance",
                signed.hash_hex()
            )
        );
    }

    #[tokio::test]
    async fn version_mismatch_re_signs_and_stores_again() {
        let (url, seen) = serve(vec![
            resp(200, r#"{"version":2}"#),
            resp(400, r#"{"error":"order_version_mismatch"}"#),
            resp(200, r#"{"version":3}"#),
            resp(200, r#"{"success":true,"orderID":"0xdef","status":"live"}"#),
        ])
        .await;
        let c = client(&url);
        let mut stored = Vec::new();
        let (signed, r) = c
            .place_order(&order(), false, OrderType::Gtc, true, |s| {
                stored.push((s.domain.version, s.hash_hex()));
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(r.order_id, "0xdef");
        assert_eq!(signed.domain.version, OrderVersion::V3);
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].0, OrderVersion::V2);
        assert_eq!(stored[1], (OrderVersion::V3, signed.hash_hex()));
        assert_ne!(stored[0].1, stored[1].1);
        let seen = seen.lock().unwrap();
        let paths: Vec<_> = seen.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/version", "/order", "/version", "/order"]);
        let body: Value = serde_json::from_slice(&seen[3].body).unwrap();
        assert_eq!(body["postOnly"], json!(true));
    }

    #[tokio::test]
    async fn cancels_retry_and_sign_their_body() {
        let (url, seen) = serve(vec![
            resp(502, ""),
            resp(
                200,
                r#"{"canceled":["0xa"],"not_canceled":{"0xb":"already filled"}}"#,
            ),
            resp(200, r#"{"canceled":[],"not_canceled":{}}"#),
        ])
        .await;
        let c = client(&url);
        let r = c
            .cancel_orders(&["0xa".to_string(), "0xb".to_string()])
            .await
            .unwrap();
        assert_eq!(r.canceled, vec!["0xa".to_string()]);
        assert_eq!(
            r.not_canceled,
            vec![("0xb".to_string(), "already filled".to_string())]
        );
        c.cancel_all().await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(
            (seen[1].method.as_str(), seen[1].path.as_str()),
            ("DELETE", "/orders")
        );
        assert_eq!(seen[1].body, br#"["0xa","0xb"]"#);
        check_l2(&seen[1], "/orders");
        assert_eq!(seen[2].path, "/cancel-all");
        check_l2(&seen[2], "/cancel-all");
    }

    #[tokio::test]
    async fn derive_sends_l1_headers() {
        let (url, seen) = serve(vec![resp(
            200,
            r#"{"apiKey":"k-1","secret":"c2VjcmV0","passphrase":"p-1"}"#,
        )])
        .await;
        let c = client(&url);
        let creds = c.derive_api_key(7).await.unwrap();
        assert_eq!(creds.api_key, "k-1");
        assert_eq!(creds.passphrase.expose(), "p-1");
        let seen = seen.lock().unwrap();
        let s = &seen[0];
        assert_eq!(s.path, "/auth/derive-api-key");
        assert_eq!(s.header("POLY_NONCE"), Some("7"));
        let ts: u64 = s.header("POLY_TIMESTAMP").unwrap().parse().unwrap();
        let key = PrivateKey::from_hex(KEY).unwrap();
        let want = crate::clob::auth::sign_clob_auth(&key, ts, 7, POLYGON).unwrap();
        assert_eq!(s.header("POLY_SIGNATURE"), Some(want.as_str()));
    }

    #[tokio::test]
    async fn reads_books_and_fee_curves() {
        let (url, _) = serve(vec![
            resp(200, r#"{"bids":[{"price":"0.48","size":"100"}],"asks":[{"price":"0.52","size":"30.5"}],
                    "min_order_size":"5","tick_size":"0.01","neg_risk":false,"last_trade_price":"0.5"}"#),
            resp(200, r#"{"t":[{"t":"1"}],"fd":{"r":0.25,"e":2},"mos":5}"#),
        ])
        .await;
        let c = client(&url);
        let b = c.book("1").await.unwrap();
        assert_eq!(b.asks[0].size.to_string(), "30.5");
        assert_eq!(b.tick_size.unwrap().to_string(), "0.01");
        let m = c.clob_market("0xcond").await.unwrap();
        assert_eq!(m.fee_rate.to_string(), "0.25");
        assert_eq!(m.fee_exponent.to_string(), "2");
        assert_eq!(m.min_order_size.unwrap().to_string(), "5");
    }

    #[tokio::test]
    async fn errors_never_show_secrets_or_url_paths() {
        let (url, _) = serve(vec![resp(
            401,
            r#"{"error":"Unauthorized/Invalid api key"}"#,
        )])
        .await;
        let c = ClobClient::new(Some(&format!("{url}/proxy-token-SECRETPATH")), fast())
            .unwrap()
            .with_key(PrivateKey::from_hex(KEY).unwrap())
            .with_creds(creds());
        let e = c.cancel_all().await.unwrap_err().to_string();
        assert!(e.contains("HTTP 401: Unauthorized/Invalid api key"), "{e}");
        for secret in ["SECRETPATH", "pass-phrase-xyz", SECRET, &KEY[2..]] {
            assert!(!e.contains(secret), "{e}");
        }
        let shown = format!("{c:?}");
        for secret in ["SECRETPATH", "pass-phrase-xyz", SECRET, &KEY[2..]] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let no_creds = ClobClient::new(Some(&url), fast()).unwrap();
        let e = no_creds.cancel_all().await.unwrap_err();
        assert!(e.to_string().starts_with("missing API credentials"), "{e}");
    }
}
