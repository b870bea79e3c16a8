//! A local replay node: serves a fixed chain of logs over JSON-RPC (`eth_chainId`,
//! `eth_blockNumber`, `eth_getLogs`, `eth_getBlockByNumber`, batches included), so the
//! indexer's whole RPC path can be measured without a real node. Like real providers it
//! refuses an `eth_getLogs` answer of more than `max_logs` logs ("query returned more than …").

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use ethers::utils::keccak256;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

use crate::chain::{
    hex,
    log::{Address, Word},
    RawLog,
};

/// The chain a replay node serves.
pub struct ReplayChain {
    /// Per log: block number, emitter, topic0, JSON object.
    logs: Vec<(u64, Address, Option<Word>, String)>,
    head: u64,
    time0: u64,
    /// Largest eth_getLogs answer before the node refuses the range.
    pub max_logs: usize,
    /// Added to every answer before it is sent, as a hosted provider's round trip and work
    /// would add (zero: a node on this machine).
    pub latency: Duration,
    /// Nanoseconds spent answering requests.
    pub busy_nanos: AtomicU64,
    /// Requests answered.
    pub requests: AtomicU64,
}

/// The hash the replay chain gives block `n`.
pub fn block_hash(n: u64) -> Word {
    keccak256([b"replay".as_slice(), &n.to_be_bytes()].concat())
}

impl ReplayChain {
    /// An empty chain whose block `n` has time `time0 + 2 n`.
    pub fn new(time0: u64) -> Self {
        ReplayChain {
            logs: Vec::new(),
            head: 0,
            time0,
            max_logs: 10_000,
            latency: Duration::ZERO,
            busy_nanos: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// Appends a block's logs (block numbers must not go down). Block hashes and times are
    /// the replay chain's own.
    pub fn push(&mut self, logs: Vec<RawLog>) {
        for mut l in logs {
            debug_assert!(l.block_number >= self.head);
            self.head = self.head.max(l.block_number);
            l.block_hash = Some(block_hash(l.block_number));
            l.block_timestamp = Some(self.time(l.block_number));
            let t0 = l.topics.first().copied();
            self.logs.push((l.block_number, l.address, t0, l.to_json()));
        }
    }

    /// Ends the chain at `head` (at least the last log's block).
    pub fn set_head(&mut self, head: u64) {
        self.head = self.head.max(head);
    }

    /// The last block.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Logs held.
    pub fn len(&self) -> usize {
        self.logs.len()
    }

    /// True when no logs are held.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }

    fn time(&self, n: u64) -> u64 {
        self.time0 + 2 * n
    }

    fn header(&self, n: u64) -> String {
        if n > self.head {
            return "null".into();
        }
        let parent = if n == 0 { [0u8; 32] } else { block_hash(n - 1) };
        format!(
            "{{\"number\":\"0x{n:x}\",\"hash\":\"{}\",\"parentHash\":\"{}\",\"timestamp\":\"0x{:x}\",\"transactions\":[]}}",
            hex::encode(&block_hash(n)),
            hex::encode(&parent),
            self.time(n)
        )
    }

    fn get_logs(&self, filter: &serde_json::Value) -> Result<String, (i64, String)> {
        let num = |k: &str| -> Result<u64, (i64, String)> {
            match filter.get(k).and_then(|v| v.as_str()) {
                Some("latest") | None => Ok(self.head),
                Some(s) => hex::quantity(s).map_err(|e| (-32602, format!("{k}: {e}"))),
            }
        };
        let (from, to) = (num("fromBlock")?, num("toBlock")?.min(self.head));
        let addresses: Vec<Address> = match filter.get("address") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().and_then(|s| hex::decode_fixed::<20>(s).ok()))
                .collect(),
            Some(serde_json::Value::String(s)) => hex::decode_fixed::<20>(s).into_iter().collect(),
            _ => Vec::new(),
        };
        let topics0: Vec<Word> = match filter.pointer("/topics/0") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().and_then(|s| hex::decode_fixed::<32>(s).ok()))
                .collect(),
            Some(serde_json::Value::String(s)) => hex::decode_fixed::<32>(s).into_iter().collect(),
            _ => Vec::new(),
        };
        let start = self.logs.partition_point(|l| l.0 < from);
        let mut out = String::from("[");
        let mut n = 0;
        for (block, address, t0, json) in &self.logs[start..] {
            if *block > to {
                break;
            }
            if !addresses.is_empty() && !addresses.contains(address) {
                continue;
            }
            if !topics0.is_empty() && !t0.is_some_and(|t| topics0.contains(&t)) {
                continue;
            }
            n += 1;
            if n > self.max_logs {
                return Err((
                    -32005,
                    format!("query returned more than {} results", self.max_logs),
                ));
            }
            if n > 1 {
                out.push(',');
            }
            out.push_str(json);
        }
        out.push(']');
        Ok(out)
    }

    fn answer(&self, req: &serde_json::Value) -> String {
        let id = req.get("id").cloned().unwrap_or(serde_json::Value::Null);
        let method = req.get("method").and_then(|m| m.as_str()).unwrap_or("");
        let params = req.get("params").cloned().unwrap_or_default();
        let result: Result<String, (i64, String)> = match method {
            "eth_chainId" => Ok("\"0x89\"".into()),
            "eth_blockNumber" => Ok(format!("\"0x{:x}\"", self.head)),
            "eth_getLogs" => self.get_logs(params.get(0).unwrap_or(&serde_json::Value::Null)),
            "eth_getBlockByNumber" => match params.get(0).and_then(|v| v.as_str()) {
                Some("latest") => Ok(self.header(self.head)),
                Some(s) => hex::quantity(s)
                    .map(|n| self.header(n))
                    .map_err(|e| (-32602, e.to_string())),
                None => Err((-32602, "missing block number".into())),
            },
            other => Err((
                -32601,
                format!("method {other} not served by the replay node"),
            )),
        };
        match result {
            Ok(r) => format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{r}}}"),
            Err((code, message)) => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":{code},\"message\":{}}}}}",
                serde_json::Value::String(message)
            ),
        }
    }

    fn handle(&self, body: &[u8]) -> String {
        let started = Instant::now();
        let out = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Array(reqs)) => {
                let parts: Vec<String> = reqs.iter().map(|r| self.answer(r)).collect();
                format!("[{}]", parts.join(","))
            }
            Ok(req) => self.answer(&req),
            Err(e) => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{{\"code\":-32700,\"message\":{}}}}}",
                serde_json::Value::String(e.to_string())
            ),
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.busy_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }
}

/// Serves `chain` on `addr` (port 0 picks one). Returns the bound address and the task.
pub async fn serve(
    chain: Arc<ReplayChain>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let chain = chain.clone();
            tokio::spawn(async move {
                let _ = connection(sock, chain).await;
            });
        }
    });
    Ok((bound, task))
}

async fn connection(sock: TcpStream, chain: Arc<ReplayChain>) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock);
    while let Some(body) = read_request(&mut reader).await? {
        let chain2 = chain.clone();
        let answer = tokio::task::spawn_blocking(move || chain2.handle(&body))
            .await
            .unwrap_or_else(|_| "{\"error\":\"replay node failed\"}".into());
        if !chain.latency.is_zero() {
            tokio::time::sleep(chain.latency).await;
        }
        write_response(reader.get_mut(), "200 OK", &answer).await?;
    }
    Ok(())
}

/// Reads one HTTP/1.1 request from a kept-alive connection and returns its body (`None` once
/// the client has closed it). Enough HTTP for JSON-RPC over POST.
pub async fn read_request<R>(reader: &mut R) -> std::io::Result<Option<Vec<u8>>>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Writes one HTTP/1.1 response with a JSON body.
pub async fn write_response<W>(sock: &mut W, status: &str, body: &str) -> std::io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body.as_bytes()).await?;
    sock.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(block: u64, idx: u32) -> RawLog {
        RawLog {
            address: [1; 20],
            topics: vec![[2; 32]],
            data: vec![],
            block_number: block,
            log_index: idx,
            tx_hash: [3; 32],
            block_hash: None,
            block_timestamp: None,
            removed: false,
        }
    }

    #[test]
    fn answers_ranges_filters_batches_and_refuses_big_answers() {
        let mut c = ReplayChain::new(1_000);
        c.push((0..5).map(|i| log(10, i)).collect());
        c.push(vec![log(12, 0)]);
        c.set_head(20);
        c.max_logs = 5;
        let ask = |body: &str| c.handle(body.as_bytes());
        let r = ask(
            r#"{"id":1,"method":"eth_getLogs","params":[{"fromBlock":"0xb","toBlock":"0xc","address":["0x0101010101010101010101010101010101010101"]}]}"#,
        );
        let logs = RawLog::array_from_json(
            serde_json::from_str::<serde_json::Value>(&r).unwrap()["result"]
                .to_string()
                .as_str(),
        )
        .unwrap();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].block_hash, Some(block_hash(12)));
        assert_eq!(logs[0].block_timestamp, Some(1_024));
        let r = ask(
            r#"{"id":2,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"0x14"}]}"#,
        );
        assert!(r.contains("-32005"), "{r}");
        let r = ask(
            r#"{"id":3,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"0x14","topics":[["0x0909090909090909090909090909090909090909090909090909090909090909"]]}]}"#,
        );
        assert!(r.contains("\"result\":[]"), "{r}");
        let r = ask(
            r#"[{"id":4,"method":"eth_getBlockByNumber","params":["0x14",false]},{"id":5,"method":"eth_blockNumber","params":[]}]"#,
        );
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v[0]["result"]["number"], "0x14");
        assert_eq!(v[1]["result"], "0x14");
        assert!(
            ask(r#"{"id":6,"method":"eth_getBlockByNumber","params":["0x15",false]}"#)
                .contains("\"result\":null")
        );
    }
}
