//! Decoding Polymarket, CTF and NegRisk events from raw logs, without trusting the input:
//! a log whose topic0 we know but whose shape is wrong becomes a [`DecodeError`] (quarantined
//! by the importer), never a panic and never a half-filled row.

use std::sync::OnceLock;

use ethers::{types::U256, utils::keccak256};
use thiserror::Error;

use super::{
    contracts::{addr, known, ContractKind, Contracts},
    log::{Address, RawLog, Word},
    position_id,
};

/// Why a log with a known topic0 could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Topic count differs from the event's indexed parameters.
    #[error("{event}: expected {expected} topics, got {got}")]
    TopicCount {
        /// Event name.
        event: &'static str,
        /// Topics the signature has.
        expected: usize,
        /// Topics the log has.
        got: usize,
    },
    /// Data is shorter (or, for static events, longer) than the ABI allows.
    #[error("{event}: data is {got} bytes, expected {expected}")]
    DataLength {
        /// Event name.
        event: &'static str,
        /// What the ABI needs (`"at least N"` for dynamic events).
        expected: String,
        /// Bytes present.
        got: usize,
    },
    /// An address-typed word has non-zero high bytes.
    #[error("{event}: {field} is not a valid address")]
    BadAddress {
        /// Event name.
        event: &'static str,
        /// Parameter name.
        field: &'static str,
    },
    /// A value does not fit its column (amounts beyond int64, side beyond 1, …).
    #[error("{event}: {field} out of range")]
    OutOfRange {
        /// Event name.
        event: &'static str,
        /// Parameter name.
        field: &'static str,
    },
    /// A dynamic array's offset or length points outside the data.
    #[error("{event}: array {field} is malformed")]
    BadArray {
        /// Event name.
        event: &'static str,
        /// Parameter name.
        field: &'static str,
    },
    /// ConditionPreparation whose conditionId is not keccak(oracle, questionId, slots).
    #[error(
        "ConditionPreparation: conditionId does not match oracle, questionId and outcomeSlotCount"
    )]
    ConditionIdMismatch,
    /// A V1 fill with both or neither asset being collateral.
    #[error("OrderFilled: neither asset id is collateral (0)")]
    NoCollateralLeg,
}

/// BUY or SELL, from the order owner's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Pays collateral, receives outcome tokens.
    Buy = 0,
    /// Pays outcome tokens, receives collateral.
    Sell = 1,
}

/// One order's fill, normalised across V1 and V2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFilled {
    /// 1 or 2.
    pub version: i16,
    /// EIP-712 hash of the filled order.
    pub order_hash: Word,
    /// The order's owner (funder): the wallet this fill is credited to.
    pub maker: Address,
    /// The other side: the taker order's owner, or the exchange for a taker-order fill.
    pub taker: Address,
    /// BUY or SELL.
    pub side: Side,
    /// The outcome token traded.
    pub token_id: U256,
    /// What the order gave, in micro-units (collateral on BUY, tokens on SELL).
    pub maker_amount: i64,
    /// What the order got, in micro-units.
    pub taker_amount: i64,
    /// Fee in micro-units: V1 in what the order receives, V2 in collateral.
    pub fee: i64,
    /// V2 builder code.
    pub builder: Option<Word>,
    /// V2 order metadata.
    pub metadata: Option<Word>,
}

/// A taker order matched against one or more maker orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersMatched {
    /// 1 or 2.
    pub version: i16,
    /// Hash of the taker order.
    pub taker_order_hash: Word,
    /// Owner of the taker order.
    pub taker_order_maker: Address,
    /// Side of the taker order.
    pub side: Side,
    /// Token traded by the taker order.
    pub token_id: U256,
    /// What the taker order gave, micro-units.
    pub maker_amount: i64,
    /// What the taker order got, micro-units.
    pub taker_amount: i64,
}

/// A CTF split or merge (same shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMerge {
    /// Who split or merged.
    pub stakeholder: Address,
    /// Collateral token.
    pub collateral: Address,
    /// Parent collection (zero for root positions).
    pub parent_collection_id: Word,
    /// Condition.
    pub condition_id: Word,
    /// Index sets of the partition.
    pub partition: Vec<U256>,
    /// Amount in micro-units.
    pub amount: i64,
}

/// A decoded event body.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    OrderFilled(OrderFilled),
    OrdersMatched(OrdersMatched),
    TokenRegistered {
        token0: U256,
        token1: U256,
        condition_id: Word,
    },
    OrderCancelled {
        order_hash: Word,
    },
    /// V1: token_id is the asset the fee was taken in (0 = collateral); V2: always collateral.
    FeeCharged {
        receiver: Address,
        token_id: U256,
        amount: i64,
    },
    FeeRefunded {
        order_hash: Word,
        to: Address,
        token_id: U256,
        refund: i64,
        fee_charged: i64,
    },
    ConditionPreparation {
        condition_id: Word,
        oracle: Address,
        question_id: Word,
        outcome_slot_count: u32,
    },
    ConditionResolution {
        condition_id: Word,
        oracle: Address,
        question_id: Word,
        outcome_slot_count: u32,
        payout_numerators: Vec<U256>,
    },
    PositionSplit(SplitMerge),
    PositionsMerge(SplitMerge),
    PayoutRedemption {
        redeemer: Address,
        collateral: Address,
        parent_collection_id: Word,
        condition_id: Word,
        index_sets: Vec<U256>,
        payout: i64,
    },
    NegRiskPositionSplit {
        stakeholder: Address,
        condition_id: Word,
        amount: i64,
    },
    NegRiskPositionsMerge {
        stakeholder: Address,
        condition_id: Word,
        amount: i64,
    },
    NegRiskPositionsConverted {
        stakeholder: Address,
        market_id: Word,
        index_set: U256,
        amount: i64,
    },
    NegRiskPayoutRedemption {
        redeemer: Address,
        condition_id: Word,
        amounts: Vec<U256>,
        payout: i64,
    },
    NegRiskMarketPrepared {
        market_id: Word,
        oracle: Address,
        fee_bips: U256,
        data: Vec<u8>,
    },
    NegRiskQuestionPrepared {
        market_id: Word,
        question_id: Word,
        index: U256,
        data: Vec<u8>,
    },
    NegRiskOutcomeReported {
        market_id: Word,
        question_id: Word,
        outcome: bool,
    },
}

/// Which decoder a (contract kind, topic0) pair selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sig {
    OrderFilledV1,
    OrdersMatchedV1,
    TokenRegistered,
    OrderCancelled,
    FeeChargedV1,
    FeeRefunded,
    OrderFilledV2,
    OrdersMatchedV2,
    FeeChargedV2,
    ConditionPreparation,
    ConditionResolution,
    PositionSplit,
    PositionsMerge,
    PayoutRedemption,
    NrPositionSplit,
    NrPositionsMerge,
    NrPositionsConverted,
    NrPayoutRedemption,
    NrMarketPrepared,
    NrQuestionPrepared,
    NrOutcomeReported,
}

/// Every event we decode, with the contract family that emits it and its exact signature.
const SIGNATURES: &[(Family, Sig, &str)] = &[
    (Family::ExchangeV1, Sig::OrderFilledV1, "OrderFilled(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)"),
    (Family::ExchangeV1, Sig::OrdersMatchedV1, "OrdersMatched(bytes32,address,uint256,uint256,uint256,uint256)"),
    (Family::ExchangeV1, Sig::TokenRegistered, "TokenRegistered(uint256,uint256,bytes32)"),
    (Family::ExchangeV1, Sig::OrderCancelled, "OrderCancelled(bytes32)"),
    (Family::ExchangeV1, Sig::FeeChargedV1, "FeeCharged(address,uint256,uint256)"),
    (Family::FeeModuleV1, Sig::FeeRefunded, "FeeRefunded(bytes32,address,uint256,uint256,uint256)"),
    (Family::ExchangeV2, Sig::OrderFilledV2, "OrderFilled(bytes32,address,address,uint8,uint256,uint256,uint256,uint256,bytes32,bytes32)"),
    (Family::ExchangeV2, Sig::OrdersMatchedV2, "OrdersMatched(bytes32,address,uint8,uint256,uint256,uint256)"),
    (Family::ExchangeV2, Sig::FeeChargedV2, "FeeCharged(address,uint256)"),
    (Family::Ctf, Sig::ConditionPreparation, "ConditionPreparation(bytes32,address,bytes32,uint256)"),
    (Family::Ctf, Sig::ConditionResolution, "ConditionResolution(bytes32,address,bytes32,uint256,uint256[])"),
    (Family::Ctf, Sig::PositionSplit, "PositionSplit(address,address,bytes32,bytes32,uint256[],uint256)"),
    (Family::Ctf, Sig::PositionsMerge, "PositionsMerge(address,address,bytes32,bytes32,uint256[],uint256)"),
    (Family::Ctf, Sig::PayoutRedemption, "PayoutRedemption(address,address,bytes32,bytes32,uint256[],uint256)"),
    (Family::NegRisk, Sig::NrPositionSplit, "PositionSplit(address,bytes32,uint256)"),
    (Family::NegRisk, Sig::NrPositionsMerge, "PositionsMerge(address,bytes32,uint256)"),
    (Family::NegRisk, Sig::NrPositionsConverted, "PositionsConverted(address,bytes32,uint256,uint256)"),
    (Family::NegRisk, Sig::NrPayoutRedemption, "PayoutRedemption(address,bytes32,uint256[],uint256)"),
    (Family::NegRisk, Sig::NrMarketPrepared, "MarketPrepared(bytes32,address,uint256,bytes)"),
    (Family::NegRisk, Sig::NrQuestionPrepared, "QuestionPrepared(bytes32,bytes32,uint256,bytes)"),
    (Family::NegRisk, Sig::NrOutcomeReported, "OutcomeReported(bytes32,bytes32,bool)"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    ExchangeV1,
    ExchangeV2,
    FeeModuleV1,
    Ctf,
    NegRisk,
}

fn family(kind: ContractKind) -> Family {
    match kind {
        ContractKind::ExchangeV1 | ContractKind::NegRiskExchangeV1 => Family::ExchangeV1,
        ContractKind::ExchangeV2 | ContractKind::NegRiskExchangeV2 => Family::ExchangeV2,
        ContractKind::FeeModuleV1 => Family::FeeModuleV1,
        ContractKind::ConditionalTokens => Family::Ctf,
        ContractKind::NegRiskAdapter => Family::NegRisk,
    }
}

fn table() -> &'static [(Family, Sig, Word)] {
    static T: OnceLock<Vec<(Family, Sig, Word)>> = OnceLock::new();
    T.get_or_init(|| {
        SIGNATURES
            .iter()
            .map(|(f, s, sig)| (*f, *s, keccak256(sig.as_bytes())))
            .collect()
    })
}

/// topic0 of every decoded event (for eth_getLogs filters).
pub fn topics0() -> Vec<Word> {
    let mut v: Vec<Word> = table().iter().map(|t| t.2).collect();
    v.sort();
    v.dedup();
    v
}

/// Reads a log as one of our events. `Ok(None)`: not from a listed contract, or an event we
/// do not decode (ERC-1155 transfers, pauses, …). `Err`: a known event with a bad shape.
pub fn decode(log: &RawLog, contracts: &Contracts) -> Result<Option<Event>, DecodeError> {
    let Some(kind) = contracts.kind(&log.address) else {
        return Ok(None);
    };
    let Some(topic0) = log.topics.first() else {
        return Ok(None);
    };
    let fam = family(kind);
    let Some(&(_, sig, _)) = table().iter().find(|(f, _, t)| *f == fam && t == topic0) else {
        return Ok(None);
    };
    decode_sig(sig, log).map(Some)
}

struct Reader<'a> {
    event: &'static str,
    log: &'a RawLog,
}

impl<'a> Reader<'a> {
    /// Checks the topic count and the data length (exact for static events, a minimum otherwise).
    fn new(
        event: &'static str,
        log: &'a RawLog,
        topics: usize,
        words: usize,
        dynamic: bool,
    ) -> Result<Self, DecodeError> {
        if log.topics.len() != topics {
            return Err(DecodeError::TopicCount {
                event,
                expected: topics,
                got: log.topics.len(),
            });
        }
        let need = words * 32;
        let ok = if dynamic {
            log.data.len() >= need && log.data.len() % 32 == 0
        } else {
            log.data.len() == need
        };
        if !ok {
            let expected = if dynamic {
                format!("at least {need}, a multiple of 32")
            } else {
                need.to_string()
            };
            return Err(DecodeError::DataLength {
                event,
                expected,
                got: log.data.len(),
            });
        }
        Ok(Reader { event, log })
    }

    fn topic(&self, i: usize) -> Word {
        self.log.topics[i]
    }

    fn word(&self, i: usize) -> Word {
        self.log.data[i * 32..i * 32 + 32]
            .try_into()
            .expect("length checked")
    }

    fn as_address(&self, w: &Word, field: &'static str) -> Result<Address, DecodeError> {
        if w[..12].iter().any(|&b| b != 0) {
            return Err(DecodeError::BadAddress {
                event: self.event,
                field,
            });
        }
        Ok(w[12..].try_into().expect("20 bytes"))
    }

    fn topic_address(&self, i: usize, field: &'static str) -> Result<Address, DecodeError> {
        self.as_address(&self.topic(i), field)
    }

    fn data_address(&self, i: usize, field: &'static str) -> Result<Address, DecodeError> {
        self.as_address(&self.word(i), field)
    }

    fn uint(&self, i: usize) -> U256 {
        U256::from_big_endian(&self.word(i))
    }

    fn small(&self, w: &Word, field: &'static str, max: u64) -> Result<u64, DecodeError> {
        if w[..24].iter().any(|&b| b != 0) {
            return Err(DecodeError::OutOfRange {
                event: self.event,
                field,
            });
        }
        let v = u64::from_be_bytes(w[24..].try_into().expect("8 bytes"));
        if v > max {
            return Err(DecodeError::OutOfRange {
                event: self.event,
                field,
            });
        }
        Ok(v)
    }

    /// A uint256 amount stored as int64 micro-units.
    fn amount(&self, i: usize, field: &'static str) -> Result<i64, DecodeError> {
        self.small(&self.word(i), field, i64::MAX as u64)
            .map(|v| v as i64)
    }

    fn side(&self, i: usize) -> Result<Side, DecodeError> {
        Ok(if self.small(&self.word(i), "side", 1)? == 0 {
            Side::Buy
        } else {
            Side::Sell
        })
    }

    /// A `uint256[]` whose head word `i` holds its offset.
    fn uint_array(&self, i: usize, field: &'static str) -> Result<Vec<U256>, DecodeError> {
        let bad = || DecodeError::BadArray {
            event: self.event,
            field,
        };
        let words = self.log.data.len() / 32;
        let offset = self
            .small(&self.word(i), field, self.log.data.len() as u64)
            .map_err(|_| bad())? as usize;
        if offset % 32 != 0 || offset / 32 >= words {
            return Err(bad());
        }
        let start = offset / 32;
        let len = self
            .small(&self.word(start), field, 256)
            .map_err(|_| bad())? as usize;
        if start + 1 + len > words {
            return Err(bad());
        }
        Ok((0..len).map(|k| self.uint(start + 1 + k)).collect())
    }

    /// A `bytes` value whose head word `i` holds its offset.
    fn bytes(&self, i: usize, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        let bad = || DecodeError::BadArray {
            event: self.event,
            field,
        };
        let n = self.log.data.len();
        let offset = self
            .small(&self.word(i), field, n as u64)
            .map_err(|_| bad())? as usize;
        if offset % 32 != 0 || offset + 32 > n {
            return Err(bad());
        }
        let len = self
            .small(&self.word(offset / 32), field, n as u64)
            .map_err(|_| bad())? as usize;
        let start = offset + 32;
        if start + len > n {
            return Err(bad());
        }
        Ok(self.log.data[start..start + len].to_vec())
    }

    fn slot_count(&self, i: usize) -> Result<u32, DecodeError> {
        self.small(&self.word(i), "outcomeSlotCount", 256)
            .map(|v| v as u32)
    }
}

fn decode_sig(sig: Sig, log: &RawLog) -> Result<Event, DecodeError> {
    Ok(match sig {
        Sig::OrderFilledV1 => {
            let r = Reader::new("OrderFilled", log, 4, 5, false)?;
            let (maker_asset, taker_asset) = (r.uint(0), r.uint(1));
            let (side, token_id) = match (maker_asset.is_zero(), taker_asset.is_zero()) {
                (true, false) => (Side::Buy, taker_asset),
                (false, true) => (Side::Sell, maker_asset),
                _ => return Err(DecodeError::NoCollateralLeg),
            };
            Event::OrderFilled(OrderFilled {
                version: 1,
                order_hash: r.topic(1),
                maker: r.topic_address(2, "maker")?,
                taker: r.topic_address(3, "taker")?,
                side,
                token_id,
                maker_amount: r.amount(2, "makerAmountFilled")?,
                taker_amount: r.amount(3, "takerAmountFilled")?,
                fee: r.amount(4, "fee")?,
                builder: None,
                metadata: None,
            })
        }
        Sig::OrderFilledV2 => {
            let r = Reader::new("OrderFilled", log, 4, 7, false)?;
            Event::OrderFilled(OrderFilled {
                version: 2,
                order_hash: r.topic(1),
                maker: r.topic_address(2, "maker")?,
                taker: r.topic_address(3, "taker")?,
                side: r.side(0)?,
                token_id: r.uint(1),
                maker_amount: r.amount(2, "makerAmountFilled")?,
                taker_amount: r.amount(3, "takerAmountFilled")?,
                fee: r.amount(4, "fee")?,
                builder: Some(r.word(5)),
                metadata: Some(r.word(6)),
            })
        }
        Sig::OrdersMatchedV1 => {
            let r = Reader::new("OrdersMatched", log, 3, 4, false)?;
            let (maker_asset, taker_asset) = (r.uint(0), r.uint(1));
            let (side, token_id) = match (maker_asset.is_zero(), taker_asset.is_zero()) {
                (true, false) => (Side::Buy, taker_asset),
                (false, true) => (Side::Sell, maker_asset),
                _ => return Err(DecodeError::NoCollateralLeg),
            };
            Event::OrdersMatched(OrdersMatched {
                version: 1,
                taker_order_hash: r.topic(1),
                taker_order_maker: r.topic_address(2, "takerOrderMaker")?,
                side,
                token_id,
                maker_amount: r.amount(2, "makerAmountFilled")?,
                taker_amount: r.amount(3, "takerAmountFilled")?,
            })
        }
        Sig::OrdersMatchedV2 => {
            let r = Reader::new("OrdersMatched", log, 3, 4, false)?;
            Event::OrdersMatched(OrdersMatched {
                version: 2,
                taker_order_hash: r.topic(1),
                taker_order_maker: r.topic_address(2, "takerOrderMaker")?,
                side: r.side(0)?,
                token_id: r.uint(1),
                maker_amount: r.amount(2, "makerAmountFilled")?,
                taker_amount: r.amount(3, "takerAmountFilled")?,
            })
        }
        Sig::TokenRegistered => {
            let r = Reader::new("TokenRegistered", log, 4, 0, false)?;
            Event::TokenRegistered {
                token0: U256::from_big_endian(&r.topic(1)),
                token1: U256::from_big_endian(&r.topic(2)),
                condition_id: r.topic(3),
            }
        }
        Sig::OrderCancelled => {
            let r = Reader::new("OrderCancelled", log, 2, 0, false)?;
            Event::OrderCancelled {
                order_hash: r.topic(1),
            }
        }
        Sig::FeeChargedV1 => {
            let r = Reader::new("FeeCharged", log, 2, 2, false)?;
            Event::FeeCharged {
                receiver: r.topic_address(1, "receiver")?,
                token_id: r.uint(0),
                amount: r.amount(1, "amount")?,
            }
        }
        Sig::FeeChargedV2 => {
            let r = Reader::new("FeeCharged", log, 2, 1, false)?;
            Event::FeeCharged {
                receiver: r.topic_address(1, "receiver")?,
                token_id: U256::zero(),
                amount: r.amount(0, "amount")?,
            }
        }
        Sig::FeeRefunded => {
            let r = Reader::new("FeeRefunded", log, 4, 2, false)?;
            Event::FeeRefunded {
                order_hash: r.topic(1),
                to: r.topic_address(2, "to")?,
                token_id: r.uint(0),
                refund: r.amount(1, "refund")?,
                fee_charged: r.small(&r.topic(3), "feeCharged", i64::MAX as u64)? as i64,
            }
        }
        Sig::ConditionPreparation => {
            let r = Reader::new("ConditionPreparation", log, 4, 1, false)?;
            let (condition_id, oracle, question_id) =
                (r.topic(1), r.topic_address(2, "oracle")?, r.topic(3));
            let outcome_slot_count = r.slot_count(0)?;
            if position_id::condition_id(&oracle, &question_id, outcome_slot_count) != condition_id
            {
                return Err(DecodeError::ConditionIdMismatch);
            }
            Event::ConditionPreparation {
                condition_id,
                oracle,
                question_id,
                outcome_slot_count,
            }
        }
        Sig::ConditionResolution => {
            let r = Reader::new("ConditionResolution", log, 4, 3, true)?;
            let outcome_slot_count = r.slot_count(0)?;
            let payout_numerators = r.uint_array(1, "payoutNumerators")?;
            if payout_numerators.len() != outcome_slot_count as usize {
                return Err(DecodeError::BadArray {
                    event: "ConditionResolution",
                    field: "payoutNumerators",
                });
            }
            Event::ConditionResolution {
                condition_id: r.topic(1),
                oracle: r.topic_address(2, "oracle")?,
                question_id: r.topic(3),
                outcome_slot_count,
                payout_numerators,
            }
        }
        Sig::PositionSplit | Sig::PositionsMerge => {
            let name = if sig == Sig::PositionSplit {
                "PositionSplit"
            } else {
                "PositionsMerge"
            };
            let r = Reader::new(name, log, 4, 5, true)?;
            let sm = SplitMerge {
                stakeholder: r.topic_address(1, "stakeholder")?,
                collateral: r.data_address(0, "collateralToken")?,
                parent_collection_id: r.topic(2),
                condition_id: r.topic(3),
                partition: r.uint_array(1, "partition")?,
                amount: r.amount(2, "amount")?,
            };
            if sig == Sig::PositionSplit {
                Event::PositionSplit(sm)
            } else {
                Event::PositionsMerge(sm)
            }
        }
        Sig::PayoutRedemption => {
            let r = Reader::new("PayoutRedemption", log, 4, 4, true)?;
            Event::PayoutRedemption {
                redeemer: r.topic_address(1, "redeemer")?,
                collateral: r.topic_address(2, "collateralToken")?,
                parent_collection_id: r.topic(3),
                condition_id: r.word(0),
                index_sets: r.uint_array(1, "indexSets")?,
                payout: r.amount(2, "payout")?,
            }
        }
        Sig::NrPositionSplit | Sig::NrPositionsMerge => {
            let name = if sig == Sig::NrPositionSplit {
                "PositionSplit"
            } else {
                "PositionsMerge"
            };
            let r = Reader::new(name, log, 3, 1, false)?;
            let (stakeholder, condition_id, amount) = (
                r.topic_address(1, "stakeholder")?,
                r.topic(2),
                r.amount(0, "amount")?,
            );
            if sig == Sig::NrPositionSplit {
                Event::NegRiskPositionSplit {
                    stakeholder,
                    condition_id,
                    amount,
                }
            } else {
                Event::NegRiskPositionsMerge {
                    stakeholder,
                    condition_id,
                    amount,
                }
            }
        }
        Sig::NrPositionsConverted => {
            let r = Reader::new("PositionsConverted", log, 4, 1, false)?;
            Event::NegRiskPositionsConverted {
                stakeholder: r.topic_address(1, "stakeholder")?,
                market_id: r.topic(2),
                index_set: U256::from_big_endian(&r.topic(3)),
                amount: r.amount(0, "amount")?,
            }
        }
        Sig::NrPayoutRedemption => {
            let r = Reader::new("PayoutRedemption", log, 3, 3, true)?;
            Event::NegRiskPayoutRedemption {
                redeemer: r.topic_address(1, "redeemer")?,
                condition_id: r.topic(2),
                amounts: r.uint_array(0, "amounts")?,
                payout: r.amount(1, "payout")?,
            }
        }
        Sig::NrMarketPrepared => {
            let r = Reader::new("MarketPrepared", log, 3, 3, true)?;
            Event::NegRiskMarketPrepared {
                market_id: r.topic(1),
                oracle: r.topic_address(2, "oracle")?,
                fee_bips: r.uint(0),
                data: r.bytes(1, "data")?,
            }
        }
        Sig::NrQuestionPrepared => {
            let r = Reader::new("QuestionPrepared", log, 3, 3, true)?;
            Event::NegRiskQuestionPrepared {
                market_id: r.topic(1),
                question_id: r.topic(2),
                index: r.uint(0),
                data: r.bytes(1, "data")?,
            }
        }
        Sig::NrOutcomeReported => {
            let r = Reader::new("OutcomeReported", log, 3, 1, false)?;
            Event::NegRiskOutcomeReported {
                market_id: r.topic(1),
                question_id: r.topic(2),
                outcome: r.small(&r.word(0), "outcome", 1)? == 1,
            }
        }
    })
}

/// The collateral a condition's token ids are derived from: the NegRisk WrappedCollateral when
/// the NegRiskAdapter is the oracle, USDC.e otherwise.
pub fn collateral_for_oracle(oracle: &Address) -> (Address, bool) {
    if *oracle == known(addr::NEGRISK_ADAPTER) {
        (known(addr::NEGRISK_WRAPPED_COLLATERAL), true)
    } else {
        (known(addr::USDC_E), false)
    }
}
