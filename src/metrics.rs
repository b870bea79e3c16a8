//! Prometheus metrics of the indexer, served as text on `GET /metrics`.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Arc, Mutex,
    },
    time::Instant,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::rpc::RpcStats;

/// Counters and gauges of one indexer process.
#[derive(Debug)]
pub struct Metrics {
    /// Latest head block seen on the node.
    pub head_block: AtomicU64,
    /// Last block fully indexed (the cursor).
    pub indexed_block: AtomicU64,
    /// Logs read from the node.
    pub logs: AtomicU64,
    /// Events stored (after de-duplication).
    pub events: AtomicU64,
    /// Logs quarantined in chain.bad_logs.
    pub quarantined: AtomicU64,
    /// Reorgs handled.
    pub reorgs: AtomicU64,
    /// Rows deleted by reorg unwinds.
    pub reorg_rows: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Total nanoseconds spent writing batches.
    pub batch_nanos: AtomicU64,
    /// Nanoseconds of the last batch write.
    pub last_batch_nanos: AtomicU64,
    /// Database errors, and other non-RPC errors, by kind.
    errors: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    rate: Mutex<Rate>,
    rpc: Mutex<Option<Arc<RpcStats>>>,
}

#[derive(Debug)]
struct Rate {
    at: Instant,
    events: u64,
    per_sec: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            head_block: AtomicU64::new(0),
            indexed_block: AtomicU64::new(0),
            logs: AtomicU64::new(0),
            events: AtomicU64::new(0),
            quarantined: AtomicU64::new(0),
            reorgs: AtomicU64::new(0),
            reorg_rows: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            batch_nanos: AtomicU64::new(0),
            last_batch_nanos: AtomicU64::new(0),
            errors: Mutex::new(Default::default()),
            rate: Mutex::new(Rate {
                at: Instant::now(),
                events: 0,
                per_sec: 0.0,
            }),
            rpc: Mutex::new(None),
        }
    }
}

impl Metrics {
    /// Also report the RPC client's counters.
    pub fn with_rpc(&self, stats: Arc<RpcStats>) {
        if let Ok(mut r) = self.rpc.lock() {
            *r = Some(stats);
        }
    }

    /// Counts an error of `kind`.
    pub fn error(&self, kind: &'static str) {
        if let Ok(mut m) = self.errors.lock() {
            *m.entry(kind).or_default() += 1;
        }
    }

    /// Records a committed batch.
    pub fn batch(&self, logs: u64, events: u64, quarantined: u64, nanos: u64) {
        self.logs.fetch_add(logs, Relaxed);
        self.events.fetch_add(events, Relaxed);
        self.quarantined.fetch_add(quarantined, Relaxed);
        self.batches.fetch_add(1, Relaxed);
        self.batch_nanos.fetch_add(nanos, Relaxed);
        self.last_batch_nanos.store(nanos, Relaxed);
        if let Ok(mut r) = self.rate.lock() {
            let dt = r.at.elapsed().as_secs_f64();
            if dt >= 1.0 {
                let now = self.events.load(Relaxed);
                r.per_sec = (now - r.events) as f64 / dt;
                r.events = now;
                r.at = Instant::now();
            }
        }
    }

    /// Events per second over the last second or more of batches.
    pub fn events_per_sec(&self) -> f64 {
        self.rate.lock().map(|r| r.per_sec).unwrap_or(0.0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(2048);
        let mut gauge = |name: &str, help: &str, kind: &str, v: String| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        let head = self.head_block.load(Relaxed);
        let indexed = self.indexed_block.load(Relaxed);
        gauge(
            "orderflow_head_block",
            "Latest head block seen on the node.",
            "gauge",
            head.to_string(),
        );
        gauge(
            "orderflow_indexed_block",
            "Last block fully indexed (the cursor).",
            "gauge",
            indexed.to_string(),
        );
        gauge(
            "orderflow_lag_blocks",
            "Head block minus indexed block.",
            "gauge",
            head.saturating_sub(indexed).to_string(),
        );
        gauge(
            "orderflow_logs_total",
            "Logs read from the node.",
            "counter",
            self.logs.load(Relaxed).to_string(),
        );
        gauge(
            "orderflow_events_total",
            "Events stored.",
            "counter",
            self.events.load(Relaxed).to_string(),
        );
        gauge(
            "orderflow_events_per_second",
            "Events stored per second, recent.",
            "gauge",
            format!("{:.1}", self.events_per_sec()),
        );
        gauge(
            "orderflow_quarantined_total",
            "Logs quarantined in chain.bad_logs.",
            "counter",
            self.quarantined.load(Relaxed).to_string(),
        );
        gauge(
            "orderflow_reorgs_total",
            "Reorgs handled.",
            "counter",
            self.reorgs.load(Relaxed).to_string(),
        );
        gauge(
            "orderflow_reorg_rows_total",
            "Rows deleted by reorg unwinds.",
            "counter",
            self.reorg_rows.load(Relaxed).to_string(),
        );
        gauge(
            "orderflow_batches_total",
            "Batches committed.",
            "counter",
            self.batches.load(Relaxed).to_string(),
        );
        gauge(
            "orderflow_batch_seconds_total",
            "Time spent writing batches.",
            "counter",
            format!("{:.3}", self.batch_nanos.load(Relaxed) as f64 / 1e9),
        );
        gauge(
            "orderflow_last_batch_seconds",
            "Write latency of the last batch.",
            "gauge",
            format!("{:.3}", self.last_batch_nanos.load(Relaxed) as f64 / 1e9),
        );
        let mut errors: Vec<(String, u64)> = self
            .errors
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.to_string(), *v)).collect())
            .unwrap_or_default();
        if let Ok(Some(rpc)) = self.rpc.lock().as_deref() {
            gauge(
                "orderflow_rpc_requests_total",
                "HTTP requests to the RPC node.",
                "counter",
                rpc.requests.load(Relaxed).to_string(),
            );
            gauge(
                "orderflow_rpc_retries_total",
                "RPC retries after retryable errors.",
                "counter",
                rpc.retries.load(Relaxed).to_string(),
            );
            gauge(
                "orderflow_rpc_wait_seconds_total",
                "Time waiting on the RPC node.",
                "counter",
                format!("{:.3}", rpc.wait_nanos.load(Relaxed) as f64 / 1e9),
            );
            errors.extend(
                rpc.errors()
                    .into_iter()
                    .map(|(k, v)| (format!("rpc_{k}"), v)),
            );
        }
        let _ = writeln!(
            s,
            "# HELP orderflow_errors_total Errors by kind.\n# TYPE orderflow_errors_total counter"
        );
        for (kind, n) in errors {
            let _ = writeln!(s, "orderflow_errors_total{{kind=\"{kind}\"}} {n}");
        }
        s
    }
}

/// Serves `GET /metrics` on `addr` until the task is dropped. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let n = match tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    sock.read(&mut buf),
                )
                .await
                {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
                let head = String::from_utf8_lossy(&buf[..n]);
                let (status, body) = if head.starts_with("GET /metrics") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", "see /metrics\n".to_owned())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_lag_and_errors() {
        let m = Metrics::default();
        m.head_block.store(120, Relaxed);
        m.indexed_block.store(100, Relaxed);
        m.error("db");
        m.batch(10, 8, 1, 1_000_000);
        let text = m.render();
        assert!(text.contains("orderflow_lag_blocks 20"), "{text}");
        assert!(
            text.contains("orderflow_errors_total{kind=\"db\"} 1"),
            "{text}"
        );
        assert!(text.contains("orderflow_events_total 8"), "{text}");
    }
}
