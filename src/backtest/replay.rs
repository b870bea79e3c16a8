//! The database side of a backtest: the period, the history replayed through the live signal
//! function, and the tape of fills and resolutions the execution model reads.
//!
//! [`replay_signals`] is the replay the demo also runs: score snapshots through the period
//! (each computed by `flow.take_score_snapshot(b)` from what was on chain by block `b`), then
//! every block's fills through `strategy.make_signals` with that block's time as "now". Signals
//! look snapshots up by time (`flow.snapshot_at`), so taking them all first gives each fill the
//! snapshot the live indexer would have had then. The caller decides whether what it wrote
//! stays: the demo commits, a backtest rolls back.

use std::collections::HashMap;

use rust_decimal::Decimal;
use tokio_postgres::GenericClient;

use super::{
    engine::{Intent, Market, Resolution, Tape, Tick, Token},
    BacktestError,
};
use crate::db::DbError;

/// The period of a backtest, in blocks and in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First block.
    pub from_block: i64,
    /// Last block (inclusive).
    pub to_block: i64,
    /// Time of the first indexed block in it, Unix seconds.
    pub from: i64,
    /// Time of the last indexed block in it, Unix seconds.
    pub to: i64,
}

/// What a replay wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Score snapshots taken.
    pub snapshots: i64,
    /// Blocks whose fills went through make_signals.
    pub blocks: i64,
    /// Signals made.
    pub signals: i64,
}

/// A `--from`/`--to` bound: a block number (digits only) or a time Postgres can read.
fn bound_sql(value: &str, first: bool) -> (&'static str, bool) {
    let is_block = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let sql = match (is_block, first) {
        (true, _) => "SELECT $1::text::int8",
        (false, true) => {
            "SELECT min(block_number) FROM chain.blocks WHERE block_time >= $1::text::timestamptz"
        }
        (false, false) => {
            "SELECT max(block_number) FROM chain.blocks WHERE block_time <= $1::text::timestamptz"
        }
    };
    (sql, is_block)
}

/// Resolves `--from` and `--to` (block numbers or times; None: the first or last indexed
/// block) into a period of indexed blocks.
pub async fn period(
    db: &impl GenericClient,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Period, BacktestError> {
    let bad = |reason: String| BacktestError::Period { reason };
    let mut blocks = [0i64; 2];
    for (i, value) in [from, to].into_iter().enumerate() {
        let row = match value {
            Some(v) => {
                let (sql, _) = bound_sql(v, i == 0);
                db.query_one(sql, &[&v]).await.map_err(|e| {
                    bad(format!(
                        "{} {v:?} is neither a block number nor a time ({})",
                        ["--from", "--to"][i],
                        e.as_db_error()
                            .map_or(e.to_string(), |d| d.message().to_owned())
                    ))
                })?
            }
            None => db
                .query_one(
                    [
                        "SELECT min(block_number) FROM chain.blocks",
                        "SELECT max(block_number) FROM chain.blocks",
                    ][i],
                    &[],
                )
                .await
                .map_err(DbError::query("reading the indexed blocks"))?,
        };
        blocks[i] = row.get::<_, Option<i64>>(0).ok_or_else(|| {
            bad(format!(
                "no indexed block {} {}: index the period first (indexer import FILE, or indexer --rpc-url URL)",
                ["at or after", "at or before"][i],
                value.unwrap_or("(any)")
            ))
        })?;
    }
    let row = db
        .query_one(
            "SELECT extract(epoch FROM min(block_time))::int8, extract(epoch FROM max(block_time))::int8
             FROM chain.blocks WHERE block_number BETWEEN $1 AND $2 AND block_time IS NOT NULL",
            &[&blocks[0], &blocks[1]],
        )
        .await
        .map_err(DbError::query("reading the period's block times"))?;
    match (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1)) {
        (Some(from), Some(to)) if blocks[0] <= blocks[1] => Ok(Period {
            from_block: blocks[0],
            to_block: blocks[1],
            from,
            to,
        }),
        _ => Err(bad(format!(
            "blocks {} to {} hold no indexed block with a time: choose --from before --to, inside the indexed range",
            blocks[0], blocks[1]
        ))),
    }
}

/// Takes a score snapshot after every `every` blocks from just before `from_block` (each
/// as of block `b`, read by the fills of the blocks after it), then runs every block's fills
/// in `[from_block, to_block]` through `strategy.make_signals` with the block's time as now.
pub async fn replay_signals(
    db: &impl GenericClient,
    from_block: i64,
    to_block: i64,
    every: i64,
) -> Result<Replayed, BacktestError> {
    if every < 1 {
        return Err(BacktestError::Period {
            reason: format!("a snapshot every {every} blocks: use 1 or more"),
        });
    }
    let before = signal_count(db).await?;
    let snapshots: i64 = db
        .query_one(
            "SELECT count(flow.take_score_snapshot(b, 'backtest'))
             FROM generate_series($1::int8 - 1, $2::int8 - 1, $3::int8) b
             WHERE EXISTS (SELECT 1 FROM chain.blocks k WHERE k.block_number <= b AND k.block_time IS NOT NULL)",
            &[&from_block, &to_block, &every],
        )
        .await
        .map_err(DbError::query(format!(
            "taking score snapshots every {every} blocks from {from_block} to {to_block}"
        )))?
        .get(0);
    // A DO block takes no parameters; both bounds are integers formatted here.
    let blocks: i64 = db
        .query_one(
            "SELECT count(DISTINCT block_number) FROM chain.order_filled WHERE block_number BETWEEN $1 AND $2",
            &[&from_block, &to_block],
        )
        .await
        .map_err(DbError::query("counting the blocks to replay"))?
        .get(0);
    db.batch_execute(&format!(
        "DO $$
         DECLARE b bigint;
         BEGIN
             FOR b IN SELECT DISTINCT block_number FROM chain.order_filled
                      WHERE block_number BETWEEN {from_block} AND {to_block} ORDER BY 1 LOOP
                 PERFORM strategy.make_signals(array_agg(f), max(f.block_time))
                 FROM chain.order_filled f WHERE f.block_number = b;
             END LOOP;
         END $$"
    ))
    .await
    .map_err(DbError::query(format!(
        "replaying blocks {from_block} to {to_block} through strategy.make_signals"
    )))?;
    Ok(Replayed {
        snapshots,
        blocks,
        signals: signal_count(db).await? - before,
    })
}

async fn signal_count(db: &impl GenericClient) -> Result<i64, BacktestError> {
    Ok(db
        .query_one("SELECT count(*) FROM strategy.signals", &[])
        .await
        .map_err(DbError::query("counting signals"))?
        .get(0))
}

/// A signal as the backtest reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRow {
    /// FOLLOW | FADE.
    pub action: String,
    /// Token to buy, decimal.
    pub token_id: String,
    /// Kelly's p.
    pub confidence: Decimal,
    /// The triggering fill.
    pub pos: (i64, i32),
    /// Its time, Unix seconds.
    pub at: i64,
}

/// The signals of the period that buy (the executor only buys), in chain order.
pub async fn signals(db: &impl GenericClient, p: &Period) -> Result<Vec<SignalRow>, BacktestError> {
    let rows = db
        .query(
            "SELECT action, token_id::text, confidence, block_number, log_index, extract(epoch FROM block_time)::int8
             FROM strategy.signals
             WHERE block_number BETWEEN $1 AND $2 AND side = 0 AND reorged_at IS NULL
             ORDER BY block_number, log_index, action",
            &[&p.from_block, &p.to_block],
        )
        .await
        .map_err(DbError::query("reading the replayed signals"))?;
    Ok(rows
        .iter()
        .map(|r| SignalRow {
            action: r.get(0),
            token_id: r.get(1),
            confidence: r.get(2),
            pos: (r.get(3), r.get(4)),
            at: r.get(5),
        })
        .collect())
}

/// The period's fills (with a price and a time) and first resolutions, and every token of
/// the markets they touch.
pub async fn tape(db: &impl GenericClient, p: &Period) -> Result<Tape, BacktestError> {
    let mut tape = Tape {
        from: p.from,
        to: p.to,
        ..Tape::default()
    };
    let token_rows = db
        .query(
            "SELECT t.token_id::text, '0x' || encode(t.condition_id, 'hex'), t.outcome_index
             FROM market.tokens t
             WHERE t.condition_id IN (SELECT k.condition_id FROM market.tokens k
                                      WHERE k.token_id IN (SELECT DISTINCT f.token_id FROM chain.order_filled f
                                                           WHERE f.block_number BETWEEN $1 AND $2))
             ORDER BY 2, 3",
            &[&p.from_block, &p.to_block],
        )
        .await
        .map_err(DbError::query("reading the period's markets"))?;
    let mut token_ix: HashMap<String, u32> = HashMap::new();
    let mut market_ix: HashMap<String, u32> = HashMap::new();
    for r in &token_rows {
        let (id, market, outcome): (String, String, i16) = (r.get(0), r.get(1), r.get(2));
        let m = *market_ix.entry(market.clone()).or_insert_with(|| {
            tape.markets.push(Market {
                id: market,
                tokens: Vec::new(),
            });
            (tape.markets.len() - 1) as u32
        });
        let t = tape.tokens.len() as u32;
        tape.markets[m as usize].tokens.push(t);
        token_ix.insert(id.clone(), t);
        tape.tokens.push(Token {
            id,
            market: m,
            outcome,
        });
    }
    let fills = db
        .query(
            "SELECT block_number, log_index, extract(epoch FROM block_time)::int8, token_id::text, maker, side = 0,
                    round(CASE WHEN side = 0 THEN maker_amount ELSE taker_amount END::numeric
                          / CASE WHEN side = 0 THEN taker_amount ELSE maker_amount END, 6)
             FROM chain.order_filled
             WHERE block_number BETWEEN $1 AND $2 AND block_time IS NOT NULL
               AND CASE WHEN side = 0 THEN taker_amount ELSE maker_amount END > 0
             ORDER BY block_number, log_index",
            &[&p.from_block, &p.to_block],
        )
        .await
        .map_err(DbError::query("reading the period's fills"))?;
    let mut wallets: HashMap<Vec<u8>, u32> = HashMap::new();
    for r in &fills {
        // Fills of tokens no market maps cannot be settled, so they are not traded.
        let Some(&token) = token_ix.get(r.get::<_, &str>(3)) else {
            continue;
        };
        let n = wallets.len() as u32;
        let wallet = *wallets.entry(r.get(4)).or_insert(n);
        tape.ticks.push(Tick {
            pos: (r.get(0), r.get(1)),
            at: r.get(2),
            token,
            price: r.get(6),
            wallet,
            buy: r.get(5),
        });
    }
    tape.wallets = wallets.len();
    let resolutions = db
        .query(
            "SELECT block_number, log_index, extract(epoch FROM block_time)::int8, '0x' || encode(condition_id, 'hex'),
                    payout_numerators
             FROM chain.condition_resolution
             WHERE block_number BETWEEN $1 AND $2 AND block_time IS NOT NULL
             ORDER BY block_number, log_index",
            &[&p.from_block, &p.to_block],
        )
        .await
        .map_err(DbError::query("reading the period's resolutions"))?;
    for r in &resolutions {
        let Some(&market) = market_ix.get(r.get::<_, &str>(3)) else {
            continue;
        };
        let numerators: Vec<Decimal> = r.get(4);
        let total: Decimal = numerators.iter().sum();
        tape.resolutions.push(Resolution {
            pos: (r.get(0), r.get(1)),
            at: r.get(2),
            market,
            payouts: numerators
                .iter()
                .map(|n| {
                    if total.is_zero() {
                        Decimal::ZERO
                    } else {
                        n / total
                    }
                })
                .collect(),
        });
    }
    tape.index();
    Ok(tape)
}

/// Signals as intents on the tape; signals of tokens the tape does not map are dropped.
pub fn intents(tape: &Tape, signals: &[SignalRow]) -> Vec<Intent> {
    let ix: HashMap<&str, u32> = tape
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i as u32))
        .collect();
    signals
        .iter()
        .filter_map(|s| {
            Some(Intent {
                action: s.action.clone(),
                token: *ix.get(s.token_id.as_str())?,
                confidence: s.confidence,
                pos: s.pos,
                at: s.at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_blocks_anything_else_a_time() {
        assert!(bound_sql("84000000", true).1);
        assert!(!bound_sql("2026-04-07", true).1);
        assert!(!bound_sql("2026-04-07T12:00:00Z", false).1);
        assert!(!bound_sql("", false).1);
        assert!(bound_sql("2026-04-07", true).0.contains(">="));
        assert!(bound_sql("2026-04-07", false).0.contains("<="));
    }
}
