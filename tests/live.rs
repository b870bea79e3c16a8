//! Live trading against a fake CLOB written here: a small HTTP server that checks every order's
//! EIP-712 signature and every L2 HMAC by its own arithmetic (not the library's), serves
//! /version, /tick-size, /neg-risk, /book, /clob-markets and /data/order, and answers POST
//! /order as told (success, 400, 401, 429, 503, an answer that never comes, a dropped
//! connection). The database is a real Postgres; fills of our orders are chain.order_filled
//! rows carrying the order's hash, as the indexer writes them.

mod common;
#[path = "trading/mod.rs"]
mod trading;

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{engine::general_purpose::URL_SAFE, Engine as _};
use common::TestDb;
use ethers::{
    types::{Address, Signature, H256, U256},
    utils::keccak256,
};
use hmac::{Hmac, Mac};
use orderflow::db::CachedTx;
use orderflow::{
    clob::{order::OrderType, order::SignatureType, ApiCreds, PrivateKey, Secret},
    exec::{
        broker::{OrderRequest, Placement, Priced, Side},
        params::Params,
        Broker, Decided, Engine, ExecError, LiveBroker, LiveConfig,
    },
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tokio_postgres::Client;
use trading::*;

/// anvil's first well-known development key; its address signs and makes every order.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const API_KEY: &str = "0b7c4a2e-1111-2222-3333-444455556666";
const API_SECRET: &str = "c2VjcmV0LWtleS1mb3ItdGhlLWZha2UtY2xvYi0xMjM0NTY3OA==";
const PASSPHRASE: &str = "passphrase-of-the-fake-clob";
/// The exchanges a V2 / V3 order is signed for (reference: polymarket-onchain.md, -clob.md).
const EXCHANGE_V2: &str = "0xE111180000d2663C0091e4f400237545B87B996B";
const EXCHANGE_V3: &str = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa";

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// How the fake answers the next POST /order.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// Takes the order: `{"success": true, "status": "matched", …}`.
    Accept,
    /// Refuses it with this status and `{"error": …}`.
    Status(u16, &'static str),
    /// Takes the order, then never answers.
    Hang,
    /// Closes the connection without reading the order.
    Drop,
}

/// One POST /order as the fake saw it.
#[derive(Debug, Clone)]
struct Post {
    /// The order hash the fake computed itself.
    hash: String,
    /// Whether the signature recovered to the signer and the HMAC matched.
    valid: bool,
    body: String,
    /// exec.orders.status of that hash when the POST arrived.
    stored_as: Option<String>,
}

#[derive(Default)]
struct State {
    version: u64,
    fee_rate: f64,
    ask: String,
    answers: VecDeque<Answer>,
    posts: Vec<Post>,
    /// Orders taken, by hash: their shares.
    taken: HashMap<String, String>,
    /// What GET /data/order reports as matched (default: the whole order).
    matched: Option<String>,
    problems: Vec<String>,
    db_url: Option<String>,
    requests: Vec<String>,
}

#[derive(Clone)]
struct FakeClob {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeClob {
    async fn start(db_url: &str) -> FakeClob {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            version: 2,
            ask: "0.5".into(),
            db_url: Some(db_url.to_owned()),
            ..State::default()
        }));
        let fake = FakeClob { url, state };
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move { server.serve(sock).await });
            }
        });
        fake
    }

    fn answer(&self, answers: &[Answer]) {
        self.state
            .lock()
            .unwrap()
            .answers
            .extend(answers.iter().copied());
    }

    fn posts(&self) -> Vec<Post> {
        self.state.lock().unwrap().posts.clone()
    }

    fn taken(&self) -> usize {
        self.state.lock().unwrap().taken.len()
    }

    fn problems(&self) -> Vec<String> {
        self.state.lock().unwrap().problems.clone()
    }

    async fn serve(&self, mut sock: tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            let n = sock.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_owned();
        let target = first.next().unwrap_or("").to_owned();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if method == "POST" && target == "/order" {
            let next = self.state.lock().unwrap().answers.front().copied();
            if let Some(Answer::Drop) = next {
                self.state.lock().unwrap().answers.pop_front();
                self.state.lock().unwrap().posts.push(Post {
                    hash: String::new(),
                    valid: false,
                    body: String::new(),
                    stored_as: None,
                });
                return;
            }
        }
        let mut body = buf[head_end + 4..].to_vec();
        while body.len() < len {
            let n = sock.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        self.state
            .lock()
            .unwrap()
            .requests
            .push(format!("{method} {path}"));
        let reply = self.route(&method, path, query, &headers, &body).await;
        let Some((status, text)) = reply else {
            // Hang: hold the connection open and never answer.
            std::future::pending::<()>().await;
            return;
        };
        let resp = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        let _ = sock.shutdown().await;
    }

    async fn route(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HashMap<String, String>,
        body: &[u8],
    ) -> Option<(u16, String)> {
        let ok = |v: Value| Some((200, v.to_string()));
        match (method, path) {
            ("GET", "/version") => ok(json!({ "version": self.state.lock().unwrap().version })),
            ("GET", "/tick-size") => ok(json!({ "minimum_tick_size": 0.01 })),
            ("GET", "/neg-risk") => ok(json!({ "neg_risk": false })),
            ("GET", "/book") => {
                let ask = self.state.lock().unwrap().ask.clone();
                let token = query.trim_start_matches("token_id=");
                ok(json!({
                    "market": format!("0x{}", &MARKET1[3..]), "asset_id": token,
                    "bids": [{"price": "0.4", "size": "100"}],
                    "asks": [{"price": "0.9", "size": "100"}, {"price": ask, "size": "5000"}],
                    "min_order_size": "5", "tick_size": "0.01", "neg_risk": false, "last_trade_price": "0.5"
                }))
            }
            ("GET", p) if p.starts_with("/clob-markets/") => {
                let r = self.state.lock().unwrap().fee_rate;
                ok(json!({ "fd": { "r": r, "e": 2 }, "mos": 5 }))
            }
            _ => {
                if let Err(why) = check_l2(method, path, headers, body) {
                    let status = if why.starts_with("401") { 401 } else { 400 };
                    self.state.lock().unwrap().problems.push(why.clone());
                    return Some((status, json!({ "error": why }).to_string()));
                }
                match (method, path) {
                    ("GET", "/auth/api-keys") => ok(json!({ "apiKeys": [API_KEY] })),
                    ("GET", p) if p.starts_with("/data/order/") => {
                        let hash = &p["/data/order/".len()..];
                        let st = self.state.lock().unwrap();
                        match st.taken.get(hash) {
                            Some(size) => ok(json!({
                                "id": hash, "status": "ORDER_STATUS_MATCHED",
                                "original_size": size,
                                "size_matched": st.matched.clone().unwrap_or(size.clone()),
                            })),
                            None => Some((200, "null".into())),
                        }
                    }
                    ("POST", "/order") => self.post_order(body).await,
                    _ => Some((404, json!({ "error": "no such route" }).to_string())),
                }
            }
        }
    }

    async fn post_order(&self, body: &[u8]) -> Option<(u16, String)> {
        let text = String::from_utf8_lossy(body).to_string();
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let version = self.state.lock().unwrap().version;
        let (hash, valid) = match order_hash_and_signer(&v["order"], version) {
            Ok((hash, signer)) => {
                let claimed: Address = v["order"]["signer"].as_str().unwrap().parse().unwrap();
                (hash, signer == claimed && v["owner"] == json!(API_KEY))
            }
            Err(why) => {
                self.state.lock().unwrap().problems.push(why);
                (String::new(), false)
            }
        };
        // What the database held for this order at the moment it was posted.
        let db_url = self.state.lock().unwrap().db_url.clone();
        let mut stored_as = None;
        if let (Some(url), false) = (db_url, hash.is_empty()) {
            let c = orderflow::db::connect(&url).await.unwrap();
            stored_as = c
                .query_opt(
                    "SELECT status FROM exec.orders WHERE chain.hex(order_hash) = $1",
                    &[&hash],
                )
                .await
                .unwrap()
                .map(|r| r.get(0));
        }
        let answer = {
            let mut st = self.state.lock().unwrap();
            st.posts.push(Post {
                hash: hash.clone(),
                valid,
                body: text,
                stored_as,
            });
            st.answers.pop_front().unwrap_or(Answer::Accept)
        };
        if !valid {
            return Some((400, json!({ "error": "invalid signature" }).to_string()));
        }
        let take = |st: &mut State| {
            let shares = v["order"]["takerAmount"]
                .as_str()
                .and_then(|a| a.parse::<i64>().ok())
                .map_or(Decimal::ZERO, |a| Decimal::new(a, 6).normalize());
            if st.taken.insert(hash.clone(), shares.to_string()).is_some() {
                return Err(());
            }
            Ok(())
        };
        match answer {
            Answer::Accept => {
                if take(&mut self.state.lock().unwrap()).is_err() {
                    return Some((400, json!({ "error": "order already exists" }).to_string()));
                }
                Some((
                    200,
                    json!({ "success": true, "errorMsg": "", "orderID": hash, "status": "matched",
                            "makingAmount": "", "takingAmount": "", "transactionsHashes": [], "tradeIDs": [] })
                    .to_string(),
                ))
            }
            Answer::Status(s, msg) => Some((s, json!({ "error": msg }).to_string())),
            Answer::Hang => {
                let _ = take(&mut self.state.lock().unwrap());
                None
            }
            Answer::Drop => unreachable!("dropped before reading"),
        }
    }
}

/// Checks the L2 headers by recomputing the HMAC: base64url(HMAC-SHA256(base64url-decode(
/// secret), timestamp + method + path + body)).
fn check_l2(
    method: &str,
    path: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> Result<(), String> {
    let h = |k: &str| {
        headers
            .get(&k.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    };
    if h("POLY_API_KEY") != API_KEY || h("POLY_PASSPHRASE") != PASSPHRASE {
        return Err("401 Unauthorized/Invalid api key".into());
    }
    if !h("POLY_ADDRESS").eq_ignore_ascii_case(ADDRESS) {
        return Err(format!("400 POLY_ADDRESS {}", h("POLY_ADDRESS")));
    }
    let key = URL_SAFE.decode(API_SECRET).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(h("POLY_TIMESTAMP").as_bytes());
    mac.update(method.as_bytes());
    mac.update(path.as_bytes());
    mac.update(body);
    let want = URL_SAFE.encode(mac.finalize().into_bytes());
    if h("POLY_SIGNATURE") != want {
        return Err(format!("400 bad HMAC on {method} {path}"));
    }
    Ok(())
}

fn word_u(v: U256) -> [u8; 32] {
    let mut w = [0u8; 32];
    v.to_big_endian(&mut w);
    w
}

fn word_a(a: Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a.as_bytes());
    w
}

fn dec(v: &Value) -> U256 {
    match v {
        Value::Number(n) => U256::from(n.as_u64().unwrap()),
        Value::String(s) => U256::from_dec_str(s).unwrap(),
        _ => panic!("not a number: {v}"),
    }
}

/// The EIP-712 hash of a V2/V3 order as the reference spells it, and the address its
/// signature recovers to.
fn order_hash_and_signer(o: &Value, version: u64) -> Result<(String, Address), String> {
    let exchange: Address = match version {
        2 => EXCHANGE_V2,
        3 => EXCHANGE_V3,
        v => return Err(format!("no exchange for version {v}")),
    }
    .parse()
    .unwrap();
    let mut domain = Vec::new();
    domain.extend(keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
    ));
    domain.extend(keccak256("Polymarket CTF Exchange"));
    domain.extend(keccak256(version.to_string()));
    domain.extend(word_u(U256::from(137)));
    domain.extend(word_a(exchange));
    let separator = keccak256(domain);
    let addr = |k: &str| -> Address { o[k].as_str().unwrap().parse().unwrap() };
    let b32 = |k: &str| -> [u8; 32] {
        let h = o[k].as_str().unwrap().trim_start_matches("0x");
        let mut w = [0u8; 32];
        for i in 0..32 {
            w[i] = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
        }
        w
    };
    let side = match o["side"].as_str() {
        Some("BUY") => 0u64,
        Some("SELL") => 1,
        other => return Err(format!("side {other:?}")),
    };
    let mut s = Vec::new();
    s.extend(keccak256(
        "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,\
         uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,\
         bytes32 builder)",
    ));
    s.extend(word_u(dec(&o["salt"])));
    s.extend(word_a(addr("maker")));
    s.extend(word_a(addr("signer")));
    s.extend(word_u(dec(&o["tokenId"])));
    s.extend(word_u(dec(&o["makerAmount"])));
    s.extend(word_u(dec(&o["takerAmount"])));
    s.extend(word_u(U256::from(side)));
    s.extend(word_u(dec(&o["signatureType"])));
    s.extend(word_u(dec(&o["timestamp"])));
    s.extend(b32("metadata"));
    s.extend(b32("builder"));
    let mut msg = vec![0x19, 0x01];
    msg.extend(separator);
    msg.extend(keccak256(s));
    let digest = keccak256(msg);
    let sig: Signature = o["signature"]
        .as_str()
        .unwrap()
        .parse()
        .map_err(|e| format!("signature: {e}"))?;
    let signer = sig
        .recover(H256(digest))
        .map_err(|e| format!("recover: {e}"))?;
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((format!("0x{hex}"), signer))
}

fn creds() -> ApiCreds {
    ApiCreds {
        api_key: API_KEY.into(),
        secret: Secret::new(API_SECRET),
        passphrase: Secret::new(PASSPHRASE),
    }
}

fn live_config(fake: &FakeClob) -> LiveConfig {
    config_for(&fake.url)
}

fn config_for(url: &str) -> LiveConfig {
    LiveConfig {
        clob_url: url.to_owned(),
        key: PrivateKey::from_hex(KEY).unwrap(),
        creds: Some(creds()),
        api_key_nonce: 0,
        signature_type: SignatureType::Eoa,
        funder: None,
        order_type: OrderType::Fak,
        chain_id: 137,
        post_retries: 3,
        post_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(1),
        capital: Some(d("10000")),
    }
}

/// A database with markets, a 10 000 USDC live account, and the fake CLOB.
async fn setup() -> (TestDb, Client, FakeClob) {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    markets(&c).await;
    let fake = FakeClob::start(&db.url).await;
    let e = Engine::new(
        "live",
        LiveBroker::connect(&live_config(&fake)).await.unwrap(),
    );
    e.open_account_with(&mut c, "live", Some(d("10000")))
        .await
        .unwrap();
    (db, c, fake)
}

async fn engine(fake: &FakeClob) -> Engine<LiveBroker> {
    Engine::new(
        "live",
        LiveBroker::connect(&live_config(fake)).await.unwrap(),
    )
}

/// A FOLLOW signal on token 1001 at confidence 0.6: at the fake's ask of 0.5 without fee,
/// quarter Kelly stakes 500 USDC = 1000 shares.
async fn follow(c: &Client) -> i64 {
    signal(c, 100, 1001, 0.6, 2.0).await
}

async fn cash(c: &Client) -> Decimal {
    c.query_one("SELECT cash FROM exec.accounts WHERE account = 'live'", &[])
        .await
        .unwrap()
        .get(0)
}

/// (status, hash, error, post_attempts, reserve, filled_shares) of the order of `signal`.
async fn order(c: &Client, signal: i64) -> (String, String, Option<String>, i32, Decimal, Decimal) {
    let r = c
        .query_one(
            "SELECT status, chain.hex(order_hash), error, post_attempts, reserve, filled_shares
             FROM exec.orders WHERE signal_id = $1",
            &[&signal],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))
}

/// A fill of our order on chain: `shares` of token 1001 bought at 0.5 by our address.
fn own_fill(block: i64, log: i32, hash: &str, shares: f64, fee: f64) -> Fill {
    let mut h = [0u8; 32];
    let hex = hash.trim_start_matches("0x");
    for (i, b) in h.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    let a: Address = ADDRESS.parse().unwrap();
    Fill {
        order_hash: Some(h),
        maker: Some(a.0),
        fee,
        ..fill(block, log, 0, 0, 1001, shares, 0.5)
    }
}

async fn decide(e: &Engine<LiveBroker>, c: &mut Client) -> Decided {
    e.decide_next(c).await.unwrap().expect("a signal to decide")
}

#[tokio::test]
async fn a_follow_signal_becomes_one_signed_order_stored_before_it_is_posted() {
    let (_db, mut c, fake) = setup().await;
    let s = follow(&c).await;
    let e = engine(&fake).await;
    assert!(
        matches!(decide(&e, &mut c).await, Decided::Ordered { signal_id, .. } if signal_id == s)
    );
    let posts = fake.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(
        posts[0].valid,
        "signature or HMAC refused: {:?}",
        fake.problems()
    );
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    // Committed before the POST: the fake read the row while the POST was in flight.
    assert_eq!(posts[0].stored_as.as_deref(), Some("posted"));
    let (status, hash, error, attempts, reserve, _) = order(&c, s).await;
    assert_eq!((status.as_str(), error, attempts), ("live", None, 1));
    assert_eq!(
        hash, posts[0].hash,
        "the stored hash is the exchange's order hash"
    );
    assert_eq!(reserve, d("500"));
    let r = c
        .query_one(
            "SELECT o.body, o.maker_amount, o.taker_amount, o.shares, o.limit_price, o.order_type, o.clob_version,
                    o.broker_order_id, length(o.signature), d.outcome, d.reason, d.stake, d.order_id = o.order_id
             FROM exec.orders o JOIN exec.decisions d ON d.signal_id = o.signal_id WHERE o.signal_id = $1",
            &[&s],
        )
        .await
        .unwrap();
    assert_eq!(
        r.get::<_, String>(0),
        posts[0].body,
        "the stored body is what was posted"
    );
    assert_eq!(
        (r.get::<_, i64>(1), r.get::<_, i64>(2)),
        (500_000_000, 1_000_000_000)
    );
    assert_eq!(
        (r.get::<_, Decimal>(3), r.get::<_, Decimal>(4)),
        (d("1000"), d("0.5"))
    );
    assert_eq!(
        (r.get::<_, String>(5), r.get::<_, i16>(6)),
        ("FAK".into(), 2)
    );
    assert_eq!(r.get::<_, Option<String>>(7), Some(hash.clone()));
    assert_eq!(r.get::<_, i32>(8), 65);
    assert_eq!(
        (
            r.get::<_, String>(9),
            r.get::<_, String>(10),
            r.get::<_, Decimal>(11)
        ),
        ("placed".into(), "sized".into(), d("500"))
    );
    assert!(r.get::<_, bool>(12));
    // The reserve left cash but not equity: a second signal is sized on 10 000, not 9 500.
    assert_eq!(cash(&c).await, d("9500"));
    let body: Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(body["orderType"], json!("FAK"));
    assert_eq!(body["order"]["maker"], json!(ADDRESS));
    assert_eq!(body["order"]["tokenId"], json!("1001"));
    // Nothing else to decide, and reconciling before any fill changes nothing.
    assert!(e.decide_next(&mut c).await.unwrap().is_none());
    assert!(e.reconcile(&mut c).await.unwrap().is_empty());
    assert_eq!(fake.taken(), 1);
}

#[tokio::test]
async fn partial_fills_on_chain_become_the_position_and_the_rest_of_the_reserve_returns() {
    let (_db, mut c, fake) = setup().await;
    // A V2 fee curve: 0.25 x (0.25)^2 = 0.015625 USDC a share at 0.5.
    fake.state.lock().unwrap().fee_rate = 0.25;
    let s = follow(&c).await;
    let e = engine(&fake).await;
    decide(&e, &mut c).await;
    let (_, hash, ..) = order(&c, s).await;
    let shares: Decimal = c
        .query_one("SELECT shares FROM exec.orders WHERE signal_id = $1", &[&s])
        .await
        .unwrap()
        .get(0);
    assert_eq!(shares, d("844.57"));
    let reserve_before = order(&c, s).await.4;
    assert_eq!(reserve_before, d("435.481406"));
    // 300 then 200 shares reach the chain; a fill of someone else's order does not count.
    insert(&c, &[own_fill(200, 0, &hash, 300.0, 4.6875)]).await;
    insert(
        &c,
        &[
            own_fill(201, 0, &hash, 200.0, 3.125),
            fill(201, 1, 900, 0, 1001, 50.0, 0.5),
        ],
    )
    .await;
    fake.state.lock().unwrap().matched = Some("500".into());
    let settled = e.reconcile(&mut c).await.unwrap();
    assert_eq!(settled.len(), 1);
    let (status, _, _, _, reserve, filled) = order(&c, s).await;
    assert_eq!(
        (status.as_str(), reserve, filled),
        ("partial", d("0"), d("500"))
    );
    let p = c
        .query_one(
            "SELECT shares, cost, fees, first_signal_id, status FROM exec.positions WHERE account = 'live'",
            &[],
        )
        .await
        .unwrap();
    // 500 shares at 0.5 = 250 USDC, plus 7.8125 of fees.
    assert_eq!(
        (
            p.get::<_, Decimal>(0),
            p.get::<_, Decimal>(1),
            p.get::<_, Decimal>(2)
        ),
        (d("500"), d("257.8125"), d("7.8125"))
    );
    assert_eq!(
        (p.get::<_, i64>(3), p.get::<_, String>(4)),
        (s, "open".into())
    );
    assert_eq!(cash(&c).await, d("9742.1875"));
    let fills: i64 = c
        .query_one(
            "SELECT count(*) FROM exec.fills f JOIN exec.orders o USING (order_id) WHERE o.signal_id = $1",
            &[&s],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(fills, 2);
    // Reading the chain again books nothing twice; a fill arriving after settlement is
    // still booked, out of cash.
    e.reconcile(&mut c).await.unwrap();
    insert(&c, &[own_fill(202, 0, &hash, 100.0, 0.0)]).await;
    e.reconcile(&mut c).await.unwrap();
    assert_eq!(order(&c, s).await.5, d("600"));
    assert_eq!(cash(&c).await, d("9692.1875"));
    let pos: i64 = c
        .query_one(
            "SELECT position_id FROM exec.decisions WHERE signal_id = $1",
            &[&s],
        )
        .await
        .unwrap()
        .get(0);
    assert!(pos > 0);
}

#[tokio::test]
async fn a_400_rejects_the_decision_with_the_clob_s_reason() {
    let (_db, mut c, fake) = setup().await;
    fake.answer(&[Answer::Status(
        400,
        "invalid order: not enough balance / allowance",
    )]);
    let s = follow(&c).await;
    let e = engine(&fake).await;
    decide(&e, &mut c).await;
    assert_eq!(fake.posts().len(), 1);
    assert_eq!(fake.taken(), 0);
    let (status, _, error, attempts, reserve, _) = order(&c, s).await;
    assert_eq!(
        (status.as_str(), attempts, reserve),
        ("rejected", 1, d("0"))
    );
    assert!(error.unwrap().contains("not enough balance / allowance"));
    let r = c
        .query_one(
            "SELECT outcome, detail FROM executor_decisions WHERE signal_id = $1",
            &[&s],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "rejected");
    assert!(r
        .get::<_, String>(1)
        .contains("HTTP 400: invalid order: not enough balance"));
    assert_eq!(cash(&c).await, d("10000"));
    // The signal is decided: nothing is posted again.
    assert!(e.decide_next(&mut c).await.unwrap().is_none());
    e.reconcile(&mut c).await.unwrap();
    assert_eq!(fake.posts().len(), 1);
}

#[tokio::test]
async fn after_429_and_503_the_same_order_is_posted_again_and_taken_once() {
    let (_db, mut c, fake) = setup().await;
    fake.answer(&[
        Answer::Status(429, "Too Many Requests"),
        Answer::Status(503, "Trading is temporarily unavailable"),
        Answer::Accept,
    ]);
    let s = follow(&c).await;
    let e = engine(&fake).await;
    decide(&e, &mut c).await;
    let posts = fake.posts();
    assert_eq!(posts.len(), 3);
    assert!(posts.iter().all(|p| p.valid));
    assert!(posts
        .iter()
        .all(|p| p.hash == posts[0].hash && p.body == posts[0].body));
    assert_eq!(fake.taken(), 1);
    let (status, hash, _, attempts, ..) = order(&c, s).await;
    assert_eq!((status.as_str(), attempts), ("live", 3));
    assert_eq!(hash, posts[0].hash);
    // 503 for good: given up as not sent, the reserve back in cash.
    fake.answer(&[Answer::Status(503, "down"); 4]);
    let s2 = signal(&c, 100, 2001, 0.6, 2.0).await;
    decide(&e, &mut c).await;
    let (status, _, error, attempts, ..) = order(&c, s2).await;
    assert_eq!((status.as_str(), attempts), ("not_sent", 4));
    assert!(error.unwrap().contains("not taken after 4 attempts"));
    assert_eq!(fake.taken(), 1);
    assert_eq!(cash(&c).await, d("9500"));
}

#[tokio::test]
async fn a_401_stops_the_executor_with_one_line_about_the_credentials() {
    let (_db, mut c, fake) = setup().await;
    fake.answer(&[Answer::Status(401, "Unauthorized/Invalid api key")]);
    let s = follow(&c).await;
    let e = engine(&fake).await;
    let err = e.decide_next(&mut c).await.unwrap_err();
    assert!(matches!(err, ExecError::Unauthorized(_)), "{err}");
    let line = err.to_string();
    assert_eq!(line.lines().count(), 1);
    assert!(line.contains("refused the API credentials"), "{line}");
    for secret in [API_SECRET, PASSPHRASE, &KEY[2..]] {
        assert!(!line.contains(secret), "{line}");
    }
    let (status, ..) = order(&c, s).await;
    assert_eq!(status, "not_sent");
    assert_eq!(cash(&c).await, d("10000"));
    // Wrong credentials are found at start-up, before any order.
    let mut cfg = live_config(&fake);
    cfg.creds = Some(ApiCreds {
        api_key: "not-our-key".into(),
        ..creds()
    });
    let err = LiveBroker::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, ExecError::Unauthorized(_)), "{err}");
}

/// The live broker without its `submit`: the engine stores and commits the order, then "stops"
/// before posting it.
struct StopsBeforePosting(LiveBroker);

impl Broker for StopsBeforePosting {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    async fn quote(
        &self,
        tx: &CachedTx<'_>,
        params: &Params,
        token_id: &str,
        side: Side,
        since_block: i64,
    ) -> Result<Option<Priced>, ExecError> {
        self.0.quote(tx, params, token_id, side, since_block).await
    }

    async fn execute(
        &self,
        tx: &CachedTx<'_>,
        params: &Params,
        order: &OrderRequest,
    ) -> Result<Placement, ExecError> {
        self.0.execute(tx, params, order).await
    }
}

#[tokio::test]
async fn an_order_stored_but_never_posted_is_posted_at_restart_only_while_fresh() {
    let (_db, mut c, fake) = setup().await;
    let stopped = Engine::new(
        "live",
        StopsBeforePosting(LiveBroker::connect(&live_config(&fake)).await.unwrap()),
    );
    let fresh = follow(&c).await;
    stopped.decide_next(&mut c).await.unwrap();
    assert_eq!(order(&c, fresh).await.0, "signed");
    assert!(fake.posts().is_empty());
    // Restart: provably unsent and signed moments ago, so it goes out, once.
    let e = engine(&fake).await;
    e.reconcile(&mut c).await.unwrap();
    assert_eq!(order(&c, fresh).await.0, "live");
    assert_eq!(fake.posts().len(), 1);
    assert_eq!(fake.posts()[0].hash, order(&c, fresh).await.1);
    // Too old to post (live_repost_seconds 0): not sent, reserve back, never posted.
    set_param(&c, "live_repost_seconds", 0.0).await;
    let stale = signal(&c, 100, 2001, 0.6, 2.0).await;
    stopped.decide_next(&mut c).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    e.reconcile(&mut c).await.unwrap();
    let (status, _, error, attempts, reserve, _) = order(&c, stale).await;
    assert_eq!(
        (status.as_str(), attempts, reserve),
        ("not_sent", 0, d("0"))
    );
    assert!(error.unwrap().contains("never posted"));
    assert_eq!(fake.posts().len(), 1);
    assert_eq!(cash(&c).await, d("9500"));
}

#[tokio::test]
async fn a_crash_during_the_post_is_reconciled_by_hash_without_a_second_order() {
    let (db, mut c, fake) = setup().await;
    // The CLOB takes the order and the executor dies before the answer.
    fake.answer(&[Answer::Hang]);
    let s = follow(&c).await;
    let mut cfg = live_config(&fake);
    cfg.timeout = Duration::from_secs(30);
    let e = Engine::new("live", LiveBroker::connect(&cfg).await.unwrap());
    let url = db.url.clone();
    let crashed = tokio::spawn(async move {
        let mut c = orderflow::db::connect(&url).await.unwrap();
        e.decide_next(&mut c).await
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while fake.taken() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the POST never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    crashed.abort();
    let _ = crashed.await;
    assert_eq!(order(&c, s).await.0, "posted");
    // Restart: the order is found on the CLOB by its hash, not posted again; its fill on
    // chain becomes the position.
    let e = engine(&fake).await;
    e.reconcile(&mut c).await.unwrap();
    let (status, hash, ..) = order(&c, s).await;
    assert_eq!(status, "live");
    insert(&c, &[own_fill(300, 0, &hash, 1000.0, 0.0)]).await;
    e.reconcile(&mut c).await.unwrap();
    assert_eq!(order(&c, s).await.0, "filled");
    assert_eq!(fake.posts().len(), 1);
    assert_eq!(fake.taken(), 1);
    let shares: Decimal = c
        .query_one(
            "SELECT shares FROM exec.positions WHERE account = 'live'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(shares, d("1000"));
    assert_eq!(cash(&c).await, d("9500"));

    // The connection drops before the CLOB reads the order: unknown to it, no fills, so
    // not sent, and not posted again.
    fake.answer(&[Answer::Drop]);
    let s2 = signal(&c, 100, 2001, 0.6, 2.0).await;
    decide(&e, &mut c).await;
    assert_eq!(order(&c, s2).await.0, "posted");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    e.reconcile(&mut c).await.unwrap();
    let (status, _, error, ..) = order(&c, s2).await;
    assert_eq!(status, "not_sent");
    assert!(error.unwrap().contains("does not know the order"));
    assert_eq!(fake.posts().len(), 2);
    assert_eq!(fake.taken(), 1);
}

#[tokio::test]
async fn the_executor_binary_trades_live_without_showing_a_secret() {
    let (db, c, fake) = setup().await;
    let key_file = common::temp_file("key", &[KEY.to_owned()]);
    let s = follow(&c).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_executor"))
        .args([
            "--mode",
            "live",
            "--poll-ms",
            "100",
            "--clob-url",
            &fake.url,
        ])
        .arg("--key-file")
        .arg(&key_file)
        .env("DATABASE_URL", &db.url)
        .env("POLY_API_KEY", API_KEY)
        .env("POLY_API_SECRET", API_SECRET)
        .env("POLY_PASSPHRASE", PASSPHRASE)
        .env("RUST_LOG", "debug")
        .env_remove("POLY_PRIVATE_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status: Option<String> = c
            .query_opt("SELECT status FROM exec.orders WHERE signal_id = $1", &[&s])
            .await
            .unwrap()
            .map(|r| r.get(0));
        if status.as_deref() == Some("live") {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "no live order: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("1 entries placed"), "{all}");
    assert!(all.contains("order taken by the CLOB"), "{all}");
    for secret in [API_SECRET, PASSPHRASE, &KEY[2..]] {
        assert!(!all.contains(secret), "a secret in the output: {all}");
    }
    assert_eq!(fake.posts().len(), 1);
    assert!(fake.posts()[0].valid);
    // No account yet and no --capital: one clear line.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_executor"));
    cmd.args([
        "--mode",
        "live",
        "--account",
        "other",
        "--clob-url",
        &fake.url,
    ])
    .arg("--key-file")
    .arg(&key_file)
    .env("DATABASE_URL", &db.url)
    .env("POLY_API_KEY", API_KEY)
    .env("POLY_API_SECRET", API_SECRET)
    .env("POLY_PASSPHRASE", PASSPHRASE)
    .env("RUST_LOG", "off");
    // Off the runtime: the fake CLOB answers on it meanwhile.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    std::fs::remove_file(&key_file).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr.trim(),
        "error: live mode: account other does not exist yet: pass --capital USDC, the money it may trade"
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let cfg = config_for("https://user:pw@clob.example");
    let shown = format!("{cfg:?} {cfg:#?}");
    for secret in [API_SECRET, PASSPHRASE, &KEY[2..], "pw@"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("***"));
    use clap::Parser;
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        live: orderflow::exec::live::LiveArgs,
    }
    let cli = Cli::try_parse_from([
        "executor",
        "--api-key",
        API_KEY,
        "--api-secret",
        API_SECRET,
        "--api-passphrase",
        PASSPHRASE,
    ])
    .unwrap();
    let shown = format!("{cli:?}");
    for secret in [API_SECRET, PASSPHRASE] {
        assert!(!shown.contains(secret), "{shown}");
    }
}
