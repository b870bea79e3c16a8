//! A batch: decoded logs turned into binary COPY streams, one per target table.

use std::collections::{BTreeMap, HashMap};

use ethers::types::U256;

use super::copy::CopyBuf;
use crate::chain::{
    contracts::{addr, known},
    decode,
    events::{collateral_for_oracle, OrderFilled, OrdersMatched, SplitMerge},
    log::{Address, Word},
    position_id, Contracts, Event, RawLog,
};

/// Every table a batch writes, with its columns (in COPY order) and its conflict key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Table {
    OrderFilled,
    OrdersMatched,
    FeeCharged,
    FeeRefunded,
    OrderCancelled,
    TokenRegistered,
    ConditionPreparation,
    ConditionResolution,
    PositionSplit,
    PositionsMerge,
    PayoutRedemption,
    NegRiskPositionSplit,
    NegRiskPositionsMerge,
    NegRiskPositionsConverted,
    NegRiskPayoutRedemption,
    NegRiskMarketPrepared,
    NegRiskQuestionPrepared,
    NegRiskOutcomeReported,
    Tokens,
    UnmatchedTokens,
    BadLogs,
}

const META: &str = "block_number, log_index, tx_hash, block_time, contract";

/// Each table's COPY fields a row, by its discriminant.
const FIELD_COUNTS: [i16; Table::ALL.len()] = {
    let mut n = [0; Table::ALL.len()];
    let mut i = 0;
    while i < n.len() {
        n[Table::ALL[i] as usize] = Table::ALL[i].count_fields();
        i += 1;
    }
    n
};

/// The commas in a column list.
const fn commas(list: &str) -> usize {
    let b = list.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if b[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
}

impl Table {
    /// All tables, in the order a batch writes them.
    pub const ALL: [Table; 21] = [
        Table::OrderFilled,
        Table::OrdersMatched,
        Table::FeeCharged,
        Table::FeeRefunded,
        Table::OrderCancelled,
        Table::TokenRegistered,
        Table::ConditionPreparation,
        Table::ConditionResolution,
        Table::PositionSplit,
        Table::PositionsMerge,
        Table::PayoutRedemption,
        Table::NegRiskPositionSplit,
        Table::NegRiskPositionsMerge,
        Table::NegRiskPositionsConverted,
        Table::NegRiskPayoutRedemption,
        Table::NegRiskMarketPrepared,
        Table::NegRiskQuestionPrepared,
        Table::NegRiskOutcomeReported,
        Table::Tokens,
        Table::UnmatchedTokens,
        Table::BadLogs,
    ];

    /// Schema-qualified table name; the part after the dot names the event kind in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Table::OrderFilled => "chain.order_filled",
            Table::OrdersMatched => "chain.orders_matched",
            Table::FeeCharged => "chain.fee_charged",
            Table::FeeRefunded => "chain.fee_refunded",
            Table::OrderCancelled => "chain.order_cancelled",
            Table::TokenRegistered => "chain.token_registered",
            Table::ConditionPreparation => "chain.condition_preparation",
            Table::ConditionResolution => "chain.condition_resolution",
            Table::PositionSplit => "chain.position_split",
            Table::PositionsMerge => "chain.positions_merge",
            Table::PayoutRedemption => "chain.payout_redemption",
            Table::NegRiskPositionSplit => "chain.negrisk_position_split",
            Table::NegRiskPositionsMerge => "chain.negrisk_positions_merge",
            Table::NegRiskPositionsConverted => "chain.negrisk_positions_converted",
            Table::NegRiskPayoutRedemption => "chain.negrisk_payout_redemption",
            Table::NegRiskMarketPrepared => "chain.negrisk_market_prepared",
            Table::NegRiskQuestionPrepared => "chain.negrisk_question_prepared",
            Table::NegRiskOutcomeReported => "chain.negrisk_outcome_reported",
            Table::Tokens => "market.tokens",
            Table::UnmatchedTokens => "market.unmatched_tokens",
            Table::BadLogs => "chain.bad_logs",
        }
    }

    /// The event kind (table name without schema).
    pub fn kind(self) -> &'static str {
        self.name().split_once('.').map(|(_, k)| k).unwrap_or("?")
    }

    /// True for tables holding chain events (counted as "events stored").
    pub const fn is_event(self) -> bool {
        !matches!(
            self,
            Table::Tokens | Table::UnmatchedTokens | Table::BadLogs
        )
    }

    /// Columns after the five meta columns (for event tables) in COPY order.
    const fn own_columns(self) -> &'static str {
        match self {
            Table::OrderFilled => "version, order_hash, maker, taker, side, token_id, maker_amount, taker_amount, fee, builder, metadata",
            Table::OrdersMatched => "version, taker_order_hash, taker_order_maker, side, token_id, maker_amount, taker_amount",
            Table::FeeCharged => "receiver, token_id, amount",
            Table::FeeRefunded => "order_hash, recipient, token_id, refund, fee_charged",
            Table::OrderCancelled => "order_hash",
            Table::TokenRegistered => "token0, token1, condition_id",
            Table::ConditionPreparation => "condition_id, oracle, question_id, outcome_slot_count",
            Table::ConditionResolution => "condition_id, oracle, question_id, outcome_slot_count, payout_numerators",
            Table::PositionSplit | Table::PositionsMerge => "stakeholder, collateral, parent_collection_id, condition_id, partition, amount",
            Table::PayoutRedemption => "redeemer, collateral, parent_collection_id, condition_id, index_sets, payout",
            Table::NegRiskPositionSplit | Table::NegRiskPositionsMerge => "stakeholder, condition_id, amount",
            Table::NegRiskPositionsConverted => "stakeholder, market_id, index_set, amount",
            Table::NegRiskPayoutRedemption => "redeemer, condition_id, amounts, payout",
            Table::NegRiskMarketPrepared => "market_id, oracle, fee_bips, data",
            Table::NegRiskQuestionPrepared => "market_id, question_id, question_index, data",
            Table::NegRiskOutcomeReported => "market_id, question_id, outcome",
            Table::Tokens => "token_id, condition_id, outcome_index, neg_risk, collateral, source, block_number, log_index",
            Table::UnmatchedTokens => "token_id, condition_id, block_number, log_index",
            Table::BadLogs => "block_number, log_index, tx_hash, contract, topics, data, reason",
        }
    }

    /// The COPY column list.
    pub fn columns(self) -> String {
        if self.is_event() {
            format!("{META}, {}", self.own_columns())
        } else {
            self.own_columns().to_owned()
        }
    }

    /// Number of COPY fields a row has: read from a table made at compile time (counting the
    /// column list's commas for every row was a sixth of the importer's instructions).
    fn field_count(self) -> i16 {
        FIELD_COUNTS[self as usize]
    }

    /// Counts the COPY fields of a row from the column lists.
    const fn count_fields(self) -> i16 {
        let own = commas(self.own_columns()) + 1;
        let meta = if self.is_event() { commas(META) + 1 } else { 0 };
        (own + meta) as i16
    }

    /// The unique key duplicates are detected on.
    pub fn conflict_key(self) -> &'static str {
        match self {
            Table::Tokens | Table::UnmatchedTokens => "(token_id)",
            _ => "(block_number, log_index)",
        }
    }

    /// True if the table is range-partitioned by block (needs partitions before writing).
    pub fn partitioned(self) -> bool {
        matches!(
            self,
            Table::OrderFilled
                | Table::OrdersMatched
                | Table::FeeCharged
                | Table::FeeRefunded
                | Table::OrderCancelled
                | Table::PositionSplit
                | Table::PositionsMerge
                | Table::PayoutRedemption
                | Table::NegRiskPositionSplit
                | Table::NegRiskPositionsMerge
                | Table::NegRiskPositionsConverted
                | Table::NegRiskPayoutRedemption
        )
    }
}

/// Derives token ids once per condition and collateral (each V1 pair is registered twice).
#[derive(Debug, Default)]
pub struct TokenDeriver {
    cache: HashMap<(Word, Address, u32), Word>,
}

impl TokenDeriver {
    fn token(&mut self, collateral: &Address, condition: &Word, outcome: u32) -> Word {
        *self
            .cache
            .entry((*condition, *collateral, outcome))
            .or_insert_with(|| position_id::token_id(collateral, condition, outcome))
    }

    /// Which (outcome index, neg-risk, collateral) a registered token is, by derivation.
    fn identify(&mut self, condition: &Word, token: &U256) -> Option<(u32, bool, Address)> {
        let mut want = [0u8; 32];
        token.to_big_endian(&mut want);
        for (collateral, neg_risk) in [
            (known(addr::USDC_E), false),
            (known(addr::NEGRISK_WRAPPED_COLLATERAL), true),
        ] {
            for outcome in 0..2 {
                if self.token(&collateral, condition, outcome) == want {
                    return Some((outcome, neg_risk, collateral));
                }
            }
        }
        None
    }
}

/// What a batch learned of its blocks (chain.blocks rows), as columns: number, hash and unix
/// time, each hash and time NULL when no log carried it.
#[derive(Debug, Default)]
pub struct BlockRows {
    /// Block numbers, ascending.
    pub numbers: Vec<i64>,
    /// Block hashes.
    pub hashes: Vec<Option<Vec<u8>>>,
    /// Block times, unix seconds.
    pub times: Vec<Option<i64>>,
}

/// Decoded rows of one batch, ready to COPY.
#[derive(Debug, Default)]
pub struct Batch {
    bufs: BTreeMap<Table, CopyBuf>,
    blocks: BTreeMap<u64, (Option<Word>, Option<u64>)>,
    /// Lowest block in the batch.
    pub min_block: Option<u64>,
    /// Highest block in the batch.
    pub max_block: Option<u64>,
    /// Lowest (block, log index) in the batch.
    pub min_position: Option<(u64, u64)>,
    /// Highest (block, log index) in the batch.
    pub max_position: Option<(u64, u64)>,
    /// Logs read into this batch (decoded, quarantined or ignored).
    pub logs: u64,
    /// Logs from other contracts or of events we do not decode.
    pub ignored: u64,
}

impl Batch {
    fn buf(&mut self, t: Table) -> &mut CopyBuf {
        let fields = t.field_count();
        let b = self.bufs.entry(t).or_default();
        b.row(fields);
        b
    }

    fn meta(&mut self, t: Table, log: &RawLog) -> &mut CopyBuf {
        let b = self.buf(t);
        b.i64(log.block_number as i64)
            .i32(log.log_index as i32)
            .bytes(&log.tx_hash)
            .unix_time(log.block_timestamp)
            .bytes(&log.address);
        b
    }

    /// Reads one log into the batch: decoded rows, a quarantined log, or an ignored one.
    pub fn add(&mut self, log: &RawLog, contracts: &Contracts, tokens: &mut TokenDeriver) {
        self.saw(log);
        match decode(log, contracts) {
            Ok(Some(ev)) => self.push(log, &ev, tokens),
            Ok(None) => self.ignored += 1,
            Err(e) => self.bad(log, &e.to_string()),
        }
    }

    /// Notes a log's block (range, hash, time) whatever became of the log.
    pub fn saw(&mut self, log: &RawLog) {
        self.logs += 1;
        let n = log.block_number;
        self.min_block = Some(self.min_block.map_or(n, |m| m.min(n)));
        self.max_block = Some(self.max_block.map_or(n, |m| m.max(n)));
        let p = (n, u64::from(log.log_index));
        self.min_position = Some(self.min_position.map_or(p, |m| m.min(p)));
        self.max_position = Some(self.max_position.map_or(p, |m| m.max(p)));
        if log.block_hash.is_some() || log.block_timestamp.is_some() {
            let e = self.blocks.entry(n).or_insert((None, None));
            e.0 = e.0.or(log.block_hash);
            e.1 = e.1.or(log.block_timestamp);
        }
    }

    /// Rows waiting for a table.
    pub fn rows(&self, t: Table) -> usize {
        self.bufs.get(&t).map_or(0, CopyBuf::rows)
    }

    /// True when nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty() && self.blocks.is_empty()
    }

    /// The batch's blocks (written first, by the writer's own statement, not a COPY stream),
    /// then each table with rows and its finished COPY stream, in write order.
    pub fn into_parts(self) -> (BlockRows, Vec<(Table, usize, bytes::Bytes)>) {
        let mut blocks = BlockRows::default();
        for (n, (hash, time)) in self.blocks {
            blocks.numbers.push(n as i64);
            blocks.hashes.push(hash.map(|h| h.to_vec()));
            blocks.times.push(time.map(|t| t as i64));
        }
        let mut out: Vec<_> = self
            .bufs
            .into_iter()
            .map(|(t, b)| (t, b.rows(), b.finish()))
            .collect();
        out.sort_by_key(|(t, _, _)| Table::ALL.iter().position(|x| x == t));
        (blocks, out)
    }

    /// Quarantines a log that failed decoding.
    pub fn bad(&mut self, log: &RawLog, reason: &str) {
        self.buf(Table::BadLogs)
            .i64(log.block_number as i64)
            .i32(log.log_index as i32)
            .bytes(&log.tx_hash)
            .bytes(&log.address)
            .bytes_array(&log.topics)
            .bytes(&log.data)
            .text(reason);
    }

    #[allow(clippy::too_many_arguments)] // the columns of one market.tokens row
    fn token_row(
        &mut self,
        log: &RawLog,
        token: &[u8; 32],
        condition: &Word,
        outcome: u32,
        neg_risk: bool,
        collateral: &Address,
        source: &str,
    ) {
        self.buf(Table::Tokens)
            .numeric(&U256::from_big_endian(token))
            .bytes(condition)
            .i16(outcome as i16)
            .bool(neg_risk)
            .bytes(collateral)
            .text(source)
            .i64(log.block_number as i64)
            .i32(log.log_index as i32);
    }

    /// Adds a decoded event (and the token rows it implies).
    pub fn push(&mut self, log: &RawLog, event: &Event, tokens: &mut TokenDeriver) {
        match event {
            Event::OrderFilled(OrderFilled {
                version,
                order_hash,
                maker,
                taker,
                side,
                token_id,
                maker_amount,
                taker_amount,
                fee,
                builder,
                metadata,
            }) => {
                self.meta(Table::OrderFilled, log)
                    .i16(*version)
                    .bytes(order_hash)
                    .bytes(maker)
                    .bytes(taker)
                    .i16(*side as i16)
                    .numeric(token_id)
                    .i64(*maker_amount)
                    .i64(*taker_amount)
                    .i64(*fee)
                    .opt_bytes(builder.as_ref().map(|b| &b[..]))
                    .opt_bytes(metadata.as_ref().map(|b| &b[..]));
            }
            Event::OrdersMatched(OrdersMatched {
                version,
                taker_order_hash,
                taker_order_maker,
                side,
                token_id,
                maker_amount,
                taker_amount,
            }) => {
                self.meta(Table::OrdersMatched, log)
                    .i16(*version)
                    .bytes(taker_order_hash)
                    .bytes(taker_order_maker)
                    .i16(*side as i16)
                    .numeric(token_id)
                    .i64(*maker_amount)
                    .i64(*taker_amount);
            }
            Event::TokenRegistered {
                token0,
                token1,
                condition_id,
            } => {
                self.meta(Table::TokenRegistered, log)
                    .numeric(token0)
                    .numeric(token1)
                    .bytes(condition_id);
                for t in [token0, token1] {
                    match tokens.identify(condition_id, t) {
                        Some((outcome, neg_risk, collateral)) => {
                            let mut w = [0u8; 32];
                            t.to_big_endian(&mut w);
                            self.token_row(
                                log,
                                &w,
                                condition_id,
                                outcome,
                                neg_risk,
                                &collateral,
                                "token_registered",
                            );
                        }
                        None => {
                            self.buf(Table::UnmatchedTokens)
                                .numeric(t)
                                .bytes(condition_id)
                                .i64(log.block_number as i64)
                                .i32(log.log_index as i32);
                        }
                    }
                }
            }
            Event::OrderCancelled { order_hash } => {
                self.meta(Table::OrderCancelled, log).bytes(order_hash);
            }
            Event::FeeCharged {
                receiver,
                token_id,
                amount,
            } => {
                self.meta(Table::FeeCharged, log)
                    .bytes(receiver)
                    .numeric(token_id)
                    .i64(*amount);
            }
            Event::FeeRefunded {
                order_hash,
                to,
                token_id,
                refund,
                fee_charged,
            } => {
                self.meta(Table::FeeRefunded, log)
                    .bytes(order_hash)
                    .bytes(to)
                    .numeric(token_id)
                    .i64(*refund)
                    .i64(*fee_charged);
            }
            Event::ConditionPreparation {
                condition_id,
                oracle,
                question_id,
                outcome_slot_count,
            } => {
                self.meta(Table::ConditionPreparation, log)
                    .bytes(condition_id)
                    .bytes(oracle)
                    .bytes(question_id)
                    .i32(*outcome_slot_count as i32);
                let (collateral, neg_risk) = collateral_for_oracle(oracle);
                for outcome in 0..*outcome_slot_count {
                    let t = tokens.token(&collateral, condition_id, outcome);
                    self.token_row(
                        log,
                        &t,
                        condition_id,
                        outcome,
                        neg_risk,
                        &collateral,
                        "condition_preparation",
                    );
                }
            }
            Event::ConditionResolution {
                condition_id,
                oracle,
                question_id,
                outcome_slot_count,
                payout_numerators,
            } => {
                self.meta(Table::ConditionResolution, log)
                    .bytes(condition_id)
                    .bytes(oracle)
                    .bytes(question_id)
                    .i32(*outcome_slot_count as i32)
                    .numeric_array(payout_numerators);
            }
            Event::PositionSplit(sm) => self.split_merge(Table::PositionSplit, log, sm),
            Event::PositionsMerge(sm) => self.split_merge(Table::PositionsMerge, log, sm),
            Event::PayoutRedemption {
                redeemer,
                collateral,
                parent_collection_id,
                condition_id,
                index_sets,
                payout,
            } => {
                self.meta(Table::PayoutRedemption, log)
                    .bytes(redeemer)
                    .bytes(collateral)
                    .bytes(parent_collection_id)
                    .bytes(condition_id)
                    .numeric_array(index_sets)
                    .i64(*payout);
            }
            Event::NegRiskPositionSplit {
                stakeholder,
                condition_id,
                amount,
            } => {
                self.meta(Table::NegRiskPositionSplit, log)
                    .bytes(stakeholder)
                    .bytes(condition_id)
                    .i64(*amount);
            }
            Event::NegRiskPositionsMerge {
                stakeholder,
                condition_id,
                amount,
            } => {
                self.meta(Table::NegRiskPositionsMerge, log)
                    .bytes(stakeholder)
                    .bytes(condition_id)
                    .i64(*amount);
            }
            Event::NegRiskPositionsConverted {
                stakeholder,
                market_id,
                index_set,
                amount,
            } => {
                self.meta(Table::NegRiskPositionsConverted, log)
                    .bytes(stakeholder)
                    .bytes(market_id)
                    .numeric(index_set)
                    .i64(*amount);
            }
            Event::NegRiskPayoutRedemption {
                redeemer,
                condition_id,
                amounts,
                payout,
            } => {
                self.meta(Table::NegRiskPayoutRedemption, log)
                    .bytes(redeemer)
                    .bytes(condition_id)
                    .numeric_array(amounts)
                    .i64(*payout);
            }
            Event::NegRiskMarketPrepared {
                market_id,
                oracle,
                fee_bips,
                data,
            } => {
                self.meta(Table::NegRiskMarketPrepared, log)
                    .bytes(market_id)
                    .bytes(oracle)
                    .numeric(fee_bips)
                    .bytes(data);
            }
            Event::NegRiskQuestionPrepared {
                market_id,
                question_id,
                index,
                data,
            } => {
                self.meta(Table::NegRiskQuestionPrepared, log)
                    .bytes(market_id)
                    .bytes(question_id)
                    .numeric(index)
                    .bytes(data);
            }
            Event::NegRiskOutcomeReported {
                market_id,
                question_id,
                outcome,
            } => {
                self.meta(Table::NegRiskOutcomeReported, log)
                    .bytes(market_id)
                    .bytes(question_id)
                    .bool(*outcome);
            }
        }
    }

    fn split_merge(&mut self, t: Table, log: &RawLog, sm: &SplitMerge) {
        self.meta(t, log)
            .bytes(&sm.stakeholder)
            .bytes(&sm.collateral)
            .bytes(&sm.parent_collection_id)
            .bytes(&sm.condition_id)
            .numeric_array(&sm.partition)
            .i64(sm.amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_counts_follow_the_column_lists() {
        for t in Table::ALL {
            assert_eq!(
                t.field_count() as usize,
                t.columns().split(',').count(),
                "{}",
                t.name()
            );
        }
        assert_eq!(Table::OrderFilled.field_count(), 16);
        assert_eq!(Table::Tokens.field_count(), 8);
    }
}
