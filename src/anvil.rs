//! A local anvil node playing Polygon: started on a free port, with a tiny log-relay contract
//! placed by `anvil_setCode` at the real Polymarket addresses, so logs published through it
//! carry the real emitter addresses and go through a real node's `eth_getLogs`.
//!
//! The relay's calldata is a list of records `[topic count: 1 byte][data length: 2 bytes]
//! [topics: 32 bytes each][data]`; for each record it executes LOG0..LOG4. Its bytecode is
//! assembled below, so it needs no compiler.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use crate::{
    chain::{
        hex,
        log::{Address, Word},
        RawLog,
    },
    rpc::{RpcClient, RpcOptions},
};

/// The npm package anvil comes from, and the pinned version (see the Makefile).
pub const ANVIL_NPM: &str = "@foundry-rs/anvil-linux-amd64@1.7.1";

/// Where to find the anvil binary: `ORDERFLOW_ANVIL`, then `.tools/` under the current
/// folder or the source tree, then `PATH`.
pub fn anvil_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ORDERFLOW_ANVIL") {
        return Some(PathBuf::from(p));
    }
    let rel = ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
    let roots = [
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    for root in roots.into_iter().flatten() {
        let p = root.join(rel);
        if p.is_file() {
            return Some(p);
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("anvil"))
            .find(|p| p.is_file())
    })
}

/// A running anvil process, killed on drop.
pub struct Anvil {
    child: Child,
    /// Its HTTP endpoint.
    pub url: String,
    /// Its WebSocket endpoint (same port).
    pub ws_url: String,
    /// A client for it.
    pub rpc: RpcClient,
    sender: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// One log's topics and data, as the relay emits it.
type LogBody = (Vec<Word>, Vec<u8>);

/// Runs of logs sharing a transaction hash and emitter: one relay transaction each.
fn group_txs(logs: &[RawLog]) -> Vec<(Address, Vec<LogBody>)> {
    let mut out: Vec<(Address, Vec<LogBody>)> = Vec::new();
    let mut last: Option<(u64, Word, Address)> = None;
    for l in logs {
        let key = (l.block_number, l.tx_hash, l.address);
        if last != Some(key) {
            out.push((l.address, Vec::new()));
            last = Some(key);
        }
        if let Some((_, g)) = out.last_mut() {
            g.push((l.topics.clone(), l.data.clone()));
        }
    }
    out
}

/// Bytecode of the log relay (runtime code).
pub fn relay_code() -> Vec<u8> {
    // Opcodes used.
    const STOP: u8 = 0x00;
    const ADD: u8 = 0x01;
    const LT: u8 = 0x10;
    const EQ: u8 = 0x14;
    const ISZERO: u8 = 0x15;
    const SHL: u8 = 0x1b;
    const SHR: u8 = 0x1c;
    const CALLDATALOAD: u8 = 0x35;
    const CALLDATASIZE: u8 = 0x36;
    const CALLDATACOPY: u8 = 0x37;
    const POP: u8 = 0x50;
    const MLOAD: u8 = 0x51;
    const MSTORE: u8 = 0x52;
    const JUMP: u8 = 0x56;
    const JUMPI: u8 = 0x57;
    const JUMPDEST: u8 = 0x5b;
    const PUSH1: u8 = 0x60;
    const PUSH2: u8 = 0x61;
    const DUP1: u8 = 0x80;
    const LOG0: u8 = 0xa0;
    const INVALID: u8 = 0xfe;

    // Labels are resolved in a second pass: a PUSH2 placeholder records (position, label).
    let mut code: Vec<u8> = Vec::new();
    let mut fixups: Vec<(usize, &'static str)> = Vec::new();
    let mut labels: Vec<(&'static str, usize)> = Vec::new();
    let push_label = |code: &mut Vec<u8>, fixups: &mut Vec<(usize, &'static str)>, l| {
        code.push(PUSH2);
        fixups.push((code.len(), l));
        code.extend([0, 0]);
    };
    const LABELS: [&str; 5] = ["l0", "l1", "l2", "l3", "l4"];
    // Memory: [0x00] = offset of the next record; data is copied to 0x20.
    labels.push(("loop", code.len()));
    code.extend([JUMPDEST, PUSH1, 0, MLOAD]); // [ptr]
    code.extend([CALLDATASIZE, DUP1 + 1, LT]); // [ptr, ptr < size]
    push_label(&mut code, &mut fixups, "body");
    code.extend([JUMPI, STOP]);
    labels.push(("body", code.len()));
    code.push(JUMPDEST); // [ptr]
    code.extend([DUP1, CALLDATALOAD, PUSH1, 0xf8, SHR]); // [ptr, n]
    code.extend([DUP1 + 1, PUSH1, 1, ADD, CALLDATALOAD, PUSH1, 0xf0, SHR]); // [ptr, n, len]
    code.extend([DUP1 + 1, PUSH1, 5, SHL, DUP1 + 3, ADD, PUSH1, 3, ADD]); // [ptr, n, len, dstart]
    code.extend([DUP1 + 1, DUP1 + 1, PUSH1, 0x20, CALLDATACOPY]); // mem[0x20..] = data
    code.extend([DUP1 + 1, ADD, PUSH1, 0, MSTORE]); // mem[0] = dstart + len; [ptr, n, len]
    for (n, label) in LABELS.iter().enumerate() {
        if n == 0 {
            code.extend([DUP1 + 1, ISZERO]);
        } else {
            code.extend([DUP1 + 1, PUSH1, n as u8, EQ]);
        }
        push_label(&mut code, &mut fixups, label);
        code.push(JUMPI);
    }
    code.push(INVALID); // more than four topics
    for (n, label) in LABELS.iter().enumerate() {
        labels.push((label, code.len()));
        code.push(JUMPDEST); // [ptr, n, len]
                             // Push topics last to first: topic i sits at ptr + 3 + 32 i.
        for k in 0..n {
            let i = n - 1 - k;
            code.extend([
                DUP1 + 2 + k as u8,
                PUSH1,
                (3 + 32 * i) as u8,
                ADD,
                CALLDATALOAD,
            ]);
        }
        code.extend([DUP1 + n as u8, PUSH1, 0x20, LOG0 + n as u8]); // LOGn(0x20, len, topics…)
        code.extend([POP, POP, POP]);
        push_label(&mut code, &mut fixups, "loop");
        code.push(JUMP);
    }
    for (at, label) in fixups {
        let target = labels
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, p)| *p)
            .expect("every label is defined");
        code[at..at + 2].copy_from_slice(&(target as u16).to_be_bytes());
    }
    code
}

/// Calldata for the relay: one record per log.
pub fn relay_calldata(logs: &[LogBody]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for (topics, data) in logs {
        if topics.len() > 4 {
            bail!("a log has at most 4 topics, got {}", topics.len());
        }
        let len = u16::try_from(data.len()).context("log data longer than 65535 bytes")?;
        out.push(topics.len() as u8);
        out.extend(len.to_be_bytes());
        for t in topics {
            out.extend(t);
        }
        out.extend(data);
    }
    Ok(out)
}

impl Anvil {
    /// Starts anvil (chain id 137, no block gas limit, mining only when told).
    pub async fn start() -> anyhow::Result<Self> {
        let bin = anvil_binary().context(
            "anvil not found: run `make tools` (installs it under .tools/) or set ORDERFLOW_ANVIL",
        )?;
        Self::start_with(&bin).await
    }

    /// Starts anvil with its genesis block numbered `number` at unix time `timestamp`, so a
    /// chain whose history is already indexed (blocks up to `number`) goes on from there
    /// without mining the history's blocks again.
    pub async fn start_at(number: u64, timestamp: u64) -> anyhow::Result<Self> {
        let bin = anvil_binary().context(
            "anvil not found: run `make tools` (installs it under .tools/) or set ORDERFLOW_ANVIL",
        )?;
        let genesis = std::env::temp_dir().join(format!(
            "orderflow-anvil-genesis-{}-{number}.json",
            std::process::id()
        ));
        // The first of anvil's default (unlocked) accounts sends the relay transactions.
        let json = format!(
            r#"{{"config":{{"chainId":137}},"nonce":"0x0","timestamp":"0x{timestamp:x}","extraData":"0x","gasLimit":"0x1c9c380","difficulty":"0x0","mixHash":"0x{zero}","coinbase":"0x{addr}","number":"0x{number:x}","alloc":{{"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266":{{"balance":"0x21e19e0c9bab2400000"}}}}}}"#,
            zero = "0".repeat(64),
            addr = "0".repeat(40),
        );
        std::fs::write(&genesis, json)
            .with_context(|| format!("cannot write {}", genesis.display()))?;
        let anvil = Self::spawn(&bin, &["--init", &genesis.display().to_string()]).await;
        let _ = std::fs::remove_file(&genesis);
        anvil
    }

    /// Starts the anvil binary at `bin`.
    pub async fn start_with(bin: &Path) -> anyhow::Result<Self> {
        Self::spawn(bin, &[]).await
    }

    async fn spawn(bin: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new(bin)
            .args(extra)
            .args([
                "--port",
                &port.to_string(),
                "--chain-id",
                "137",
                "--disable-block-gas-limit",
                "--base-fee",
                "0",
                "--gas-price",
                "0",
                "--no-mining",
                "--silent",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let rpc = RpcClient::new(
            &url,
            RpcOptions {
                timeout: Duration::from_secs(10),
                retries: 0,
                ..RpcOptions::default()
            },
        )?;
        let mut anvil = Anvil {
            child,
            ws_url: format!("ws://127.0.0.1:{port}"),
            url,
            rpc,
            sender: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if anvil.rpc.chain_id().await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = anvil.child.try_wait() {
                bail!("anvil exited at start: {status}");
            }
            if Instant::now() > deadline {
                bail!("anvil did not answer on {} within 20 s", anvil.url);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let accounts: Vec<String> = anvil
            .rpc
            .call("eth_accounts", "[]", |r| {
                serde_json::from_str(r).map_err(|e| e.to_string())
            })
            .await?;
        anvil.sender = accounts
            .into_iter()
            .next()
            .context("anvil has no unlocked account")?;
        Ok(anvil)
    }

    /// Places the relay at every address in `at`.
    pub async fn install_relay(&self, at: &[Address]) -> anyhow::Result<()> {
        let code = hex::encode(&relay_code());
        for a in at {
            self.rpc
                .call_unit(
                    "anvil_setCode",
                    &format!("[\"{}\",\"{code}\"]", hex::encode(a)),
                )
                .await?;
        }
        Ok(())
    }

    /// Sends one transaction to `to` emitting `logs` (it waits in the pool until [`Anvil::mine`]).
    pub async fn send_logs(&self, to: &Address, logs: &[LogBody]) -> anyhow::Result<Word> {
        Node {
            rpc: self.rpc.clone(),
            sender: self.sender.clone(),
        }
        .send_logs(to, logs)
        .await
    }

    /// Mines one block holding the pending transactions, at `timestamp` when given.
    pub async fn mine(&self, timestamp: Option<u64>) -> anyhow::Result<()> {
        let params = match timestamp {
            Some(t) => format!("[{t}]"),
            None => "[]".into(),
        };
        self.rpc.call_unit("evm_mine", &params).await?;
        Ok(())
    }

    /// Mines `n` empty blocks.
    pub async fn mine_empty(&self, n: u64) -> anyhow::Result<()> {
        self.rpc
            .call_unit("anvil_mine", &format!("[\"0x{n:x}\"]"))
            .await?;
        Ok(())
    }

    /// Replaces the last `depth` blocks with as many new ones (a reorg), carrying `logs`: one
    /// transaction per run of logs sharing a transaction hash and emitter, spread over the new
    /// blocks in order.
    pub async fn reorg_with(&self, depth: u64, logs: &[RawLog]) -> anyhow::Result<()> {
        if depth == 0 {
            bail!("a reorg needs a depth of at least 1");
        }
        let groups = group_txs(logs);
        let n = groups.len().max(1) as u64;
        let mut pairs = Vec::with_capacity(groups.len());
        for (i, (emitter, group)) in groups.iter().enumerate() {
            let offset = i as u64 * depth / n;
            pairs.push(format!(
                "[{{\"from\":\"{}\",\"to\":\"{}\",\"data\":\"{}\",\"gas\":\"0x1c9c380\"}},{offset}]",
                self.sender,
                hex::encode(emitter),
                hex::encode(&relay_calldata(group)?)
            ));
        }
        self.rpc
            .call_unit("anvil_reorg", &format!("[{depth},[{}]]", pairs.join(",")))
            .await?;
        Ok(())
    }

    /// Publishes logs as they were on their source chain: one mined block per source block,
    /// one transaction per run of logs sharing a transaction hash and emitter. Returns the
    /// number of blocks mined.
    pub async fn publish(&self, logs: &[RawLog]) -> anyhow::Result<u64> {
        let mut blocks = 0;
        let mut start = 0;
        while start < logs.len() {
            let block = logs[start].block_number;
            let end = start
                + logs[start..]
                    .iter()
                    .take_while(|l| l.block_number == block)
                    .count();
            for (emitter, group) in group_txs(&logs[start..end]) {
                self.send_logs(&emitter, &group).await?;
            }
            self.mine(None).await?;
            blocks += 1;
            start = end;
        }
        Ok(blocks)
    }

    /// The current head block number.
    pub async fn head(&self) -> anyhow::Result<u64> {
        Ok(self.rpc.block_number().await?)
    }
}

/// Publishes simulated blocks onto a running anvil node at `url`: installs the relay at the
/// default contract addresses, then sends each block's transactions and mines it, pausing
/// `pace` between blocks. Stops early when `stop` completes. Returns (blocks, logs) sent.
pub async fn publish_sim(
    url: &str,
    blocks_in: impl Iterator<Item = crate::sim::SimBlock>,
    pace: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<(u64, u64)> {
    let rpc = RpcClient::new(url, RpcOptions::default())?;
    let accounts: Vec<String> = rpc
        .call("eth_accounts", "[]", |r| {
            serde_json::from_str(r).map_err(|e| e.to_string())
        })
        .await
        .with_context(|| format!("cannot reach the node at {}", rpc.url()))?;
    let sender = accounts
        .into_iter()
        .next()
        .context("the node has no unlocked account (is it anvil?)")?;
    let node = Node { rpc, sender };
    let code = hex::encode(&relay_code());
    for a in crate::chain::Contracts::default().addresses() {
        node.rpc
            .call_unit(
                "anvil_setCode",
                &format!("[\"{}\",\"{code}\"]", hex::encode(&a)),
            )
            .await
            .context("anvil_setCode failed: --rpc-url must be an anvil node")?;
    }
    // Mine only when told, so each simulated block becomes one block.
    node.rpc.call_unit("evm_setAutomine", "[false]").await?;
    futures::pin_mut!(stop);
    let (mut blocks, mut logs) = (0, 0);
    for block in blocks_in {
        for tx in &block.txs {
            node.send_logs(&tx.emitter, &tx.logs).await?;
            logs += tx.logs.len() as u64;
        }
        node.rpc.call_unit("evm_mine", "[]").await?;
        blocks += 1;
        if !pace.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pace) => {}
                _ = &mut stop => break,
            }
        } else if futures::FutureExt::now_or_never(&mut stop).is_some() {
            break;
        }
    }
    Ok((blocks, logs))
}

/// A node and the unlocked account that sends relay transactions.
struct Node {
    rpc: RpcClient,
    sender: String,
}

impl Node {
    async fn send_logs(&self, to: &Address, logs: &[LogBody]) -> anyhow::Result<Word> {
        let data = hex::encode(&relay_calldata(logs)?);
        let params = format!(
            "[{{\"from\":\"{}\",\"to\":\"{}\",\"data\":\"{data}\",\"gas\":\"0x1c9c380\"}}]",
            self.sender,
            hex::encode(to)
        );
        let hash: String = self
            .rpc
            .call("eth_sendTransaction", &params, |r| {
                serde_json::from_str(r).map_err(|e| e.to_string())
            })
            .await?;
        Ok(hex::decode_fixed::<32>(&hash)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_code_is_small_and_its_jumps_land_on_jumpdests() {
        let code = relay_code();
        assert!(code.len() < 256, "{} bytes", code.len());
        // Every PUSH2 operand in this code is a jump target.
        let mut i = 0;
        while i < code.len() {
            let op = code[i];
            if op == 0x61 {
                let t = u16::from_be_bytes([code[i + 1], code[i + 2]]) as usize;
                assert_eq!(code[t], 0x5b, "PUSH2 at {i} targets {t}");
            }
            i += 1 + if (0x60..=0x7f).contains(&op) {
                (op - 0x5f) as usize
            } else {
                0
            };
        }
    }

    #[test]
    fn calldata_records_topics_and_data() {
        let cd =
            relay_calldata(&[(vec![[1; 32], [2; 32]], vec![9, 9, 9]), (vec![], vec![])]).unwrap();
        assert_eq!(cd[0], 2);
        assert_eq!(u16::from_be_bytes([cd[1], cd[2]]), 3);
        assert_eq!(&cd[3..35], &[1; 32]);
        assert_eq!(cd.len(), 3 + 64 + 3 + 3);
        assert!(relay_calldata(&[(vec![[0; 32]; 5], vec![])]).is_err());
    }
}
