//! Network troublemakers for the chain tests: a TCP proxy that can cut every connection, and
//! a JSON-RPC proxy that answers with rate limits, server errors, timeouts, garbage and
//! "range too large" at random.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use orderflow::replay::{read_request, write_response};
use rand::{rngs::StdRng, Rng, SeedableRng};
use tokio::{
    io::BufReader,
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// Forwards TCP to `upstream`; `cut()` drops every connection and refuses new ones until
/// `restore()`.
pub struct TcpProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (up, conns) = (up.clone(), conns.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    conns.lock().unwrap().push(task);
                }
            })
        };
        TcpProxy {
            addr,
            up,
            conns,
            accept,
        }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// What the faulty RPC proxy did.
#[derive(Default, Debug)]
pub struct Faults {
    pub forwarded: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub garbled: AtomicU64,
    pub range_refused: AtomicU64,
}

/// An HTTP JSON-RPC proxy in front of `upstream` that misbehaves with probability `p` per
/// request, and refuses eth_getLogs ranges wider than `max_range` blocks.
pub struct FaultyRpc {
    pub url: String,
    pub faults: Arc<Faults>,
    task: JoinHandle<()>,
}

impl Drop for FaultyRpc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultyRpc {
    pub async fn start(upstream: String, p: f64, max_range: u64, seed: u64) -> FaultyRpc {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Faults::default());
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        let http = reqwest::Client::new();
        let task = {
            let faults = faults.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        continue;
                    };
                    let (faults, rng, http, upstream) =
                        (faults.clone(), rng.clone(), http.clone(), upstream.clone());
                    tokio::spawn(async move {
                        let _ = serve(sock, faults, rng, http, upstream, p, max_range).await;
                    });
                }
            })
        };
        FaultyRpc { url, faults, task }
    }
}

async fn serve(
    sock: TcpStream,
    faults: Arc<Faults>,
    rng: Arc<Mutex<StdRng>>,
    http: reqwest::Client,
    upstream: String,
    p: f64,
    max_range: u64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock);
    while let Some(body) = read_request(&mut reader).await? {
        let text = String::from_utf8_lossy(&body).to_string();
        let roll: f64 = rng.lock().unwrap().gen();
        let sock = reader.get_mut();
        if roll < p {
            // Cycle through the kinds so every one occurs.
            let n: u64 = [
                &faults.rate_limited,
                &faults.server_errors,
                &faults.timeouts,
                &faults.garbled,
            ]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
            match n % 4 {
                0 => {
                    faults.rate_limited.fetch_add(1, Ordering::Relaxed);
                    respond(sock, "429 Too Many Requests", "rate limited").await?;
                    continue;
                }
                1 => {
                    faults.server_errors.fetch_add(1, Ordering::Relaxed);
                    respond(sock, "503 Service Unavailable", "upstream down").await?;
                    continue;
                }
                2 => {
                    faults.timeouts.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    return Ok(());
                }
                _ => {
                    faults.garbled.fetch_add(1, Ordering::Relaxed);
                    respond(
                        sock,
                        "200 OK",
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[{\"addr",
                    )
                    .await?;
                    continue;
                }
            }
        }
        if let Some(width) = get_logs_width(&text) {
            if width > max_range {
                faults.range_refused.fetch_add(1, Ordering::Relaxed);
                let id = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(serde_json::Value::from(1));
                let err = format!(
                    "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":-32005,\"message\":\"query returned more than 10000 results\"}}}}"
                );
                respond(sock, "200 OK", &err).await?;
                continue;
            }
        }
        faults.forwarded.fetch_add(1, Ordering::Relaxed);
        let answer = http
            .post(&upstream)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(std::io::Error::other)?
            .text()
            .await
            .map_err(std::io::Error::other)?;
        respond(sock, "200 OK", &answer).await?;
    }
    Ok(())
}

fn get_logs_width(body: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if v.get("method")?.as_str()? != "eth_getLogs" {
        return None;
    }
    let f = v.get("params")?.get(0)?;
    let q = |k: &str| u64::from_str_radix(f.get(k)?.as_str()?.trim_start_matches("0x"), 16).ok();
    Some(q("toBlock")? - q("fromBlock")? + 1)
}

async fn respond(sock: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write_response(sock, status, body).await
}
