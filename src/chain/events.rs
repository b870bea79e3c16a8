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

/// Every event signature we decode (V1/V2 and CTF/NegRisk variants apart); which decoder a
/// (contract kind, topic0) pair selects.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
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

/// topic0 of one event signature.
pub fn topic0(sig: Sig) -> Word {
    table()
        .iter()
        .find(|t| t.1 == sig)
        .map(|t| t.2)
        .expect("every Sig has a signature")
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

    /// V1 side and token from (makerAssetId, takerAssetId) in data words 0 and 1: the
    /// collateral leg is asset id 0; an order giving collateral buys.
    fn v1_side(&self) -> Result<(Side, U256), DecodeError> {
        let (maker_asset, taker_asset) = (self.uint(0), self.uint(1));
        match (maker_asset.is_zero(), taker_asset.is_zero()) {
            (true, false) => Ok((Side::Buy, taker_asset)),
            (false, true) => Ok((Side::Sell, maker_asset)),
            _ => Err(DecodeError::NoCollateralLeg),
        }
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
            let (side, token_id) = r.v1_side()?;
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
            let (side, token_id) = r.v1_side()?;
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

#[cfg(test)]
mod tests {
    //! Real Polygon mainnet logs (tests/fixtures/mainnet_logs.jsonl; sources in
    //! tests/fixtures/README.md), each decoded field asserted.

    use super::*;
    use crate::chain::hex;

    const FIXTURES: &str = include_str!("../../tests/fixtures/mainnet_logs.jsonl");

    fn fixture(tx: &str, log_index: u32) -> RawLog {
        FIXTURES
            .lines()
            .map(|l| RawLog::from_json(l).expect("fixture parses"))
            .find(|l| hex::encode(&l.tx_hash) == tx && l.log_index == log_index)
            .unwrap_or_else(|| panic!("no fixture {tx}#{log_index}"))
    }

    fn dec(tx: &str, log_index: u32) -> Event {
        decode(&fixture(tx, log_index), &Contracts::default())
            .expect("decodes")
            .expect("is one of ours")
    }

    fn a(s: &str) -> Address {
        hex::decode_fixed::<20>(s).unwrap()
    }

    fn w(s: &str) -> Word {
        hex::decode_fixed::<32>(s).unwrap()
    }

    fn u(s: &str) -> U256 {
        U256::from_dec_str(s).unwrap()
    }

    fn wu(s: &str) -> U256 {
        U256::from_big_endian(&w(s))
    }

    #[test]
    fn topic0_of_the_reference_signatures() {
        let t = |s: &str| hex::encode(&keccak256(s));
        assert_eq!(
            t(SIGNATURES[0].2),
            "0xd0a08e8c493f9c94f29311604c9de1b4e8c8d4c06bd0c789af57f2d65bfec0f6"
        );
        assert_eq!(
            t(SIGNATURES[1].2),
            "0x63bf4d16b7fa898ef4c4b2b6d90fd201e9c56313b65638af6088d149d2ce956c"
        );
        assert_eq!(
            t(SIGNATURES[2].2),
            "0xbc9a2432e8aeb48327246cddd6e872ef452812b4243c04e6bfb786a2cd8faf0d"
        );
        assert_eq!(
            t(SIGNATURES[6].2),
            "0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee"
        );
        assert_eq!(
            t(SIGNATURES[7].2),
            "0x174b3811690657c217184f89418266767c87e4805d09680c39fc9c031c0cab7c"
        );
        assert_eq!(
            t(SIGNATURES[10].2),
            "0xb44d84d3289691f71497564b85d4233648d9dbae8cbdbb4329f301c3a0185894"
        );
        assert_eq!(
            t(SIGNATURES[11].2),
            "0x2e6bb91f8cbcda0c93623c54d0403a43514fabc40084ec96b6d5379a74786298"
        );
        assert_eq!(
            t(SIGNATURES[12].2),
            "0x6f13ca62553fcc2bcd2372180a43949c1e4cebba603901ede2f4e14f36b282ca"
        );
        assert_eq!(
            t(SIGNATURES[13].2),
            "0x2682012a4a4f1973119f1c9b90745d1bd91fa2bab387344f044cb3586864d18d"
        );
    }

    /// V1 CTF Exchange, tx 0x31d5dca405136cb4ed09bcf817d2b6c2ce1331b18d4b5738eae2e76f7e73e391,
    /// block 81344785: a BUY of 17.7 shares for 7.434 USDC (0.42), fee 1.77 shares.
    #[test]
    fn v1_order_filled() {
        let e = dec(
            "0x31d5dca405136cb4ed09bcf817d2b6c2ce1331b18d4b5738eae2e76f7e73e391",
            0x54d,
        );
        assert_eq!(
            e,
            Event::OrderFilled(OrderFilled {
                version: 1,
                order_hash: w("0xcad66ce0a358cde360f7565f226a7749c1fa08648b57ec3ffd0bf6c0f8a46b8b"),
                maker: a("0x00000003a358014c7c0e227483dbe01619871000"),
                taker: a("0xe55b90febea370d4611a4b0a9ff201183268b24e"),
                side: Side::Buy,
                token_id: wu("0xfdee4e7856e0a259cea17232d8e548f7309655d49c1eac7fe5813a188c3b4b2c"),
                maker_amount: 7_434_000,
                taker_amount: 17_700_000,
                fee: 1_770_000,
                builder: None,
                metadata: None,
            })
        );
    }

    /// NegRisk V1 exchange, tx 0x73ca58d58325b5cbb369588671844dd555dcb33723497e96097b196b8bdfdcd8
    /// (block 51866068): maker 0x3cf3… sells 10 shares for 3.3 USDC; the taker order's own fill
    /// (taker = the exchange); then OrdersMatched with the taker fill's amounts.
    #[test]
    fn v1_match_maker_taker_and_orders_matched() {
        let tx = "0x73ca58d58325b5cbb369588671844dd555dcb33723497e96097b196b8bdfdcd8";
        let token =
            u("50315837024432334213827041057729556211989649223066002327303150792784314280840");
        let Event::OrderFilled(maker) = dec(tx, 25) else {
            panic!()
        };
        assert_eq!(maker.maker, a("0x3cf3e8d5427aed066a7a5926980600f6c3cf87b3"));
        assert_eq!(maker.taker, a("0xd42f6a1634a3707e27cbae14ca966068e5d1047d"));
        assert_eq!(
            maker.order_hash,
            w("0x83b04dd4f7591c60e21694ce5808587fa5a331bb958994389ce95eddfdb148c6")
        );
        assert_eq!(
            (
                maker.side,
                maker.token_id,
                maker.maker_amount,
                maker.taker_amount,
                maker.fee
            ),
            (Side::Sell, token, 10_000_000, 3_300_000, 0)
        );
        let Event::OrderFilled(taker) = dec(tx, 27) else {
            panic!()
        };
        assert_eq!(taker.maker, a("0xd42f6a1634a3707e27cbae14ca966068e5d1047d"));
        assert_eq!(taker.taker, known(addr::NEGRISK_EXCHANGE_V1));
        assert_eq!(
            (
                taker.side,
                taker.token_id,
                taker.maker_amount,
                taker.taker_amount,
                taker.fee
            ),
            (Side::Buy, token, 3_300_000, 10_000_000, 0)
        );
        assert_eq!(
            dec(tx, 28),
            Event::OrdersMatched(OrdersMatched {
                version: 1,
                taker_order_hash: w(
                    "0x55a5da3494e8670f67e8952b61ea620bf0939a84065671ba2f4e2930653a7d3c"
                ),
                taker_order_maker: a("0xd42f6a1634a3707e27cbae14ca966068e5d1047d"),
                side: Side::Buy,
                token_id: token,
                maker_amount: 3_300_000,
                taker_amount: 10_000_000,
            })
        );
    }

    /// V2 CTF Exchange, tx 0x21d27b0fde210ccb5e6480e3f479f342743aa1f854199d57cafab2553d9a516e:
    /// SELL 4.18 shares at 0.94, no fee.
    #[test]
    fn v2_order_filled() {
        let e = dec(
            "0x21d27b0fde210ccb5e6480e3f479f342743aa1f854199d57cafab2553d9a516e",
            0x215,
        );
        assert_eq!(
            e,
            Event::OrderFilled(OrderFilled {
                version: 2,
                order_hash: w("0xbfbc54d2a0c2b5b92f572efba77f1c1fa61550d04600fc4f0f1ce420efa08da0"),
                maker: a("0xa253d75c2dfb2c6650291d5e8d54076d2fb40181"),
                taker: a("0x92c9ad93ba0e400ffc8d716edf70a588d246bde3"),
                side: Side::Sell,
                token_id: u(
                    "92995309462039665251203590892224533684024782310651466832592596015862972883776"
                ),
                maker_amount: 4_180_000,
                taker_amount: 3_929_200,
                fee: 0,
                builder: Some([0; 32]),
                metadata: Some([0; 32]),
            })
        );
    }

    /// V2 taker fill with a collateral fee, tx
    /// 0x4137856c9f4b7b4fdd488c986527d5eacca02997477d5cb07a170db25e7480d9: SELL 6 at 0.48, fee 0.10483.
    #[test]
    fn v2_taker_fill_with_fee() {
        let Event::OrderFilled(f) = dec(
            "0x4137856c9f4b7b4fdd488c986527d5eacca02997477d5cb07a170db25e7480d9",
            0x546,
        ) else {
            panic!()
        };
        assert_eq!(f.taker, known(addr::EXCHANGE_V2));
        assert_eq!(
            (f.side, f.maker_amount, f.taker_amount, f.fee),
            (Side::Sell, 6_000_000, 2_880_000, 104_830)
        );
    }

    /// CTF ConditionResolution, tx 0x84b7768df7b4837c89179e776d0575e2c9dfce8f68fa8807de92f423ff40ace7:
    /// outcome 0 won ([1, 0]).
    #[test]
    fn condition_resolution() {
        assert_eq!(
            dec(
                "0x84b7768df7b4837c89179e776d0575e2c9dfce8f68fa8807de92f423ff40ace7",
                0x258
            ),
            Event::ConditionResolution {
                condition_id: w(
                    "0xda4bfca4a2f26cce689ac3e2b89cc60a17fb0b994ee79f61ec8beb65f6886236"
                ),
                oracle: a("0x65070be91477460d8a7aeeb94ef92fe056c2f2a7"),
                question_id: w(
                    "0xb7576115f85ca1f02c40bd07ae7373640423e87fcffd4c2a8986af23f2a01438"
                ),
                outcome_slot_count: 2,
                payout_numerators: vec![U256::one(), U256::zero()],
            }
        );
    }

    /// CTF PositionSplit (tx 0xc6d1c08c7d75a49750e6b282d5f176d79e876419918f78f8ce87ac7141cd9715,
    /// 20 USDC.e) and PositionsMerge (tx 0x19ca1abbc7db11bab75038afe52b915efeac7ba2afac7b610ce2771ff14ea8d1,
    /// 21.12 USDC.e), both over partition [1, 2].
    #[test]
    fn split_and_merge() {
        let partition = vec![U256::from(1), U256::from(2)];
        assert_eq!(
            dec(
                "0xc6d1c08c7d75a49750e6b282d5f176d79e876419918f78f8ce87ac7141cd9715",
                0x6f8
            ),
            Event::PositionSplit(SplitMerge {
                stakeholder: a("0x20d2309cd92b797ae7ca175ed828ed8a27fbe29d"),
                collateral: known(addr::USDC_E),
                parent_collection_id: [0; 32],
                condition_id: w(
                    "0xb907d819a95244f9e19dc779e3db2a33133a864d22e9ce222d09a16b48759f49"
                ),
                partition: partition.clone(),
                amount: 20_000_000,
            })
        );
        assert_eq!(
            dec(
                "0x19ca1abbc7db11bab75038afe52b915efeac7ba2afac7b610ce2771ff14ea8d1",
                0x6db
            ),
            Event::PositionsMerge(SplitMerge {
                stakeholder: a("0xada100874d00e3331d00f2007a9c336a65009718"),
                collateral: known(addr::USDC_E),
                parent_collection_id: [0; 32],
                condition_id: w(
                    "0x2c1e877e19fe8ebc146e5260c33c9e1eaffd8752f4c3398b49345fbd58fa0e99"
                ),
                partition,
                amount: 21_120_000,
            })
        );
    }

    /// CTF PayoutRedemption, tx 0x3f12d5d3285700b3b818784725b19c5ac4fcdfc987eff668175aa82aaf41c3cc:
    /// 59.076955 USDC.e paid out over index sets [1, 2].
    #[test]
    fn payout_redemption() {
        assert_eq!(
            dec(
                "0x3f12d5d3285700b3b818784725b19c5ac4fcdfc987eff668175aa82aaf41c3cc",
                0x440
            ),
            Event::PayoutRedemption {
                redeemer: a("0x5d4aba8ad45bb5eab3499a0294b42da5d1e455d3"),
                collateral: known(addr::USDC_E),
                parent_collection_id: [0; 32],
                condition_id: w(
                    "0x62530e00e2f67d9757e0b06e168e9929e0661daff1276354a3018f1568120c2f"
                ),
                index_sets: vec![U256::from(1), U256::from(2)],
                payout: 59_076_955,
            }
        );
    }

    #[test]
    fn malformed_logs_are_errors_not_panics() {
        let good = fixture(
            "0x31d5dca405136cb4ed09bcf817d2b6c2ce1331b18d4b5738eae2e76f7e73e391",
            0x54d,
        );
        let c = Contracts::default();
        let mut l = good.clone();
        l.topics.pop();
        assert_eq!(
            decode(&l, &c),
            Err(DecodeError::TopicCount {
                event: "OrderFilled",
                expected: 4,
                got: 3
            })
        );
        let mut l = good.clone();
        l.data.truncate(100);
        assert!(matches!(
            decode(&l, &c),
            Err(DecodeError::DataLength { got: 100, .. })
        ));
        let mut l = good.clone();
        l.topics[2][0] = 1;
        assert_eq!(
            decode(&l, &c),
            Err(DecodeError::BadAddress {
                event: "OrderFilled",
                field: "maker"
            })
        );
        let mut l = good.clone();
        l.data[64] = 1; // makerAmountFilled beyond int64
        assert!(matches!(
            decode(&l, &c),
            Err(DecodeError::OutOfRange { .. })
        ));
        // A dynamic array pointing past the end.
        let mut l = fixture(
            "0x84b7768df7b4837c89179e776d0575e2c9dfce8f68fa8807de92f423ff40ace7",
            0x258,
        );
        l.data[63] = 0xff;
        assert!(matches!(decode(&l, &c), Err(DecodeError::BadArray { .. })));
        // Same log from an address we do not listen to: not ours.
        let mut l = good;
        l.address = [9; 20];
        assert_eq!(decode(&l, &c), Ok(None));
    }
}
