//! Market labels from Gamma, against a local fake Gamma HTTP server that answers with Gamma's
//! real field shapes (`outcomes`, `outcomePrices`, `clobTokenIds` as JSON-encoded strings, the
//! implicit `closed=false` of /markets, limit/offset paging) and a real Postgres.

mod common;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{import_file, scalar_i64, strings, temp_file, TestDb};
use ethers::types::U256;
use orderflow::{
    chain::{
        contracts::{addr, known},
        events::Side,
        hex,
        log::{Address, Word},
        position_id, RawLog,
    },
    gamma::{self, GammaClient, GammaOptions, RefreshOptions, SyncOptions},
    sim::encode::{self, Fill},
};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};

// ---------------------------------------------------------------------------------------------
// A fake Gamma: a small HTTP/1.1 server over tokio TCP.

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Req {
    path: String,
    query: Vec<(String, String)>,
    /// 0-based number of this request.
    n: usize,
}

impl Req {
    fn get(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, k: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn num(&self, k: &str) -> Option<usize> {
        self.get(k).and_then(|v| v.parse().ok())
    }

    fn shown(&self) -> String {
        let q: Vec<String> = self
            .query
            .iter()
            .filter(|(k, _)| k != "condition_ids" && k != "id")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{}?{}", self.path, q.join("&"))
    }
}

struct Resp {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Resp {
    fn json(v: Value) -> Resp {
        Resp {
            status: 200,
            headers: vec![],
            body: v.to_string(),
        }
    }

    fn status(status: u16) -> Resp {
        Resp {
            status,
            headers: vec![],
            body: json!({"error": "nope"}).to_string(),
        }
    }
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

struct FakeGamma {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Req>>>,
    task: JoinHandle<()>,
}

impl FakeGamma {
    async fn start(handler: Handler) -> FakeGamma {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let task = {
            let log = log.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((mut sock, _)) = listener.accept().await else {
                        continue;
                    };
                    let (log, handler) = (log.clone(), handler.clone());
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let head = String::from_utf8_lossy(&buf).to_string();
                        let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                        let (path, qs) = target.split_once('?').unwrap_or((&target, ""));
                        let query = qs
                            .split('&')
                            .filter(|p| !p.is_empty())
                            .map(|p| {
                                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                                (k.to_owned(), unescape(v))
                            })
                            .collect();
                        let req = {
                            let mut log = log.lock().unwrap();
                            let req = Req {
                                path: path.to_owned(),
                                query,
                                n: log.len(),
                            };
                            log.push(req.clone());
                            req
                        };
                        let resp = handler(&req);
                        let mut out = format!(
                            "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                            resp.status,
                            resp.body.len()
                        );
                        for (k, v) in &resp.headers {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        out.push_str(&resp.body);
                        let _ = sock.write_all(out.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    });
                }
            })
        };
        FakeGamma { addr, log, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeGamma {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into()
}

/// Gamma's catalogue: markets and events, listed like /markets and /events list them.
#[derive(Clone, Default)]
struct Catalogue {
    markets: Vec<Value>,
    events: Vec<Value>,
}

impl Catalogue {
    /// Answers /markets and /events: `closed` defaults to false as Gamma's does, filters by
    /// condition_ids / id, then offset and limit.
    fn answer(&self, req: &Req) -> Resp {
        let (items, filter_key, field) = match req.path.as_str() {
            "/markets" => (&self.markets, "condition_ids", "conditionId"),
            "/events" => (&self.events, "id", "id"),
            _ => return Resp::status(404),
        };
        let closed = req.get("closed") == Some("true");
        let wanted = req.all(filter_key);
        let selected: Vec<Value> = items
            .iter()
            .filter(|m| m["closed"].as_bool() == Some(closed))
            .filter(|m| {
                wanted.is_empty() || wanted.iter().any(|w| m[field].as_str() == Some(w.as_str()))
            })
            .skip(req.num("offset").unwrap_or(0))
            .take(req.num("limit").unwrap_or(20))
            .cloned()
            .collect();
        Resp::json(Value::Array(selected))
    }
}

/// Gamma's encoding of a list inside the JSON: a string holding a JSON array.
fn enc(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A market record in Gamma's shape (trimmed of fields nobody reads, but with their types).
fn market(
    id: &str,
    condition: &str,
    question: &str,
    outcomes: &[&str],
    tokens: &[String],
) -> Value {
    let outs: Vec<String> = outcomes.iter().map(|s| s.to_string()).collect();
    let prices: Vec<String> = outcomes
        .iter()
        .map(|_| format!("{}", 1.0 / outcomes.len() as f64))
        .collect();
    json!({
        "id": id,
        "question": question,
        "conditionId": condition,
        "slug": question.to_lowercase().replace(' ', "-"),
        "resolutionSource": "",
        "endDate": "2025-12-31T17:15:00Z",
        "startDate": "2025-12-31T17:00:00Z",
        "liquidity": "1534.22",
        "volume": "98211.0713",
        "outcomes": enc(&outs),
        "outcomePrices": enc(&prices),
        "clobTokenIds": enc(tokens),
        "active": true,
        "closed": false,
        "archived": false,
        "questionID": format!("0x{}", "ab".repeat(32)),
        "negRisk": false,
        "negRiskMarketID": "",
        "enableOrderBook": true,
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "volumeNum": 98211.0713,
        "liquidityNum": 1534.22,
        "umaResolutionStatus": null,
        "events": []
    })
}

fn event(id: &str, title: &str, tags: &[&str], markets: Vec<Value>) -> Value {
    json!({
        "id": id,
        "ticker": title.to_lowercase().replace(' ', "-"),
        "slug": title.to_lowercase().replace(' ', "-"),
        "title": title,
        "active": true,
        "closed": false,
        "negRisk": false,
        "tags": tags.iter().enumerate().map(|(i, t)| json!({
            "id": format!("{}", 100 + i), "label": t, "slug": t.to_lowercase(), "forceShow": false
        })).collect::<Vec<_>>(),
        "markets": markets
    })
}

fn options() -> GammaOptions {
    GammaOptions {
        timeout: Duration::from_secs(5),
        retries: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_rps: 0.0,
    }
}

// ---------------------------------------------------------------------------------------------
// A small chain: conditions prepared on the CTF, V2 fills, resolutions, imported as JSONL.

struct Chain {
    logs: Vec<RawLog>,
    block: u64,
}

const ORACLE: Address = [0x55; 20];
const WALLET: Address = [0xaa; 20];
const OTHER: Address = [0xbb; 20];

impl Chain {
    fn new() -> Chain {
        Chain {
            logs: Vec::new(),
            block: 70_000_000,
        }
    }

    fn push(&mut self, address: &str, body: encode::LogBody) {
        self.block += 1;
        let mut tx = [0u8; 32];
        tx[..8].copy_from_slice(&self.block.to_be_bytes());
        self.logs.push(RawLog {
            address: known(address),
            topics: body.0,
            data: body.1,
            block_number: self.block,
            log_index: 0,
            tx_hash: tx,
            block_hash: None,
            block_timestamp: Some(1_760_000_000 + self.block * 2),
            removed: false,
        });
    }

    /// A binary condition; neg-risk when its oracle is the NegRiskAdapter.
    fn prepare(&mut self, tag: u8, neg_risk: bool) -> Word {
        let oracle = if neg_risk {
            known(addr::NEGRISK_ADAPTER)
        } else {
            ORACLE
        };
        let q = [tag; 32];
        let c = position_id::condition_id(&oracle, &q, 2);
        self.push(addr::CTF, encode::condition_preparation(&c, &oracle, &q, 2));
        c
    }

    fn resolve(&mut self, tag: u8, condition: &Word, payouts: &[u64]) {
        self.push(
            addr::CTF,
            encode::condition_resolution(condition, &ORACLE, &[tag; 32], payouts),
        );
    }

    /// WALLET buys 10 shares of outcome `i` at 0.40 (a V2 taker fill).
    fn buy(&mut self, condition: &Word, neg_risk: bool, i: u32) {
        let f = Fill {
            order_hash: [self.block as u8; 32],
            maker: WALLET,
            taker: OTHER,
            side: Side::Buy,
            token: token_word(condition, neg_risk, i),
            making: 4_000_000,
            taking: 10_000_000,
            fee: 0,
        };
        self.push(
            addr::EXCHANGE_V2,
            encode::order_filled_v2(&f, &[0; 32], &[0; 32]),
        );
    }

    fn file(&self) -> std::path::PathBuf {
        let lines: Vec<String> = self.logs.iter().map(|l| l.to_json()).collect();
        temp_file("gamma-chain", &lines)
    }
}

fn token_word(condition: &Word, neg_risk: bool, i: u32) -> Word {
    let collateral = known(if neg_risk {
        addr::NEGRISK_WRAPPED_COLLATERAL
    } else {
        addr::USDC_E
    });
    position_id::token_id(&collateral, condition, i)
}

fn token(condition: &Word, neg_risk: bool, i: u32) -> String {
    U256::from_big_endian(&token_word(condition, neg_risk, i)).to_string()
}

fn tokens(condition: &Word, neg_risk: bool) -> Vec<String> {
    vec![token(condition, neg_risk, 0), token(condition, neg_risk, 1)]
}

fn h(c: &Word) -> String {
    hex::encode(c)
}

async fn text(c: &tokio_postgres::Client, sql: &str) -> Option<String> {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

async fn row_strings(c: &tokio_postgres::Client, sql: &str) -> Vec<Option<String>> {
    let r = c.query_one(sql, &[]).await.unwrap();
    (0..r.len()).map(|i| r.get(i)).collect()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sync_pages_through_markets_and_events_and_labels_every_relation() {
    let db = TestDb::new().await;
    let mut chain = Chain::new();
    let up = chain.prepare(1, false);
    let cand = chain.prepare(2, true);
    chain.buy(&up, false, 0);
    chain.buy(&up, false, 1);
    chain.buy(&cand, true, 0);
    chain.resolve(1, &up, &[1, 0]);
    let path = chain.file();
    import_file(&db, &path, 100).await;
    std::fs::remove_file(path).ok();

    let mut btc = market(
        "516710",
        &h(&up),
        "Bitcoin Up or Down - December 31, 12:00PM-12:15PM ET",
        &["Up", "Down"],
        &tokens(&up, false),
    );
    btc["events"] =
        json!([{"id": "9001", "slug": "btc-up-or-down", "title": "Bitcoin Up or Down 15m"}]);
    let mut alice = market(
        "600001",
        &h(&cand),
        "Will Alice Example win the 2028 election?",
        &["Yes", "No"],
        &tokens(&cand, true),
    );
    alice["negRisk"] = json!(true);
    alice["groupItemTitle"] = json!("Alice Example");
    alice["negRiskMarketID"] = json!(format!("0x{}", "cd".repeat(32)));
    let mut cat = Catalogue::default();
    cat.markets.push(btc.clone());
    cat.markets.push(alice.clone());
    // Markets Gamma knows and the chain has not shown (yet): three open, one closed.
    for i in 0..3u8 {
        let c = [0x70 + i; 32];
        cat.markets.push(market(
            &format!("7000{i}"),
            &h(&c),
            &format!("Gamma-only market {i}"),
            &["Yes", "No"],
            &tokens(&c, false),
        ));
    }
    let closed_c = [0x80; 32];
    let mut closed = market(
        "800",
        &h(&closed_c),
        "A closed market",
        &["Yes", "No"],
        &tokens(&closed_c, false),
    );
    closed["closed"] = json!(true);
    closed["active"] = json!(false);
    closed["umaResolutionStatus"] = json!("resolved");
    cat.markets.push(closed);
    cat.events.push(event(
        "9001",
        "Bitcoin Up or Down 15m",
        &["Crypto", "Bitcoin"],
        vec![btc],
    ));
    let mut ev = event(
        "9002",
        "Presidential Election Winner 2028",
        &["Politics", "Elections"],
        vec![alice],
    );
    ev["negRisk"] = json!(true);
    cat.events.push(ev);

    let server = FakeGamma::start(Arc::new(move |r: &Req| cat.answer(r))).await;
    let g = GammaClient::new(&server.url(), options()).unwrap();
    let mut client = db.client().await;
    let summary = gamma::sync(
        &mut client,
        &g,
        &SyncOptions {
            page_size: 2,
            ..SyncOptions::default()
        },
        std::future::pending(),
    )
    .await
    .unwrap();
    eprintln!("{summary}");

    // Paging: open markets at offsets 0, 2, 4 then an empty page at 5 (the third page held
    // one); closed markets; open and closed events.
    let asked: Vec<String> = server.requests().iter().map(Req::shown).collect();
    let open_markets: Vec<&String> = asked
        .iter()
        .filter(|r| r.starts_with("/markets") && r.contains("closed=false"))
        .collect();
    assert_eq!(open_markets.len(), 4, "{asked:#?}");
    for (r, offset) in open_markets.iter().zip(["0", "2", "4", "5"]) {
        assert!(
            r.contains(&format!("offset={offset}")) && r.contains("limit=2"),
            "{r}"
        );
    }
    assert!(asked
        .iter()
        .any(|r| r.starts_with("/markets") && r.contains("closed=true")));
    assert!(asked.iter().any(|r| r.starts_with("/events")));
    assert_eq!(summary.stored.markets, 6, "{summary}");
    assert_eq!(summary.stored.events, 2, "{summary}");
    assert!(summary.stored.rejected.is_empty(), "{summary}");

    let c = db.client().await;
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM market.gamma_markets").await,
        6
    );
    // Every field of a Gamma record, typed.
    let r = c
        .query_one(
            "SELECT gamma_id, outcomes::text, outcome_prices::text, tick_size::text, min_order_size::text, \
                    end_date = '2025-12-31T17:15:00Z', closed, event_id, token_check, token_check_source \
             FROM market.gamma_markets WHERE gamma_id = '516710'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "516710");
    assert_eq!(r.get::<_, String>(1), "{Up,Down}");
    assert_eq!(r.get::<_, String>(2), "{0.5,0.5}");
    assert_eq!(r.get::<_, String>(3), "0.01");
    assert_eq!(r.get::<_, String>(4), "5");
    assert!(r.get::<_, bool>(5));
    assert!(!r.get::<_, bool>(6));
    assert_eq!(r.get::<_, String>(7), "9001");
    assert_eq!(r.get::<_, String>(8), "ok");
    assert_eq!(r.get::<_, String>(9), "chain");
    assert_eq!(
        text(
            &c,
            "SELECT resolution_status FROM market.gamma_markets WHERE gamma_id = '800'"
        )
        .await,
        Some("resolved".into())
    );
    // Markets the chain has not shown are checked against derived token ids.
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT count(*) FROM market.gamma_markets WHERE token_check = 'ok' AND token_check_source = 'derived'"
        )
        .await,
        4
    );

    // trades: title, category (from the event's first tag), outcome labels.
    let t = row_strings(
        &c,
        &format!(
            "SELECT market_title, category, outcome FROM trades WHERE market_id = '{}' AND outcome_index = 0",
            h(&up)
        ),
    )
    .await;
    assert_eq!(
        t,
        [
            Some("Bitcoin Up or Down - December 31, 12:00PM-12:15PM ET".into()),
            Some("Crypto".into()),
            Some("Up".into())
        ]
    );
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT outcome FROM trades WHERE market_id = '{}' AND outcome_index = 1",
                h(&up)
            )
        )
        .await,
        Some("Down".into())
    );
    // Neg-risk: the candidate's name is the outcome.
    let t = row_strings(
        &c,
        &format!(
            "SELECT market_title, category, outcome FROM trades WHERE market_id = '{}'",
            h(&cand)
        ),
    )
    .await;
    assert_eq!(
        t,
        [
            Some("Will Alice Example win the 2028 election?".into()),
            Some("Politics".into()),
            Some("Alice Example".into())
        ]
    );
    // markets, market_tokens, market_outcomes, market_metadata, wallet breakdowns.
    let m = row_strings(
        &c,
        &format!(
            "SELECT title, category, event_title, outcomes::text, token_check, tags::text FROM markets WHERE market_id = '{}'",
            h(&cand)
        ),
    )
    .await;
    assert_eq!(
        m,
        [
            Some("Will Alice Example win the 2028 election?".into()),
            Some("Politics".into()),
            Some("Presidential Election Winner 2028".into()),
            Some("{\"Alice Example\",\"Not Alice Example\"}".into()),
            Some("ok".into()),
            Some("{Politics,Elections}".into())
        ]
    );
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT outcome FROM market_tokens WHERE market_id = '{}' AND outcome_index = 1",
                h(&cand)
            )
        )
        .await,
        Some("Not Alice Example".into())
    );
    let o = row_strings(
        &c,
        &format!(
            "SELECT title, category, winning_outcome, outcomes::text FROM market_outcomes WHERE market_id = '{}'",
            h(&up)
        ),
    )
    .await;
    assert_eq!(
        o,
        [
            Some("Bitcoin Up or Down - December 31, 12:00PM-12:15PM ET".into()),
            Some("Crypto".into()),
            Some("Up".into()),
            Some("{Up,Down}".into())
        ]
    );
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM market_metadata").await,
        6
    );
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT count(*) FROM market_metadata WHERE seen_on_chain"
        )
        .await,
        2
    );
    let w = format!("0x{}", "aa".repeat(20));
    let wm = row_strings(
        &c,
        &format!(
            "SELECT market_title, category, outcomes_traded::text, fills::text FROM wallet_markets \
             WHERE wallet_address = '{w}' AND market_id = '{}'",
            h(&up)
        ),
    )
    .await;
    assert_eq!(
        wm,
        [
            Some("Bitcoin Up or Down - December 31, 12:00PM-12:15PM ET".into()),
            Some("Crypto".into()),
            Some("{Down,Up}".into()),
            Some("2".into())
        ]
    );
    assert_eq!(
        scalar_i64(
            &c,
            &format!("SELECT count(*) FROM wallet_categories WHERE wallet_address = '{w}' AND category IN ('Crypto', 'Politics')")
        )
        .await,
        2
    );
    // The per-wallet breakdown still reaches the wallet index (which a table this small would
    // rather not use once its size is known, as it is after the import built the index).
    c.batch_execute("SET enable_seqscan = off").await.unwrap();
    let plan: Vec<String> = strings(
        &c,
        &format!("EXPLAIN SELECT * FROM wallet_markets WHERE wallet_address = '{w}'"),
    )
    .await;
    let plan = plan.join("\n");
    assert!(plan.contains("Index"), "{plan}");
    assert!(!plan.contains("Seq Scan on order_filled"), "{plan}");
    c.batch_execute("RESET enable_seqscan").await.unwrap();

    // A second sync changes nothing but the fetch time.
    let before = scalar_i64(&c, "SELECT count(*) FROM market.labels").await;
    gamma::sync(
        &mut client,
        &g,
        &SyncOptions::default(),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM market.labels").await,
        before
    );
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM market.gamma_markets").await,
        6
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_until_the_page_lands() {
    let db = TestDb::new().await;
    let mut cat = Catalogue::default();
    for i in 0..3u8 {
        let c = [0x10 + i; 32];
        cat.markets.push(market(
            &format!("{}", 100 + i),
            &h(&c),
            &format!("Market {i}"),
            &["Yes", "No"],
            &tokens(&c, false),
        ));
    }
    // The first request is throttled (with Retry-After: 1), the next one fails with a 503,
    // then everything is answered.
    let server = FakeGamma::start(Arc::new(move |r: &Req| match r.n {
        0 => Resp {
            status: 429,
            headers: vec![("retry-after", "1".into())],
            body: json!({"error": "Too Many Requests"}).to_string(),
        },
        1 => Resp::status(503),
        _ => cat.answer(r),
    }))
    .await;
    let g = GammaClient::new(&server.url(), options()).unwrap();
    let mut client = db.client().await;
    let started = Instant::now();
    let summary = gamma::sync(
        &mut client,
        &g,
        &SyncOptions {
            page_size: 10,
            include_closed: false,
            events: false,
            max_pages: None,
        },
        std::future::pending(),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After was not honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(summary.retries, 2, "{summary}");
    assert_eq!(summary.requests, 4, "{summary}"); // 429, 503, the page, the empty page
    let reqs = server.requests();
    assert_eq!(
        reqs[0].shown(),
        reqs[2].shown(),
        "the same page is asked again"
    );
    assert_eq!(summary.stored.markets, 3);
    let c = db.client().await;
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM market.gamma_markets").await,
        3
    );

    // A server that never recovers fails the sync with a message naming the endpoint and status.
    let server = FakeGamma::start(Arc::new(|_: &Req| Resp::status(503))).await;
    let g = GammaClient::new(&server.url(), options()).unwrap();
    let err = gamma::sync(
        &mut client,
        &g,
        &SyncOptions::default(),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 503") && msg.contains("/markets"),
        "{msg}"
    );
    assert_eq!(server.requests().len(), 4, "first try and 3 retries");
}

#[tokio::test]
async fn a_malformed_record_is_skipped_with_its_id_while_the_rest_lands() {
    let db = TestDb::new().await;
    let good = |i: u8| {
        let c = [0x20 + i; 32];
        market(
            &format!("{}", 200 + i),
            &h(&c),
            &format!("Good market {i}"),
            &["Yes", "No"],
            &tokens(&c, false),
        )
    };
    let mut broken = good(9);
    broken["id"] = json!("bad-777");
    // A truncated JSON-encoded string array.
    broken["outcomes"] = json!("[\"Yes\", \"No\"");
    let mut no_condition = good(8);
    no_condition["id"] = json!("bad-778");
    no_condition["conditionId"] = json!("0x1234");
    let cat = Catalogue {
        markets: vec![good(0), broken, good(1), no_condition, good(2)],
        events: vec![],
    };
    let server = FakeGamma::start(Arc::new(move |r: &Req| cat.answer(r))).await;
    let g = GammaClient::new(&server.url(), options()).unwrap();
    let mut client = db.client().await;
    let summary = gamma::sync(
        &mut client,
        &g,
        &SyncOptions {
            page_size: 500,
            include_closed: false,
            events: false,
            max_pages: None,
        },
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(summary.stored.markets, 3, "{summary}");
    let ids: Vec<&str> = summary
        .stored
        .rejected
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, ["bad-777", "bad-778"]);
    let shown = summary.to_string();
    assert!(
        shown.contains("Gamma market bad-777 skipped: outcomes: not a JSON-encoded array"),
        "{shown}"
    );
    assert!(shown.contains("bad-778 skipped: conditionId"), "{shown}");
    let c = db.client().await;
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM market.gamma_markets").await,
        3
    );
    let r = row_strings(
        &c,
        "SELECT reason, record->>'question' FROM market.gamma_rejects WHERE gamma_id = 'bad-777'",
    )
    .await;
    assert!(r[0].as_deref().unwrap().starts_with("outcomes:"), "{r:?}");
    assert_eq!(r[1].as_deref(), Some("Good market 9"));

    // Fixed upstream, the record lands and leaves the rejects.
    let mut fixed = good(9);
    fixed["id"] = json!("bad-777");
    let cat = Catalogue {
        markets: vec![fixed],
        events: vec![],
    };
    let server = FakeGamma::start(Arc::new(move |r: &Req| cat.answer(r))).await;
    let g = GammaClient::new(&server.url(), options()).unwrap();
    gamma::sync(
        &mut client,
        &g,
        &SyncOptions::default(),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT count(*) FROM market.gamma_rejects WHERE gamma_id = 'bad-777'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM market.gamma_markets").await,
        4
    );
}

#[tokio::test]
async fn clob_token_id_mismatches_are_flagged_and_never_trusted() {
    let db = TestDb::new().await;
    let mut chain = Chain::new();
    let swapped = chain.prepare(3, false);
    let wrong = chain.prepare(4, false);
    chain.buy(&swapped, false, 0);
    chain.buy(&wrong, false, 0);
    let path = chain.file();
    import_file(&db, &path, 100).await;
    std::fs::remove_file(path).ok();
    let c = db.client().await;
    let chain_tokens = "SELECT string_agg(token_id::text || ':' || outcome_index, ',' ORDER BY token_id) FROM market.tokens";
    let tokens_before = text(&c, chain_tokens).await;

    // Gamma lists the swapped market's tokens in the other order (its labels follow its own
    // order), gives the other market ids that are not its tokens at all, and says a market the
    // chain has not shown is neg-risk while its ids derive from USDC.e.
    let mut t = tokens(&swapped, false);
    t.reverse();
    let m_swapped = market("31", &h(&swapped), "Swapped market", &["Down", "Up"], &t);
    let m_wrong = market(
        "32",
        &h(&wrong),
        "Wrong tokens market",
        &["Up", "Down"],
        &["123".into(), "456".into()],
    );
    let unseen = [0x44; 32];
    let mut m_unseen = market(
        "33",
        &h(&unseen),
        "Unseen market",
        &["Yes", "No"],
        &tokens(&unseen, false),
    );
    m_unseen["negRisk"] = json!(true);
    let cat = Catalogue {
        markets: vec![m_swapped, m_wrong, m_unseen],
        events: vec![],
    };
    let server = FakeGamma::start(Arc::new(move |r: &Req| cat.answer(r))).await;
    let g = GammaClient::new(&server.url(), options()).unwrap();
    let mut client = db.client().await;
    let summary = gamma::sync(
        &mut client,
        &g,
        &SyncOptions {
            include_closed: false,
            events: false,
            ..SyncOptions::default()
        },
        std::future::pending(),
    )
    .await
    .unwrap();
    let shown = summary.to_string();
    assert_eq!(summary.checks("mismatch").count(), 3, "{shown}");
    assert!(shown.contains("3 mismatch"), "{shown}");
    assert!(
        shown.contains(&format!("MISMATCH {}", h(&wrong))),
        "{shown}"
    );

    // Stored as a flag with what differs.
    let r = row_strings(
        &c,
        &format!(
            "SELECT token_check, token_check_source, token_check_detail FROM market.gamma_markets WHERE condition_id = '\\x{}'",
            &h(&wrong)[2..]
        ),
    )
    .await;
    assert_eq!(r[0].as_deref(), Some("mismatch"));
    assert_eq!(r[1].as_deref(), Some("chain"));
    let detail = r[2].clone().unwrap();
    assert!(
        detail.contains("{123,456}") && detail.contains(&token(&wrong, false, 0)),
        "{detail}"
    );
    assert!(detail.contains("outcome labels not applied"), "{detail}");
    assert_eq!(
        text(
            &c,
            "SELECT token_check_source FROM market.gamma_markets WHERE gamma_id = '33'"
        )
        .await,
        Some("derived".into())
    );
    assert_eq!(
        text(
            &c,
            "SELECT token_check FROM market.gamma_markets WHERE gamma_id = '33'"
        )
        .await,
        Some("mismatch".into())
    );

    // The chain stays the truth: token -> outcome unchanged; the swapped market's labels follow
    // token ids (outcome 0 on chain is Gamma's "Up"), the wrong one's are not used at all.
    assert_eq!(text(&c, chain_tokens).await, tokens_before);
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT outcome FROM trades WHERE market_id = '{}'",
                h(&swapped)
            )
        )
        .await,
        Some("Up".into())
    );
    let r = row_strings(
        &c,
        &format!(
            "SELECT market_title, outcome FROM trades WHERE market_id = '{}'",
            h(&wrong)
        ),
    )
    .await;
    assert_eq!(r, [Some("Wrong tokens market".into()), Some("YES".into())]);
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT token_check FROM markets WHERE market_id = '{}'",
                h(&wrong)
            )
        )
        .await,
        Some("mismatch".into())
    );
}

#[tokio::test]
async fn markets_import_and_sync_from_the_command_line() {
    let db = TestDb::new().await;
    let mut chain = Chain::new();
    let a = chain.prepare(5, false);
    chain.buy(&a, false, 1);
    let path = chain.file();
    import_file(&db, &path, 100).await;
    std::fs::remove_file(path).ok();

    // Saved pages (arrays of markets), with plain arrays instead of JSON-encoded strings in one.
    let mut m_a = market(
        "41",
        &h(&a),
        "Will it rain in Lisbon?",
        &["Yes", "No"],
        &tokens(&a, false),
    );
    m_a["outcomes"] = json!(["Rain", "No rain"]);
    m_a["clobTokenIds"] = json!(tokens(&a, false));
    m_a["outcomePrices"] = json!(["0.3", "0.7"]);
    let b = [0x46; 32];
    let m_b = market(
        "42",
        &h(&b),
        "Another market",
        &["Yes", "No"],
        &tokens(&b, false),
    );
    let mut bad = m_b.clone();
    bad["id"] = json!("43");
    bad["clobTokenIds"] = json!("[\"not-a-number\", \"1\"]");
    let file = temp_file("gamma-pages", &[json!([[m_a], [m_b, bad]]).to_string()]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(["--database-url", &db.url, "markets", "import"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 market(s)"), "{stdout}");
    assert!(stdout.contains("2 ok"), "{stdout}");
    assert!(
        stdout.contains("Gamma market 43 skipped: clobTokenIds"),
        "{stdout}"
    );
    std::fs::remove_file(&file).ok();
    let c = db.client().await;
    assert_eq!(
        text(
            &c,
            &format!("SELECT outcome FROM trades WHERE market_id = '{}'", h(&a))
        )
        .await,
        Some("No rain".into())
    );

    // Saved event pages as JSON lines: the events' tags give categories, their markets land.
    let e = event(
        "77",
        "Lisbon weather",
        &["Weather"],
        vec![market(
            "41",
            &h(&a),
            "Will it rain in Lisbon?",
            &["Rain", "No rain"],
            &tokens(&a, false),
        )],
    );
    let file = temp_file(
        "gamma-events",
        &[json!([e]).to_string(), json!([]).to_string()],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(["--database-url", &db.url, "markets", "import"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&file).ok();
    assert_eq!(
        text(
            &c,
            &format!("SELECT category FROM trades WHERE market_id = '{}'", h(&a))
        )
        .await,
        Some("Weather".into())
    );
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT event_title FROM markets WHERE market_id = '{}'",
                h(&a)
            )
        )
        .await,
        Some("Lisbon weather".into())
    );

    // A label an analyst wrote by hand (source 'manual') survives a sync.
    c.execute(
        "UPDATE market.labels SET question = 'Mine', source = 'manual' WHERE condition_id = $1",
        &[&b.to_vec()],
    )
    .await
    .unwrap();

    // `markets sync --gamma-url` against the fake server.
    let mut m_b2 = m_b.clone();
    m_b2["question"] = json!("Gamma's title");
    let cat = Catalogue {
        markets: vec![m_b2],
        events: vec![],
    };
    let server = FakeGamma::start(Arc::new(move |r: &Req| cat.answer(r))).await;
    let (url, dburl) = (server.url(), db.url.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
            .args([
                "--database-url",
                &dburl,
                "markets",
                "sync",
                "--gamma-url",
                &url,
                "--max-rps",
                "50",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 market(s)"), "{stdout}");
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT question FROM market.labels WHERE condition_id = '\\x{}'",
                &h(&b)[2..]
            )
        )
        .await,
        Some("Mine".into())
    );
    assert_eq!(
        text(
            &c,
            "SELECT question FROM market.gamma_markets WHERE gamma_id = '42'"
        )
        .await,
        Some("Gamma's title".into())
    );
    // A server that is down: one clear line, exit status 1.
    drop(server);
    let dburl = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
            .args([
                "--database-url",
                &dburl,
                "markets",
                "sync",
                "--gamma-url",
                "http://127.0.0.1:9/gamma?key=SECRET",
                "--retries",
                "0",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("connection failed"), "{stderr}");
    assert!(!stderr.contains("SECRET"), "{stderr}");
}

#[tokio::test]
async fn the_refresher_looks_up_new_conditions_in_batches_and_survives_failures() {
    let db = TestDb::new().await;
    let mut chain = Chain::new();
    let open = chain.prepare(6, false);
    let resolved = chain.prepare(7, false);
    let unknown = chain.prepare(8, false);
    chain.buy(&open, false, 0);
    chain.buy(&resolved, false, 1);
    let path = chain.file();
    import_file(&db, &path, 100).await;
    std::fs::remove_file(path).ok();

    let mut m_open = market(
        "51",
        &h(&open),
        "Open market",
        &["Yes", "No"],
        &tokens(&open, false),
    );
    m_open["events"] = json!([{"id": "501", "title": "Open event", "slug": "open-event"}]);
    let mut m_resolved = market(
        "52",
        &h(&resolved),
        "Resolved market",
        &["Over", "Under"],
        &tokens(&resolved, false),
    );
    m_resolved["closed"] = json!(true);
    let cat = Catalogue {
        markets: vec![m_open, m_resolved],
        events: vec![event("501", "Open event", &["Sports"], vec![])],
    };
    // Gamma is down for the first two requests.
    let server = FakeGamma::start(Arc::new(move |r: &Req| {
        if r.n < 2 {
            Resp::status(500)
        } else {
            cat.answer(r)
        }
    }))
    .await;
    let g = GammaClient::new(
        &server.url(),
        GammaOptions {
            retries: 0,
            ..options()
        },
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(gamma::run_refresher(
        db.url.clone(),
        g,
        RefreshOptions {
            interval: Duration::from_millis(200),
            chunk: 2,
        },
        async {
            let _ = stopped.await;
        },
    ));
    let c = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let labelled = scalar_i64(&c, "SELECT count(*) FROM market.labels WHERE category IS NOT NULL OR question = 'Resolved market'").await;
        if labelled == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "labels never arrived: {:#?}",
            server.requests()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few more cycles: nothing left to ask about.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!task.is_finished(), "the refresher must outlive failures");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();

    let reqs = server.requests();
    assert!(reqs[..2].iter().all(|r| r.path == "/markets"));
    // Lookups by condition id, in batches of at most 2, open then closed.
    let lookups: Vec<&Req> = reqs
        .iter()
        .filter(|r| !r.all("condition_ids").is_empty())
        .collect();
    assert!(lookups.iter().all(|r| r.all("condition_ids").len() <= 2));
    assert!(lookups.iter().any(|r| r.get("closed") == Some("true")));
    assert!(reqs
        .iter()
        .any(|r| r.path == "/events" && r.all("id") == ["501"]));
    let t = row_strings(
        &c,
        &format!(
            "SELECT market_title, category, outcome FROM trades WHERE market_id = '{}'",
            h(&open)
        ),
    )
    .await;
    assert_eq!(
        t,
        [
            Some("Open market".into()),
            Some("Sports".into()),
            Some("Yes".into())
        ]
    );
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT outcome FROM trades WHERE market_id = '{}'",
                h(&resolved)
            )
        )
        .await,
        Some("Under".into())
    );
    // The condition Gamma does not know is asked again later, not every cycle.
    let r = c
        .query_one(
            "SELECT found, attempts, next_try_at > now() + interval '30 minutes' FROM market.gamma_lookups WHERE condition_id = $1",
            &[&unknown.to_vec()],
        )
        .await
        .unwrap();
    assert!(!r.get::<_, bool>(0));
    assert!(r.get::<_, i32>(1) >= 1);
    assert!(r.get::<_, bool>(2));
    let asked_unknown = reqs
        .iter()
        .filter(|r| r.all("condition_ids").contains(&h(&unknown)))
        .count();
    // Once in each of the two cycles that failed, then open and closed in the cycle that got
    // answers; not again in the cycles after.
    assert_eq!(asked_unknown, 4, "{reqs:#?}");
}

#[tokio::test]
async fn the_refresher_rechecks_markets_once_the_chain_shows_them() {
    let db = TestDb::new().await;
    // Gamma knows a market before the chain shows it: checked against derived ids.
    let mut chain = Chain::new();
    let later = chain.prepare(9, false);
    let m = market(
        "61",
        &h(&later),
        "Early market",
        &["Yes", "No"],
        &tokens(&later, false),
    );
    let file = temp_file("gamma-early", &[json!([m]).to_string()]);
    let mut client = db.client().await;
    gamma::import_file(&mut client, &file).await.unwrap();
    std::fs::remove_file(&file).ok();
    let c = db.client().await;
    assert_eq!(
        text(
            &c,
            "SELECT token_check || '/' || token_check_source FROM market.gamma_markets"
        )
        .await,
        Some("ok/derived".into())
    );
    let path = chain.file();
    import_file(&db, &path, 100).await;
    std::fs::remove_file(path).ok();
    let server = FakeGamma::start(Arc::new(|_: &Req| Resp::json(json!([])))).await;
    let g = GammaClient::new(&server.url(), options()).unwrap();
    let r = gamma::refresh_once(&mut client, &g, &RefreshOptions::default())
        .await
        .unwrap();
    assert_eq!(r.rechecked, 1, "{r}");
    assert_eq!(r.asked, 0, "{r}");
    assert_eq!(
        text(
            &c,
            "SELECT token_check || '/' || token_check_source FROM market.gamma_markets"
        )
        .await,
        Some("ok/chain".into())
    );
}

#[tokio::test]
async fn the_indexer_keeps_indexing_while_gamma_fails_and_labels_arrive_later() {
    use orderflow::{anvil::Anvil, chain::Contracts};
    use std::sync::atomic::{AtomicBool, Ordering};

    let db = TestDb::new().await;
    let a = Anvil::start()
        .await
        .expect("start anvil (make tools installs it)");
    a.install_relay(&Contracts::default().addresses())
        .await
        .unwrap();
    let mut chain = Chain::new();
    let cond = chain.prepare(10, false);
    chain.buy(&cond, false, 0);
    chain.buy(&cond, false, 1);
    a.publish(&chain.logs).await.unwrap();
    let head = a.head().await.unwrap() as i64;

    let up = Arc::new(AtomicBool::new(false));
    let cat = Catalogue {
        markets: vec![market(
            "91",
            &h(&cond),
            "Will the indexer survive?",
            &["Yes", "No"],
            &tokens(&cond, false),
        )],
        events: vec![],
    };
    let server = {
        let up = up.clone();
        FakeGamma::start(Arc::new(move |r: &Req| {
            if up.load(Ordering::SeqCst) {
                cat.answer(r)
            } else {
                Resp::status(500)
            }
        }))
        .await
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_indexer"))
        .args(["--database-url", &db.url, "--rpc-url", &a.url])
        .args([
            "--poll-ms",
            "100",
            "--no-progress",
            "--labels-every-secs",
            "1",
        ])
        .args(["--gamma-url", &server.url()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let c = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    // Gamma is down: the chain is indexed to the head all the same.
    loop {
        let cursor = c
            .query_opt(
                "SELECT block_number FROM chain.cursor WHERE name = 'indexer'",
                &[],
            )
            .await
            .unwrap()
            .map(|r| r.get::<_, i64>(0));
        // Three failed requests: one whole refresh cycle (a try and two retries) has failed.
        if cursor == Some(head) && server.requests().len() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "cursor {cursor:?}, head {head}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT count(*) FROM trades WHERE market_title IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(scalar_i64(&c, "SELECT count(*) FROM trades").await, 2);
    // Gamma comes back: the running indexer's refresher labels the market.
    up.store(true, Ordering::SeqCst);
    loop {
        let n = scalar_i64(
            &c,
            "SELECT count(*) FROM trades WHERE market_title = 'Will the indexer survive?'",
        )
        .await;
        if n == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "labels never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(stderr.contains("label refresh failed"), "{stderr}");
    assert!(server.requests().len() >= 4);
}
