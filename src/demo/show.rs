//! What the demo prints: psql-like tables, and the signals and executor decisions as they
//! happen.

use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use crate::db;

/// Prints simple-query rows as an aligned text table.
pub fn print_table(msgs: &[SimpleQueryMessage]) {
    let rows: Vec<&SimpleQueryRow> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect();
    let Some(first) = rows.first() else {
        println!("   (no rows)");
        return;
    };
    let names: Vec<&str> = first.columns().iter().map(|c| c.name()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            (0..names.len())
                .map(|i| r.get(i).unwrap_or("").to_owned())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..names.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([names[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: Vec<String>| {
        let parts: Vec<String> = vals
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        println!("   {}", parts.join(" | "));
    };
    line(names.iter().map(|s| s.to_string()).collect());
    println!(
        "   {}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for c in cells {
        line(c);
    }
}

/// Prints each new signal and executor decision once, in order.
#[derive(Debug, Default)]
pub struct Feed {
    last_signal: i64,
    last_decision: i64,
    /// Signals printed so far.
    pub signals: u64,
    /// Decisions printed so far (placed, skipped).
    pub decisions: (u64, u64),
}

fn cell<'a>(r: &'a SimpleQueryRow, name: &str) -> &'a str {
    r.get(name).unwrap_or("")
}

fn rows(msgs: Vec<SimpleQueryMessage>) -> Vec<SimpleQueryRow> {
    msgs.into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn short(hex: &str) -> String {
    if hex.len() > 10 {
        format!("{}…", &hex[..10])
    } else {
        hex.to_owned()
    }
}

impl Feed {
    /// Prints what is new since the last call.
    pub async fn poll(&mut self, client: &Client) -> Result<(), db::DbError> {
        let sql = format!(
            "SELECT signal_id, action, wallet_address, round(score, 2) AS score, market_id,
                    outcome_index, round(trigger_price, 3) AS price, round(confidence, 3) AS confidence,
                    panic_sellers, block_number, to_char(block_time, 'HH24:MI:SS') AS at
             FROM signals WHERE signal_id > {} ORDER BY signal_id",
            self.last_signal
        );
        for r in rows(
            client
                .simple_query(&sql)
                .await
                .map_err(db::DbError::query("reading new signals"))?,
        ) {
            self.last_signal = cell(&r, "signal_id").parse().unwrap_or(self.last_signal);
            self.signals += 1;
            let who = match cell(&r, "action") {
                "FADE" => format!(
                    "{} low-score wallets sold; {} (score {}) among them",
                    cell(&r, "panic_sellers"),
                    short(cell(&r, "wallet_address")),
                    cell(&r, "score")
                ),
                _ => format!(
                    "{} (score {}) bought",
                    short(cell(&r, "wallet_address")),
                    cell(&r, "score")
                ),
            };
            println!(
                "   {} block {:>6}  signal #{:<4} {:<6} outcome {} of market {} at {}: {who}; confidence {}",
                cell(&r, "at"),
                cell(&r, "block_number"),
                cell(&r, "signal_id"),
                cell(&r, "action"),
                cell(&r, "outcome_index"),
                short(cell(&r, "market_id")),
                cell(&r, "price"),
                cell(&r, "confidence"),
            );
        }
        let sql = format!(
            "SELECT decision_id, kind, outcome, reason, signal_id, round(price, 3) AS price,
                    round(shares, 1) AS shares, round(stake, 2) AS stake, round(fee, 2) AS fee,
                    round(equity, 2) AS equity, open_positions, detail
             FROM executor_decisions WHERE decision_id > {} ORDER BY decision_id",
            self.last_decision
        );
        for r in rows(
            client
                .simple_query(&sql)
                .await
                .map_err(db::DbError::query("reading new executor decisions"))?,
        ) {
            self.last_decision = cell(&r, "decision_id")
                .parse()
                .unwrap_or(self.last_decision);
            let what = match (cell(&r, "kind"), cell(&r, "outcome")) {
                ("entry", "placed") => {
                    self.decisions.0 += 1;
                    format!(
                        "paper BUY {} shares at {} = {} USDC (fee {}), {}; equity was {}",
                        cell(&r, "shares"),
                        cell(&r, "price"),
                        cell(&r, "stake"),
                        cell(&r, "fee"),
                        cell(&r, "reason"),
                        cell(&r, "equity"),
                    )
                }
                ("entry", _) => {
                    self.decisions.1 += 1;
                    format!("skipped: {}", cell(&r, "reason"))
                }
                _ => {
                    self.decisions.0 += 1;
                    format!(
                        "paper SELL {} shares at {} ({})",
                        cell(&r, "shares"),
                        cell(&r, "price"),
                        cell(&r, "reason"),
                    )
                }
            };
            let on = match cell(&r, "signal_id") {
                "" => String::new(),
                id => format!(" on signal #{id}"),
            };
            println!("   {:>21}  executor{on}: {what}", "");
        }
        Ok(())
    }
}
