//! ABI encoding of every log the simulated contracts emit, laid out byte for byte as the real
//! contracts lay them out (indexed parameters as topics, the rest ABI-encoded in `data`), so
//! the decoder in [`crate::chain::events`] reads them exactly as it reads mainnet logs.

use ethers::{types::U256, utils::keccak256};

use crate::chain::{
    events::{topic0, Side, Sig as Ev},
    log::{Address, Word},
};

/// One log: its topics and its data.
pub type LogBody = (Vec<Word>, Vec<u8>);

/// An address as a 32-byte word (left-padded).
pub fn address_word(a: &Address) -> Word {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a);
    w
}

/// A u64 as a 32-byte big-endian word.
pub fn u64_word(v: u64) -> Word {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

/// A U256 as a 32-byte big-endian word.
pub fn u256_word(v: U256) -> Word {
    let mut w = [0u8; 32];
    v.to_big_endian(&mut w);
    w
}

/// Data built word by word.
struct Data(Vec<u8>);

impl Data {
    fn with_words(n: usize) -> Self {
        Data(Vec::with_capacity(n * 32))
    }

    fn word(mut self, w: &Word) -> Self {
        self.0.extend_from_slice(w);
        self
    }

    fn u(self, v: u64) -> Self {
        self.word(&u64_word(v))
    }

    fn address(self, a: &Address) -> Self {
        self.word(&address_word(a))
    }

    /// The tail of a `bytes` value: length, then the bytes right-padded to a word.
    fn bytes_tail(mut self, b: &[u8]) -> Self {
        self = self.u(b.len() as u64);
        self.0.extend_from_slice(b);
        let pad = (32 - b.len() % 32) % 32;
        self.0.resize(self.0.len() + pad, 0);
        self
    }

    fn done(self) -> Vec<u8> {
        self.0
    }
}

/// The two-outcome partition `[1, 2]` as an ABI `uint256[]` tail.
fn partition_tail(d: Data) -> Data {
    d.u(2).u(1).u(2)
}

fn side_word(side: Side) -> u64 {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// V1 asset ids: collateral is asset 0; a BUY gives collateral and gets the token.
fn v1_assets(side: Side, token: &Word) -> (Word, Word) {
    match side {
        Side::Buy => ([0; 32], *token),
        Side::Sell => (*token, [0; 32]),
    }
}

/// One order's fill as both exchange generations report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// EIP-712 hash of the filled order.
    pub order_hash: Word,
    /// The order's owner.
    pub maker: Address,
    /// The counterparty: the taker order's owner, or the exchange for the taker order's fill.
    pub taker: Address,
    /// BUY or SELL, seen from `maker`.
    pub side: Side,
    /// Outcome token id (32 big-endian bytes).
    pub token: Word,
    /// What the order gave, micro-units.
    pub making: u64,
    /// What the order got, micro-units.
    pub taking: u64,
    /// Fee, micro-units.
    pub fee: u64,
}

/// V1 exchange `OrderFilled`.
pub fn order_filled_v1(f: &Fill) -> LogBody {
    let (maker_asset, taker_asset) = v1_assets(f.side, &f.token);
    (
        vec![
            topic0(Ev::OrderFilledV1),
            f.order_hash,
            address_word(&f.maker),
            address_word(&f.taker),
        ],
        Data::with_words(5)
            .word(&maker_asset)
            .word(&taker_asset)
            .u(f.making)
            .u(f.taking)
            .u(f.fee)
            .done(),
    )
}

/// V2 exchange `OrderFilled` (side and token id explicit, then builder and metadata).
pub fn order_filled_v2(f: &Fill, builder: &Word, metadata: &Word) -> LogBody {
    (
        vec![
            topic0(Ev::OrderFilledV2),
            f.order_hash,
            address_word(&f.maker),
            address_word(&f.taker),
        ],
        Data::with_words(7)
            .u(side_word(f.side))
            .word(&f.token)
            .u(f.making)
            .u(f.taking)
            .u(f.fee)
            .word(builder)
            .word(metadata)
            .done(),
    )
}

/// `OrdersMatched` for the taker order `f` (its own fill), V1 or V2 layout.
pub fn orders_matched(version: u8, f: &Fill) -> LogBody {
    let topics = |e| vec![topic0(e), f.order_hash, address_word(&f.maker)];
    if version == 1 {
        let (maker_asset, taker_asset) = v1_assets(f.side, &f.token);
        (
            topics(Ev::OrdersMatchedV1),
            Data::with_words(4)
                .word(&maker_asset)
                .word(&taker_asset)
                .u(f.making)
                .u(f.taking)
                .done(),
        )
    } else {
        (
            topics(Ev::OrdersMatchedV2),
            Data::with_words(4)
                .u(side_word(f.side))
                .word(&f.token)
                .u(f.making)
                .u(f.taking)
                .done(),
        )
    }
}

/// V1 `FeeCharged(receiver, tokenId, amount)`: `token` is the asset the fee is taken in
/// (all zero for collateral).
pub fn fee_charged_v1(receiver: &Address, token: &Word, amount: u64) -> LogBody {
    (
        vec![topic0(Ev::FeeChargedV1), address_word(receiver)],
        Data::with_words(2).word(token).u(amount).done(),
    )
}

/// V2 `FeeCharged(receiver, amount)`, always collateral.
pub fn fee_charged_v2(receiver: &Address, amount: u64) -> LogBody {
    (
        vec![topic0(Ev::FeeChargedV2), address_word(receiver)],
        Data::with_words(1).u(amount).done(),
    )
}

/// V1 `TokenRegistered(token0, token1, conditionId)`, all indexed.
pub fn token_registered(token0: &Word, token1: &Word, condition: &Word) -> LogBody {
    (
        vec![topic0(Ev::TokenRegistered), *token0, *token1, *condition],
        Vec::new(),
    )
}

/// CTF `ConditionPreparation`.
pub fn condition_preparation(
    condition: &Word,
    oracle: &Address,
    question: &Word,
    slots: u64,
) -> LogBody {
    (
        vec![
            topic0(Ev::ConditionPreparation),
            *condition,
            address_word(oracle),
            *question,
        ],
        Data::with_words(1).u(slots).done(),
    )
}

/// CTF `ConditionResolution` with its payout numerators.
pub fn condition_resolution(
    condition: &Word,
    oracle: &Address,
    question: &Word,
    payouts: &[u64],
) -> LogBody {
    let mut d = Data::with_words(3 + payouts.len())
        .u(payouts.len() as u64)
        .u(0x40)
        .u(payouts.len() as u64);
    for p in payouts {
        d = d.u(*p);
    }
    (
        vec![
            topic0(Ev::ConditionResolution),
            *condition,
            address_word(oracle),
            *question,
        ],
        d.done(),
    )
}

fn ctf_split_merge(
    e: Ev,
    stakeholder: &Address,
    collateral: &Address,
    condition: &Word,
    amount: u64,
) -> LogBody {
    (
        vec![topic0(e), address_word(stakeholder), [0; 32], *condition],
        partition_tail(Data::with_words(6).address(collateral).u(0x60).u(amount)).done(),
    )
}

/// CTF `PositionSplit` of a root condition over the partition `[1, 2]`.
pub fn ctf_position_split(
    stakeholder: &Address,
    collateral: &Address,
    condition: &Word,
    amount: u64,
) -> LogBody {
    ctf_split_merge(
        Ev::PositionSplit,
        stakeholder,
        collateral,
        condition,
        amount,
    )
}

/// CTF `PositionsMerge` of a root condition over the partition `[1, 2]`.
pub fn ctf_positions_merge(
    stakeholder: &Address,
    collateral: &Address,
    condition: &Word,
    amount: u64,
) -> LogBody {
    ctf_split_merge(
        Ev::PositionsMerge,
        stakeholder,
        collateral,
        condition,
        amount,
    )
}

/// CTF `PayoutRedemption` over index sets `[1, 2]` (conditionId is not indexed).
pub fn ctf_payout_redemption(
    redeemer: &Address,
    collateral: &Address,
    condition: &Word,
    payout: u64,
) -> LogBody {
    (
        vec![
            topic0(Ev::PayoutRedemption),
            address_word(redeemer),
            address_word(collateral),
            [0; 32],
        ],
        partition_tail(Data::with_words(6).word(condition).u(0x60).u(payout)).done(),
    )
}

/// NegRiskAdapter `PositionSplit(stakeholder, conditionId, amount)`.
pub fn nr_position_split(stakeholder: &Address, condition: &Word, amount: u64) -> LogBody {
    (
        vec![
            topic0(Ev::NrPositionSplit),
            address_word(stakeholder),
            *condition,
        ],
        Data::with_words(1).u(amount).done(),
    )
}

/// NegRiskAdapter `PositionsMerge(stakeholder, conditionId, amount)`.
pub fn nr_positions_merge(stakeholder: &Address, condition: &Word, amount: u64) -> LogBody {
    (
        vec![
            topic0(Ev::NrPositionsMerge),
            address_word(stakeholder),
            *condition,
        ],
        Data::with_words(1).u(amount).done(),
    )
}

/// NegRiskAdapter `PositionsConverted(stakeholder, marketId, indexSet, amount)`.
pub fn nr_positions_converted(
    stakeholder: &Address,
    market_id: &Word,
    index_set: u64,
    amount: u64,
) -> LogBody {
    (
        vec![
            topic0(Ev::NrPositionsConverted),
            address_word(stakeholder),
            *market_id,
            u64_word(index_set),
        ],
        Data::with_words(1).u(amount).done(),
    )
}

/// NegRiskAdapter `PayoutRedemption(redeemer, conditionId, amounts, payout)`.
pub fn nr_payout_redemption(
    redeemer: &Address,
    condition: &Word,
    amounts: [u64; 2],
    payout: u64,
) -> LogBody {
    (
        vec![
            topic0(Ev::NrPayoutRedemption),
            address_word(redeemer),
            *condition,
        ],
        Data::with_words(5)
            .u(0x40)
            .u(payout)
            .u(2)
            .u(amounts[0])
            .u(amounts[1])
            .done(),
    )
}

/// NegRiskAdapter `MarketPrepared(marketId, oracle, feeBips, data)`.
pub fn nr_market_prepared(
    market_id: &Word,
    oracle: &Address,
    fee_bips: u64,
    data: &[u8],
) -> LogBody {
    (
        vec![
            topic0(Ev::NrMarketPrepared),
            *market_id,
            address_word(oracle),
        ],
        Data::with_words(3 + data.len() / 32 + 1)
            .u(fee_bips)
            .u(0x40)
            .bytes_tail(data)
            .done(),
    )
}

/// NegRiskAdapter `QuestionPrepared(marketId, questionId, index, data)`.
pub fn nr_question_prepared(
    market_id: &Word,
    question_id: &Word,
    index: u64,
    data: &[u8],
) -> LogBody {
    (
        vec![topic0(Ev::NrQuestionPrepared), *market_id, *question_id],
        Data::with_words(3 + data.len() / 32 + 1)
            .u(index)
            .u(0x40)
            .bytes_tail(data)
            .done(),
    )
}

/// NegRiskAdapter `OutcomeReported(marketId, questionId, outcome)`.
pub fn nr_outcome_reported(market_id: &Word, question_id: &Word, outcome: bool) -> LogBody {
    (
        vec![topic0(Ev::NrOutcomeReported), *market_id, *question_id],
        Data::with_words(1).u(u64::from(outcome)).done(),
    )
}

/// The NegRiskAdapter's market id: `keccak256(abi.encode(oracle, data))` with the low byte
/// cleared (NegRiskIdLib.getMarketId), so that question ids are `marketId + index`.
pub fn nr_market_id(oracle: &Address, data: &[u8]) -> Word {
    let enc = Data::with_words(3 + data.len() / 32 + 1)
        .address(oracle)
        .u(0x40)
        .bytes_tail(data)
        .done();
    let mut id = keccak256(enc);
    id[31] = 0;
    id
}

/// NegRiskIdLib.getQuestionId: the market id plus the question's index in its low byte.
pub fn nr_question_id(market_id: &Word, index: u8) -> Word {
    let mut q = *market_id;
    q[31] = index;
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{
        contracts::{addr, known},
        decode, position_id, Contracts, Event, RawLog,
    };

    fn raw(address: Address, (topics, data): LogBody) -> RawLog {
        RawLog {
            address,
            topics,
            data,
            block_number: 1,
            log_index: 0,
            tx_hash: [1; 32],
            block_hash: None,
            block_timestamp: None,
            removed: false,
        }
    }

    fn dec(address: &str, body: LogBody) -> Event {
        decode(&raw(known(address), body), &Contracts::default())
            .expect("decodes")
            .expect("is one of ours")
    }

    #[test]
    fn topic0_matches_the_reference() {
        assert_eq!(
            crate::chain::hex::encode(&topic0(Ev::OrderFilledV2)),
            "0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee"
        );
        assert_eq!(
            crate::chain::hex::encode(&topic0(Ev::PayoutRedemption)),
            "0x2682012a4a4f1973119f1c9b90745d1bd91fa2bab387344f044cb3586864d18d"
        );
    }

    #[test]
    fn fills_round_trip_through_the_decoder() {
        let f = Fill {
            order_hash: [7; 32],
            maker: [1; 20],
            taker: [2; 20],
            side: Side::Sell,
            token: u64_word(99),
            making: 10_000_000,
            taking: 4_200_000,
            fee: 3,
        };
        for (version, exchange) in [(1, addr::EXCHANGE_V1), (2, addr::NEGRISK_EXCHANGE_V2)] {
            let body = if version == 1 {
                order_filled_v1(&f)
            } else {
                order_filled_v2(&f, &[5; 32], &[0; 32])
            };
            let Event::OrderFilled(o) = dec(exchange, body) else {
                panic!("not a fill")
            };
            assert_eq!(o.version, i16::from(version));
            assert_eq!(
                (o.maker, o.taker, o.side, o.token_id),
                (f.maker, f.taker, f.side, U256::from(99))
            );
            assert_eq!(
                (o.maker_amount, o.taker_amount, o.fee),
                (10_000_000, 4_200_000, 3)
            );
            let Event::OrdersMatched(m) = dec(exchange, orders_matched(version, &f)) else {
                panic!("not a match")
            };
            assert_eq!(
                (m.taker_order_maker, m.side, m.maker_amount, m.taker_amount),
                (f.maker, Side::Sell, 10_000_000, 4_200_000)
            );
        }
        assert_eq!(
            dec(addr::EXCHANGE_V2, fee_charged_v2(&[3; 20], 17)),
            Event::FeeCharged {
                receiver: [3; 20],
                token_id: U256::zero(),
                amount: 17
            }
        );
    }

    #[test]
    fn ctf_and_adapter_events_round_trip() {
        let oracle = known(addr::NEGRISK_ADAPTER);
        let market = nr_market_id(&[9; 20], b"{\"sim\":1}");
        assert_eq!(market[31], 0);
        let q = nr_question_id(&market, 2);
        let c = position_id::condition_id(&oracle, &q, 2);
        assert!(matches!(
            dec(addr::CTF, condition_preparation(&c, &oracle, &q, 2)),
            Event::ConditionPreparation {
                outcome_slot_count: 2,
                ..
            }
        ));
        let Event::ConditionResolution {
            payout_numerators, ..
        } = dec(addr::CTF, condition_resolution(&c, &oracle, &q, &[0, 1]))
        else {
            panic!()
        };
        assert_eq!(payout_numerators, vec![U256::zero(), U256::one()]);
        let Event::PositionSplit(s) = dec(
            addr::CTF,
            ctf_position_split(&[4; 20], &known(addr::USDC_E), &c, 5_000_000),
        ) else {
            panic!()
        };
        assert_eq!((s.amount, s.partition.len()), (5_000_000, 2));
        assert!(matches!(
            dec(addr::CTF, ctf_payout_redemption(&[4; 20], &known(addr::USDC_E), &c, 8)),
            Event::PayoutRedemption { payout: 8, condition_id, .. } if condition_id == c
        ));
        assert!(matches!(
            dec(addr::NEGRISK_ADAPTER, nr_market_prepared(&market, &[9; 20], 0, b"{\"sim\":1}")),
            Event::NegRiskMarketPrepared { data, .. } if data == b"{\"sim\":1}"
        ));
        assert!(matches!(
            dec(addr::NEGRISK_ADAPTER, nr_question_prepared(&market, &q, 2, &[1; 40])),
            Event::NegRiskQuestionPrepared { data, .. } if data == vec![1; 40]
        ));
        assert!(matches!(
            dec(addr::NEGRISK_ADAPTER, nr_payout_redemption(&[4; 20], &c, [3, 0], 3)),
            Event::NegRiskPayoutRedemption { payout: 3, amounts, .. } if amounts == vec![U256::from(3), U256::zero()]
        ));
        assert!(matches!(
            dec(addr::NEGRISK_ADAPTER, nr_positions_converted(&[4; 20], &market, 4, 9)),
            Event::NegRiskPositionsConverted { amount: 9, index_set, .. } if index_set == U256::from(4)
        ));
        assert!(matches!(
            dec(
                addr::NEGRISK_ADAPTER,
                nr_outcome_reported(&market, &q, true)
            ),
            Event::NegRiskOutcomeReported { outcome: true, .. }
        ));
    }
}
