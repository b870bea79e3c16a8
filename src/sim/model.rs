//! The market model behind [`Sim`]: wallets with hidden roles and skills, markets with hidden
//! winners and a price that drifts toward the winner, and an event queue that turns them into
//! blocks one at a time.
//!
//! Streaming: the queue holds at most one pending trade per open market plus the panic sells
//! and redemptions already decided, so memory grows with markets and wallets, never with blocks.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap},
    ops::Range,
    path::Path,
};

use ethers::{types::U256, utils::keccak256};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};

use super::{
    block_hash,
    encode::{self, Fill, LogBody},
    MarketTruth, Role, SimBlock, SimConfig, SimError, SimTx, Truth, WalletTruth,
};
use crate::chain::{
    contracts::{addr, known},
    events::{collateral_for_oracle, Side},
    log::{Address, Word},
    position_id,
};

/// Token amounts move in steps of 0.01 share (10_000 micro-units), so that at a price in whole
/// cents every collateral amount is a whole number of micro-units.
const UNIT: u64 = 10_000;
/// One share in micro-units.
const SHARE: u64 = 100 * UNIT;
/// Oracle of standard markets: the oracle (a UMA CTF adapter) that resolves the real standard
/// market in tests/fixtures (ConditionResolution of tx 0x84b7…ace7).
const UMA_ADAPTER: &str = "0x65070be91477460d8a7aeeb94ef92fe056c2f2a7";
/// A price move of at least this many cents in one step is a "sharp drop" for retail holders.
const DROP_CENTS: u64 = 7;
/// Market makers merge half their complete sets once they hold this many.
const MM_MERGE_AT: u64 = 5_000 * SHARE;

/// What the queue can hold; ordered only to make the heap's tuple comparable (the sequence
/// number before it is unique).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A group of markets (one standard market, or one neg-risk market's questions) opens.
    Create(u32),
    /// A group resolves.
    Resolve(u32),
    /// A taker trades in a market.
    Trade(u32),
    /// A retail wallet dumps its position in token `t` after a drop.
    Panic { m: u32, w: u32, t: u8 },
    /// A holder of the winner redeems.
    Redeem { m: u32, w: u32 },
}

struct Addrs {
    ctf: Address,
    adapter: Address,
    usdc: Address,
    wcol: Address,
    /// `[version 1, version 2][standard, neg-risk]`.
    exchange: [[Address; 2]; 2],
    fee_receiver: Address,
    uma: Address,
    nr_operator: Address,
    /// V2 builder codes: none, or one of a few integrators that route some wallets' orders.
    builders: [Word; 5],
}

fn label_address(label: &str) -> Address {
    let h = keccak256(label.as_bytes());
    let mut a = [0u8; 20];
    a.copy_from_slice(&h[12..]);
    a
}

impl Addrs {
    fn new() -> Self {
        Addrs {
            ctf: known(addr::CTF),
            adapter: known(addr::NEGRISK_ADAPTER),
            usdc: known(addr::USDC_E),
            wcol: known(addr::NEGRISK_WRAPPED_COLLATERAL),
            exchange: [
                [known(addr::EXCHANGE_V1), known(addr::NEGRISK_EXCHANGE_V1)],
                [known(addr::EXCHANGE_V2), known(addr::NEGRISK_EXCHANGE_V2)],
            ],
            fee_receiver: label_address("orderflow-sim operator"),
            uma: known(UMA_ADAPTER),
            nr_operator: label_address("orderflow-sim neg-risk operator"),
            builders: [0u8, 1, 2, 3, 4].map(|i| {
                if i == 0 {
                    [0; 32]
                } else {
                    keccak256([b"orderflow-sim builder".as_slice(), &[i]].concat())
                }
            }),
        }
    }
}

struct Wallet {
    address: Address,
    role: Role,
    skill: f64,
    /// Which of `Addrs::builders` its V2 orders carry; 0 = none.
    builder: u8,
}

struct Group {
    markets: Range<u32>,
    neg_risk: bool,
    market_id: Word,
    data: Vec<u8>,
    created: u64,
    /// Planned resolution block; at or past the end of the run it never happens.
    resolve: u64,
}

struct Market {
    group: u32,
    q_index: u8,
    neg_risk: bool,
    question: Word,
    condition: Word,
    oracle: Address,
    collateral: Address,
    tokens: [Word; 2],
    winner: u8,
    mms: Vec<u32>,
    /// Mean blocks between trades early in the market's life.
    gap: u64,
    /// V2 taker fee rate r in fee = shares · r · p(1-p), in basis points.
    fee_bps_v2: u64,
    /// Fair price of outcome 0, in (0, 1).
    p0: f64,
    /// Block of the last price step.
    last_move: u64,
    open: bool,
    /// Wallet -> micro-units of outcome 0 and outcome 1. Dropped once redemptions are done.
    pos: BTreeMap<u32, [u64; 2]>,
    pending_redeems: u32,
}

impl Market {
    fn cents(&self, t: u8) -> u64 {
        let c0 = ((self.p0 * 100.0).round() as u64).clamp(1, 99);
        if t == 0 {
            c0
        } else {
            100 - c0
        }
    }

    fn holding(&self, w: u32) -> [u64; 2] {
        self.pos.get(&w).copied().unwrap_or_default()
    }

    fn add(&mut self, w: u32, t: u8, amount: u64) {
        self.pos.entry(w).or_default()[t as usize] += amount;
    }

    /// Positions never go below zero by construction (sellers sell what they hold); the
    /// saturation is a guard, and the tests check the invariant from the logs.
    fn sub(&mut self, w: u32, t: u8, amount: u64) {
        let h = self.pos.entry(w).or_default();
        h[t as usize] = h[t as usize].saturating_sub(amount);
    }
}

/// Counts of what the simulation has emitted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Blocks yielded.
    pub blocks: u64,
    /// Transactions (SimTx) emitted.
    pub txs: u64,
    /// Logs emitted.
    pub logs: u64,
    /// OrderFilled logs.
    pub fills: u64,
    /// OrdersMatched logs (one per match).
    pub matches: u64,
    /// Splits (CTF or through the adapter).
    pub splits: u64,
    /// Merges.
    pub merges: u64,
    /// NegRiskAdapter conversions.
    pub conversions: u64,
    /// Markets resolved.
    pub resolutions: u64,
    /// Redemptions.
    pub redemptions: u64,
    /// Panic sells by retail wallets.
    pub panic_sells: u64,
}

/// The synthetic chain: an iterator over the blocks that have transactions, in block order.
pub struct Sim {
    cfg: SimConfig,
    end: u64,
    rng: StdRng,
    a: Addrs,
    wallets: Vec<Wallet>,
    /// Non-market-maker wallets and their cumulative activity weights, for picking takers.
    takers: Vec<u32>,
    taker_cum: Vec<u64>,
    groups: Vec<Group>,
    markets: Vec<Market>,
    queue: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    seq: u64,
    stats: SimStats,
}

fn tx(emitter: Address, logs: Vec<LogBody>) -> SimTx {
    SimTx { emitter, logs }
}

fn other(t: u8) -> u8 {
    1 - t
}

impl Sim {
    /// Sets up wallets and markets (deriving every token id) and schedules market creation.
    pub fn new(cfg: SimConfig) -> Result<Sim, SimError> {
        cfg.validate()?;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let a = Addrs::new();
        let wallets = make_wallets(&cfg, &mut rng);
        let mms: Vec<u32> = (0..wallets.len() as u32)
            .filter(|&i| wallets[i as usize].role == Role::MarketMaker)
            .collect();
        let mut takers = Vec::new();
        let mut taker_cum = Vec::new();
        let mut total = 0u64;
        for (i, w) in wallets.iter().enumerate() {
            if w.role != Role::MarketMaker {
                // A few wallets do most of the trading, as on the real venue.
                total += match rng.gen_range(0..10) {
                    0 => 8,
                    1 | 2 => 3,
                    _ => 1,
                };
                takers.push(i as u32);
                taker_cum.push(total);
            }
        }
        let (groups, markets) = make_markets(&cfg, &a, &mms, &mut rng);
        let mut sim = Sim {
            end: cfg.end_block(),
            cfg,
            rng,
            a,
            wallets,
            takers,
            taker_cum,
            groups,
            markets,
            queue: BinaryHeap::new(),
            seq: 0,
            stats: SimStats::default(),
        };
        for g in 0..sim.groups.len() {
            let (created, resolve) = (sim.groups[g].created, sim.groups[g].resolve);
            sim.push(created, Ev::Create(g as u32));
            sim.push(resolve, Ev::Resolve(g as u32));
        }
        Ok(sim)
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// What has been emitted so far.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Events waiting in the queue (bounded by open markets, pending panic sells and
    /// pending redemptions; independent of the number of blocks).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The hidden state: every wallet's role and skill and every market's ids and outcome.
    pub fn truth(&self) -> Truth {
        Truth {
            config: self.cfg.clone(),
            wallets: self
                .wallets
                .iter()
                .map(|w| WalletTruth {
                    address: w.address,
                    role: w.role,
                    skill: w.skill,
                })
                .collect(),
            markets: self
                .markets
                .iter()
                .map(|m| {
                    let g = &self.groups[m.group as usize];
                    MarketTruth {
                        condition_id: m.condition,
                        question_id: m.question,
                        oracle: m.oracle,
                        collateral: m.collateral,
                        neg_risk: m.neg_risk,
                        neg_risk_market_id: m.neg_risk.then_some(g.market_id),
                        question_index: m.neg_risk.then_some(m.q_index),
                        token_ids: m.tokens.map(|t| U256::from_big_endian(&t)),
                        winning_outcome: m.winner,
                        created_block: g.created,
                        resolution_block: (g.resolve < self.end).then_some(g.resolve),
                    }
                })
                .collect(),
        }
    }

    /// Writes [`Sim::truth`] as pretty JSON.
    pub fn write_truth(&self, path: &Path) -> Result<(), SimError> {
        self.truth().write(path)
    }

    fn push(&mut self, block: u64, ev: Ev) -> bool {
        if block >= self.end {
            return false;
        }
        self.seq += 1;
        self.queue.push(Reverse((block, self.seq, ev)));
        true
    }

    fn handle(&mut self, ev: Ev, b: u64, txs: &mut Vec<SimTx>) {
        match ev {
            Ev::Create(g) => self.create(g as usize, b, txs),
            Ev::Resolve(g) => self.resolve(g as usize, b, txs),
            Ev::Trade(m) => self.trade(m as usize, b, txs),
            Ev::Panic { m, w, t } => self.panic_sell(m as usize, w, t, b, txs),
            Ev::Redeem { m, w } => self.redeem(m as usize, w, txs),
        }
    }

    fn pick_taker(&mut self) -> u32 {
        let total = self.taker_cum.last().copied().unwrap_or(1);
        let r = self.rng.gen_range(0..total);
        let i = self.taker_cum.partition_point(|&c| c <= r);
        self.takers[i.min(self.takers.len() - 1)]
    }

    /// The adapter prepares the neg-risk market, then each question: the CTF's
    /// ConditionPreparation followed by the adapter's QuestionPrepared (the order of
    /// NegRiskAdapter.prepareQuestion). Before the cutover the V1 exchange registers the tokens.
    fn create(&mut self, g: usize, b: u64, txs: &mut Vec<SimTx>) {
        let grp = &self.groups[g];
        let a = &self.a;
        if grp.neg_risk {
            txs.push(tx(
                a.adapter,
                vec![encode::nr_market_prepared(
                    &grp.market_id,
                    &a.nr_operator,
                    0,
                    &grp.data,
                )],
            ));
        }
        for m in grp.markets.clone() {
            let mk = &self.markets[m as usize];
            txs.push(tx(
                a.ctf,
                vec![encode::condition_preparation(
                    &mk.condition,
                    &mk.oracle,
                    &mk.question,
                    2,
                )],
            ));
            if mk.neg_risk {
                let data = format!("{{\"sim\":{},\"question\":{m}}}", self.cfg.seed);
                txs.push(tx(
                    a.adapter,
                    vec![encode::nr_question_prepared(
                        &grp.market_id,
                        &mk.question,
                        u64::from(mk.q_index),
                        data.as_bytes(),
                    )],
                ));
            }
        }
        if b < self.cfg.cutover_block {
            for m in grp.markets.clone() {
                let mk = &self.markets[m as usize];
                let [t0, t1] = &mk.tokens;
                txs.push(tx(
                    a.exchange[0][usize::from(mk.neg_risk)],
                    vec![
                        encode::token_registered(t0, t1, &mk.condition),
                        encode::token_registered(t1, t0, &mk.condition),
                    ],
                ));
            }
        }
        let resolve = grp.resolve;
        for m in grp.markets.clone() {
            self.markets[m as usize].open = true;
            let gap = self.markets[m as usize].gap;
            let first = b.saturating_add(self.rng.gen_range(1..=2 * gap));
            if first < resolve {
                self.push(first, Ev::Trade(m));
            }
        }
    }

    /// Per question: the CTF's ConditionResolution, then (neg-risk) the adapter's
    /// OutcomeReported, the order of NegRiskAdapter.reportOutcome. Holders of the winner then
    /// redeem over the next few hundred blocks.
    fn resolve(&mut self, g: usize, b: u64, txs: &mut Vec<SimTx>) {
        let market_id = self.groups[g].market_id;
        for m in self.groups[g].markets.clone() {
            let m = m as usize;
            let mk = &mut self.markets[m];
            mk.open = false;
            let payouts = if mk.winner == 0 { [1, 0] } else { [0, 1] };
            txs.push(tx(
                self.a.ctf,
                vec![encode::condition_resolution(
                    &mk.condition,
                    &mk.oracle,
                    &mk.question,
                    &payouts,
                )],
            ));
            if mk.neg_risk {
                txs.push(tx(
                    self.a.adapter,
                    vec![encode::nr_outcome_reported(
                        &market_id,
                        &mk.question,
                        mk.winner == 0,
                    )],
                ));
            }
            self.stats.resolutions += 1;
            let winner = mk.winner as usize;
            let holders: Vec<u32> = mk
                .pos
                .iter()
                .filter(|(_, h)| h[winner] > 0)
                .map(|(w, _)| *w)
                .collect();
            let mut pending = 0;
            for w in holders {
                if self.rng.gen_bool(0.9) {
                    let at = b.saturating_add(self.rng.gen_range(1..=400));
                    if self.push(at, Ev::Redeem { m: m as u32, w }) {
                        pending += 1;
                    }
                }
            }
            let mk = &mut self.markets[m];
            mk.pending_redeems = pending;
            if pending == 0 {
                mk.pos = BTreeMap::new();
            }
        }
    }

    fn redeem(&mut self, m: usize, w: u32, txs: &mut Vec<SimTx>) {
        let a = &self.a;
        let mk = &mut self.markets[m];
        let h = mk.pos.remove(&w).unwrap_or_default();
        let payout = h[mk.winner as usize];
        if payout > 0 {
            let redeemer = self.wallets[w as usize].address;
            if mk.neg_risk {
                // NegRiskAdapter.redeemPositions: the CTF pays the adapter, the adapter the user.
                txs.push(tx(
                    a.ctf,
                    vec![encode::ctf_payout_redemption(
                        &a.adapter,
                        &a.wcol,
                        &mk.condition,
                        payout,
                    )],
                ));
                txs.push(tx(
                    a.adapter,
                    vec![encode::nr_payout_redemption(
                        &redeemer,
                        &mk.condition,
                        h,
                        payout,
                    )],
                ));
            } else {
                txs.push(tx(
                    a.ctf,
                    vec![encode::ctf_payout_redemption(
                        &redeemer,
                        &a.usdc,
                        &mk.condition,
                        payout,
                    )],
                ));
            }
            self.stats.redemptions += 1;
        }
        mk.pending_redeems = mk.pending_redeems.saturating_sub(1);
        if mk.pending_redeems == 0 {
            mk.pos = BTreeMap::new();
        }
    }

    /// Split `amount` of collateral into both outcomes for `w` (neg-risk: through the adapter,
    /// whose CTF split has the adapter as stakeholder and WrappedCollateral as collateral).
    fn split(&mut self, m: usize, w: u32, amount: u64, txs: &mut Vec<SimTx>) {
        let a = &self.a;
        let mk = &mut self.markets[m];
        let who = self.wallets[w as usize].address;
        if mk.neg_risk {
            txs.push(tx(
                a.ctf,
                vec![encode::ctf_position_split(
                    &a.adapter,
                    &a.wcol,
                    &mk.condition,
                    amount,
                )],
            ));
            txs.push(tx(
                a.adapter,
                vec![encode::nr_position_split(&who, &mk.condition, amount)],
            ));
        } else {
            txs.push(tx(
                a.ctf,
                vec![encode::ctf_position_split(
                    &who,
                    &a.usdc,
                    &mk.condition,
                    amount,
                )],
            ));
        }
        mk.add(w, 0, amount);
        mk.add(w, 1, amount);
        self.stats.splits += 1;
    }

    fn merge(&mut self, m: usize, w: u32, amount: u64, txs: &mut Vec<SimTx>) {
        let a = &self.a;
        let mk = &mut self.markets[m];
        let who = self.wallets[w as usize].address;
        if mk.neg_risk {
            txs.push(tx(
                a.ctf,
                vec![encode::ctf_positions_merge(
                    &a.adapter,
                    &a.wcol,
                    &mk.condition,
                    amount,
                )],
            ));
            txs.push(tx(
                a.adapter,
                vec![encode::nr_positions_merge(&who, &mk.condition, amount)],
            ));
        } else {
            txs.push(tx(
                a.ctf,
                vec![encode::ctf_positions_merge(
                    &who,
                    &a.usdc,
                    &mk.condition,
                    amount,
                )],
            ));
        }
        mk.sub(w, 0, amount);
        mk.sub(w, 1, amount);
        self.stats.merges += 1;
    }

    /// A holder of NO in one question of a neg-risk market converts it into YES of every other
    /// question (NegRiskAdapter.convertPositions with a one-question index set, which pays no
    /// collateral): the adapter splits each other question on the CTF, then reports.
    fn convert(&mut self, m: usize, txs: &mut Vec<SimTx>) {
        let g = self.markets[m].group as usize;
        let group = self.groups[g].markets.clone();
        let candidates: Vec<(u32, u64)> = self.markets[m]
            .pos
            .iter()
            .filter(|(w, h)| h[1] >= SHARE && self.wallets[**w as usize].role != Role::MarketMaker)
            .map(|(w, h)| (*w, h[1]))
            .collect();
        let Some(&(w, amount)) = candidates.choose(&mut self.rng) else {
            return;
        };
        let a = &self.a;
        let splits = group
            .clone()
            .filter(|&j| j as usize != m)
            .map(|j| {
                encode::ctf_position_split(
                    &a.adapter,
                    &a.wcol,
                    &self.markets[j as usize].condition,
                    amount,
                )
            })
            .collect();
        txs.push(tx(a.ctf, splits));
        let q_index = self.markets[m].q_index;
        txs.push(tx(
            a.adapter,
            vec![encode::nr_positions_converted(
                &self.wallets[w as usize].address,
                &self.groups[g].market_id,
                1u64 << q_index,
                amount,
            )],
        ));
        self.markets[m].sub(w, 1, amount);
        for j in group.filter(|&j| j as usize != m) {
            self.markets[j as usize].add(w, 0, amount);
        }
        self.stats.conversions += 1;
    }

    /// The fair price since the last step `dt` blocks ago: noise with variance proportional
    /// to `dt`, a pull toward the winner that grows as resolution nears (strong enough to end
    /// near 0.01 or 0.99), and about six news jumps over a market's life, more often toward the
    /// winner late. A sharp drop sends the retail holders of the falling token into a panic.
    /// Rates are relative to the market's lifetime, so short and long runs look alike.
    /// Returns the market's progress in [0, 1].
    fn move_price(&mut self, m: usize, b: u64) -> f64 {
        let g = &self.groups[self.markets[m].group as usize];
        let (created, resolve) = (g.created, g.resolve);
        let life = (resolve - created).max(1) as f64;
        let f = ((b - created) as f64 / life).min(1.0);
        let rng = &mut self.rng;
        let mk = &mut self.markets[m];
        let dt = (b - mk.last_move).max(1) as f64;
        mk.last_move = b;
        let target = if mk.winner == 0 { 0.99 } else { 0.01 };
        let before = mk.cents(0);
        // Sum of two uniforms: triangular, sd = 0.41 * the factor; sqrt is exact in IEEE 754.
        let noise = (rng.gen::<f64>() + rng.gen::<f64>() - 1.0) * 0.005 * dt.sqrt();
        let pull = (9.0 * f * f * dt / life).min(1.0);
        mk.p0 += (target - mk.p0) * pull + noise;
        if rng.gen_bool((6.0 * dt / life).min(0.5)) {
            let size = rng.gen_range(0.08..0.2);
            let toward = rng.gen_bool(0.5 + 0.3 * f);
            let up = (target > mk.p0) == toward;
            mk.p0 += if up { size } else { -size };
        }
        mk.p0 = mk.p0.clamp(0.02, 0.98);
        let after = mk.cents(0);
        if after + DROP_CENTS <= before {
            self.schedule_panic(m, 0, b);
        } else if after >= before + DROP_CENTS {
            self.schedule_panic(m, 1, b);
        }
        f
    }

    fn schedule_panic(&mut self, m: usize, t: u8, b: u64) {
        let mk = &self.markets[m];
        let resolve = self.groups[mk.group as usize].resolve;
        let mut holders: Vec<u32> = mk
            .pos
            .iter()
            .filter(|(w, h)| {
                h[t as usize] >= SHARE && self.wallets[**w as usize].role == Role::Retail
            })
            .map(|(w, _)| *w)
            .collect();
        let k = self.rng.gen_range(3..=6).min(holders.len());
        let (chosen, _) = holders.partial_shuffle(&mut self.rng, k);
        let chosen = chosen.to_vec();
        for w in chosen {
            let at = b.saturating_add(self.rng.gen_range(1..=4));
            if at < resolve {
                self.push(at, Ev::Panic { m: m as u32, w, t });
            }
        }
    }

    fn trade(&mut self, m: usize, b: u64, txs: &mut Vec<SimTx>) {
        if !self.markets[m].open {
            return;
        }
        let f = self.move_price(m, b);
        let group_size = self.groups[self.markets[m].group as usize].markets.len();
        if self.markets[m].neg_risk && group_size >= 2 && self.rng.gen_bool(0.03) {
            self.convert(m, txs);
        }
        let w = self.pick_taker();
        let h = self.markets[m].holding(w);
        let both = h[0].min(h[1]);
        if both >= SHARE && self.rng.gen_bool(0.15) {
            self.merge(m, w, both, txs);
        }
        let h = self.markets[m].holding(w);
        let (role, skill) = {
            let wl = &self.wallets[w as usize];
            (wl.role, wl.skill)
        };
        let sell_p = match role {
            Role::Retail => 0.2,
            Role::Noise => 0.35,
            Role::Skilled => 0.3,
            Role::MarketMaker => 0.0,
        };
        if h[0].max(h[1]) >= UNIT && self.rng.gen_bool(sell_p) {
            let t = if h[0] >= h[1] { 0 } else { 1 };
            let units = (h[t as usize] / UNIT * self.rng.gen_range(30..=100) / 100).max(1);
            let base = self.markets[m].cents(t).saturating_sub(1).max(1);
            self.execute_match(m, b, w, Side::Sell, t, units, base, txs);
        } else {
            let t = self.pick_outcome(m, skill);
            let units = match role {
                Role::Retail => self.rng.gen_range(500..=20_000),
                Role::Noise => self.rng.gen_range(1_000..=50_000),
                _ => self.rng.gen_range(5_000..=200_000),
            };
            let base = (self.markets[m].cents(t) + 1).min(99);
            self.execute_match(m, b, w, Side::Buy, t, units, base, txs);
        }
        // Trading picks up as resolution nears.
        let gap = ((self.markets[m].gap as f64 * (1.0 - 0.5 * f)) as u64).max(1);
        let next = b.saturating_add(self.rng.gen_range(1..=2 * gap));
        if next < self.groups[self.markets[m].group as usize].resolve {
            self.push(next, Ev::Trade(m as u32));
        }
    }

    /// The outcome a buyer with `skill` wants: the winner with probability `skill`; in a
    /// no-skill world outcome 0 with the probability its price says, whoever buys.
    fn pick_outcome(&mut self, m: usize, skill: f64) -> u8 {
        let mk = &self.markets[m];
        if self.cfg.no_skill {
            let p0 = mk.cents(0) as f64 / 100.0;
            return if self.rng.gen_bool(p0) { 0 } else { 1 };
        }
        let winner = mk.winner;
        if self.rng.gen_bool(skill) {
            winner
        } else {
            other(winner)
        }
    }

    fn panic_sell(&mut self, m: usize, w: u32, t: u8, b: u64, txs: &mut Vec<SimTx>) {
        if !self.markets[m].open {
            return;
        }
        let units = self.markets[m].holding(w)[t as usize] / UNIT;
        if units == 0 {
            return;
        }
        let base = self.markets[m]
            .cents(t)
            .saturating_sub(1 + self.rng.gen_range(1..=3))
            .max(1);
        self.execute_match(m, b, w, Side::Sell, t, units, base, txs);
        self.stats.panic_sells += 1;
        let mk = &mut self.markets[m];
        mk.p0 = (mk.p0 + if t == 0 { -0.01 } else { 0.01 }).clamp(0.02, 0.98);
    }

    /// One match: taker `w` takes `units` (0.01 shares) of token `t` from 1-4 maker orders
    /// starting at `base` cents and walking the book a tick at a time. Emitted as the exchange
    /// does: each maker's OrderFilled (taker = `w`), the taker's own OrderFilled (taker = the
    /// exchange), OrdersMatched; a FeeCharged right before the fill it charges.
    #[allow(clippy::too_many_arguments)]
    fn execute_match(
        &mut self,
        m: usize,
        b: u64,
        w: u32,
        side: Side,
        t: u8,
        units: u64,
        base: u64,
        txs: &mut Vec<SimTx>,
    ) {
        let v2 = b >= self.cfg.cutover_block;
        let neg_risk = self.markets[m].neg_risk;
        let exchange = self.a.exchange[usize::from(v2)][usize::from(neg_risk)];
        let token = self.markets[m].tokens[t as usize];
        let n = [1u64, 1, 1, 1, 2, 2, 3, 4][self.rng.gen_range(0..8)].min(units);
        let weights: Vec<u64> = (0..n).map(|_| self.rng.gen_range(1..=10)).collect();
        let wsum: u64 = weights.iter().sum();
        let rest = units - n;
        let mut slices: Vec<u64> = weights.iter().map(|x| 1 + rest * x / wsum).collect();
        let assigned: u64 = slices.iter().sum();
        if let Some(last) = slices.last_mut() {
            *last += units - assigned;
        }
        let maker_side = match side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        let taker_addr = self.wallets[w as usize].address;
        let mut logs = Vec::with_capacity(n as usize + 3);
        let (mut sum_tokens, mut sum_coll) = (0u64, 0u64);
        let mut level = 0u64;
        let mut mm_used: Vec<u32> = Vec::new();
        for (j, &slice) in slices.iter().enumerate() {
            if j > 0 && self.rng.gen_bool(0.3) {
                level += 1;
            }
            let cents = match side {
                Side::Buy => (base + level).min(99),
                Side::Sell => base.saturating_sub(level).max(1),
            };
            let tokens = slice * UNIT;
            let coll = slice * 100 * cents;
            // Most liquidity comes from market makers; now and then another trader's resting
            // order, on its own terms (a resting buy follows its owner's skill).
            let mut maker = None;
            if self.rng.gen_bool(0.15) {
                let c = self.pick_taker();
                let ok = c != w
                    && match maker_side {
                        Side::Sell => self.markets[m].holding(c)[t as usize] >= tokens,
                        Side::Buy => {
                            let skill = self.wallets[c as usize].skill;
                            self.pick_outcome(m, skill) == t
                        }
                    };
                if ok {
                    maker = Some(c);
                }
            }
            let maker = match maker {
                Some(c) => c,
                None => {
                    let mms = &self.markets[m].mms;
                    let mm = mms[self.rng.gen_range(0..mms.len())];
                    if !mm_used.contains(&mm) {
                        mm_used.push(mm);
                    }
                    mm
                }
            };
            match maker_side {
                Side::Sell => {
                    let have = self.markets[m].holding(maker)[t as usize];
                    if have < tokens {
                        let top_up = (tokens - have).max(self.rng.gen_range(200..=2_000) * SHARE);
                        self.split(m, maker, top_up, txs);
                    }
                    self.markets[m].sub(maker, t, tokens);
                }
                Side::Buy => self.markets[m].add(maker, t, tokens),
            }
            let (making, taking) = match maker_side {
                Side::Sell => (tokens, coll),
                Side::Buy => (coll, tokens),
            };
            let fill = Fill {
                order_hash: self.rng.gen(),
                maker: self.wallets[maker as usize].address,
                taker: taker_addr,
                side: maker_side,
                token,
                making,
                taking,
                fee: 0,
            };
            logs.push(if v2 {
                encode::order_filled_v2(
                    &fill,
                    &self.a.builders[usize::from(self.wallets[maker as usize].builder)],
                    &[0; 32],
                )
            } else {
                encode::order_filled_v1(&fill)
            });
            sum_tokens += tokens;
            sum_coll += coll;
        }
        // Fees, small and in whole micro-units. V1: in what the taker receives, by the
        // exchange's formula feeRate · min(p, 1-p) · tokens (/ p on a BUY), rounded down to
        // whole 0.01 shares on a BUY so positions stay on the grid. V2: r · p(1-p) · tokens in
        // collateral.
        let (tk, cl) = (u128::from(sum_tokens), u128::from(sum_coll));
        let fee = if v2 {
            let r = u128::from(self.markets[m].fee_bps_v2);
            (r * cl * (tk - cl) / (tk * 10_000)) as u64
        } else if self.rng.gen_bool(0.25) {
            let bps = 100u128;
            match side {
                Side::Buy => {
                    let raw = (bps * cl.min(tk - cl) * tk / (cl * 10_000)) as u64;
                    raw / UNIT * UNIT
                }
                Side::Sell => (bps * cl.min(tk - cl) / 10_000) as u64,
            }
        } else {
            0
        };
        let (making, taking) = match side {
            Side::Buy => (sum_coll, sum_tokens),
            Side::Sell => (sum_tokens, sum_coll),
        };
        let taker_fill = Fill {
            order_hash: self.rng.gen(),
            maker: taker_addr,
            taker: exchange,
            side,
            token,
            making,
            taking,
            fee,
        };
        if fee > 0 {
            logs.push(if v2 {
                encode::fee_charged_v2(&self.a.fee_receiver, fee)
            } else {
                let asset = if side == Side::Buy { token } else { [0; 32] };
                encode::fee_charged_v1(&self.a.fee_receiver, &asset, fee)
            });
        }
        if v2 {
            logs.push(encode::order_filled_v2(
                &taker_fill,
                &self.a.builders[usize::from(self.wallets[w as usize].builder)],
                &[0; 32],
            ));
            logs.push(encode::orders_matched(2, &taker_fill));
        } else {
            logs.push(encode::order_filled_v1(&taker_fill));
            logs.push(encode::orders_matched(1, &taker_fill));
        }
        txs.push(tx(exchange, logs));
        self.stats.fills += n + 1;
        self.stats.matches += 1;
        match side {
            Side::Buy => {
                let received = if v2 { sum_tokens } else { sum_tokens - fee };
                self.markets[m].add(w, t, received);
            }
            Side::Sell => self.markets[m].sub(w, t, sum_tokens),
        }
        // Market makers turn complete sets back into collateral once they pile up.
        for mm in mm_used {
            let h = self.markets[m].holding(mm);
            let both = h[0].min(h[1]);
            if both >= MM_MERGE_AT {
                self.merge(m, mm, both / 2 / UNIT * UNIT, txs);
            }
        }
    }
}

impl Iterator for Sim {
    type Item = SimBlock;

    fn next(&mut self) -> Option<SimBlock> {
        loop {
            let &Reverse((b, _, _)) = self.queue.peek()?;
            let mut txs = Vec::new();
            while let Some(&Reverse((nb, _, ev))) = self.queue.peek() {
                if nb != b {
                    break;
                }
                self.queue.pop();
                self.handle(ev, b, &mut txs);
            }
            if txs.is_empty() {
                continue;
            }
            self.stats.blocks += 1;
            self.stats.txs += txs.len() as u64;
            self.stats.logs += txs.iter().map(|t| t.logs.len() as u64).sum::<u64>();
            return Some(SimBlock {
                number: b,
                timestamp: self.cfg.start_time + (b - self.cfg.start_block) * self.cfg.block_secs,
                hash: block_hash(b, self.cfg.seed),
                txs,
            });
        }
    }
}

fn make_wallets(cfg: &SimConfig, rng: &mut StdRng) -> Vec<Wallet> {
    let n = cfg.wallets;
    let mm = (n / 50).max(2);
    let skilled = (n * 15 / 100).max(2);
    let retail = (n * 40 / 100).max(3);
    let noise = n - mm - skilled - retail;
    let mut roles: Vec<Role> = std::iter::repeat(Role::MarketMaker)
        .take(mm)
        .chain(std::iter::repeat(Role::Skilled).take(skilled))
        .chain(std::iter::repeat(Role::Retail).take(retail))
        .chain(std::iter::repeat(Role::Noise).take(noise))
        .collect();
    roles.shuffle(rng);
    roles
        .into_iter()
        .enumerate()
        .map(|(i, role)| {
            let mut seed_bytes = b"orderflow-sim wallet".to_vec();
            seed_bytes.extend_from_slice(&cfg.seed.to_be_bytes());
            seed_bytes.extend_from_slice(&(i as u64).to_be_bytes());
            let h = keccak256(seed_bytes);
            let mut address = [0u8; 20];
            address.copy_from_slice(&h[12..]);
            let milli = match role {
                Role::MarketMaker => 500,
                Role::Skilled => rng.gen_range(650..=900),
                Role::Noise => rng.gen_range(450..=550),
                Role::Retail => rng.gen_range(200..=450),
            };
            let builder = if role != Role::MarketMaker && rng.gen_bool(0.1) {
                rng.gen_range(1..=4)
            } else {
                0
            };
            Wallet {
                address,
                role,
                skill: f64::from(milli) / 1000.0,
                builder,
            }
        })
        .collect()
}

fn make_markets(
    cfg: &SimConfig,
    a: &Addrs,
    mms: &[u32],
    rng: &mut StdRng,
) -> (Vec<Group>, Vec<Market>) {
    // Group the markets: standard ones alone, neg-risk questions in sets of 1-4. The first
    // group is standard and the second neg-risk, so every run with 2+ markets has both.
    let mut shapes: Vec<(bool, u32)> = Vec::new();
    let mut i = 0usize;
    while i < cfg.markets {
        let neg = match shapes.len() {
            0 => false,
            1 => true,
            _ => rng.gen_bool(0.35),
        };
        let size = if neg {
            rng.gen_range(1..=4usize).min(cfg.markets - i)
        } else {
            1
        };
        shapes.push((neg, size as u32));
        i += size;
    }
    // Creation spread evenly over the first three quarters of the run (so both sides of a
    // mid-run cutover get new markets), lifetimes of 15-60% of the run: most resolve inside.
    let t = u128::from(cfg.blocks);
    let n_groups = shapes.len() as u128;
    let window = (t * 3 / 4).max(1);
    let step = window / n_groups;
    let (lo, hi) = ((t * 15 / 100).max(2), (t * 60 / 100).max(3));
    let mut groups = Vec::with_capacity(shapes.len());
    let mut markets = Vec::with_capacity(cfg.markets);
    for (k, &(neg_risk, size)) in shapes.iter().enumerate() {
        let k = k as u128;
        let jitter = if k == 0 || step < 2 {
            0
        } else {
            rng.gen_range(0..step / 2 + 1)
        };
        let created_off = (window * k / n_groups + jitter).min(t - 1);
        let duration = rng.gen_range(lo..=hi.max(lo));
        let created = cfg.start_block + created_off as u64;
        let resolve = cfg
            .start_block
            .saturating_add(u64::try_from(created_off + duration).unwrap_or(u64::MAX));
        let first = markets.len() as u32;
        let g = groups.len() as u32;
        let data = format!("{{\"sim\":{},\"event\":{g}}}", cfg.seed).into_bytes();
        let market_id = if neg_risk {
            encode::nr_market_id(&a.nr_operator, &data)
        } else {
            [0; 32]
        };
        let winning_question = rng.gen_range(0..size);
        for q in 0..size {
            let m = first + q;
            let (oracle, question) = if neg_risk {
                (a.adapter, encode::nr_question_id(&market_id, q as u8))
            } else {
                let mut b = b"orderflow-sim question".to_vec();
                b.extend_from_slice(&cfg.seed.to_be_bytes());
                b.extend_from_slice(&u64::from(m).to_be_bytes());
                (a.uma, keccak256(b))
            };
            let condition = position_id::condition_id(&oracle, &question, 2);
            let (collateral, _) = collateral_for_oracle(&oracle);
            let tokens = [0, 1].map(|o| position_id::token_id(&collateral, &condition, o));
            let winner = if neg_risk {
                u8::from(q != winning_question)
            } else {
                rng.gen_range(0..2)
            };
            let k = rng.gen_range(2..=3).min(mms.len());
            let mut chosen: Vec<u32> = Vec::with_capacity(k);
            while chosen.len() < k {
                let mm = mms[rng.gen_range(0..mms.len())];
                if !chosen.contains(&mm) {
                    chosen.push(mm);
                }
            }
            markets.push(Market {
                group: g,
                q_index: q as u8,
                neg_risk,
                question,
                condition,
                oracle,
                collateral,
                tokens,
                winner,
                mms: chosen,
                gap: [3u64, 5, 8, 12, 20][rng.gen_range(0..5)],
                fee_bps_v2: [0u64, 0, 100, 200][rng.gen_range(0..4)],
                p0: 0.5 + (rng.gen::<f64>() - 0.5) * 0.1,
                last_move: created,
                open: false,
                pos: BTreeMap::new(),
                pending_redeems: 0,
            });
        }
        groups.push(Group {
            markets: first..first + size,
            neg_risk,
            market_id,
            data,
            created,
            resolve,
        });
    }
    (groups, markets)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::chain::{decode, events::OrderFilled, Contracts, Event, RawLog};

    fn small(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            markets: 24,
            wallets: 200,
            blocks: 6_000,
            start_block: 1_000_000,
            cutover_block: 1_003_000,
            ..SimConfig::default()
        }
    }

    struct Run {
        cfg: SimConfig,
        logs: Vec<RawLog>,
        events: Vec<Event>,
        truth: Truth,
    }

    fn run(cfg: SimConfig) -> Run {
        let sim = Sim::new(cfg.clone()).expect("valid config");
        let truth = sim.truth();
        let logs: Vec<RawLog> = sim.flat_map(SimBlock::into_raw_logs).collect();
        let c = Contracts::default();
        let events = logs
            .iter()
            .map(|l| match decode(l, &c) {
                Ok(Some(e)) => e,
                other => panic!(
                    "log {} #{} decodes to {other:?}",
                    l.block_number, l.log_index
                ),
            })
            .collect();
        Run {
            cfg,
            logs,
            events,
            truth,
        }
    }

    fn jsonl(cfg: SimConfig) -> Vec<u8> {
        let mut out = Vec::new();
        for b in Sim::new(cfg).expect("valid config") {
            for l in b.to_raw_logs() {
                out.extend_from_slice(l.to_json().as_bytes());
                out.push(b'\n');
            }
        }
        out
    }

    /// token id -> (market index, outcome index)
    fn token_map(t: &Truth) -> HashMap<U256, (usize, u8)> {
        let mut map = HashMap::new();
        for (i, m) in t.markets.iter().enumerate() {
            for o in 0..2u8 {
                map.insert(m.token_ids[o as usize], (i, o));
            }
        }
        map
    }

    fn price(f: &OrderFilled) -> f64 {
        let (coll, tokens) = match f.side {
            Side::Buy => (f.maker_amount, f.taker_amount),
            Side::Sell => (f.taker_amount, f.maker_amount),
        };
        coll as f64 / tokens as f64
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = jsonl(small(3));
        assert!(a.len() > 100_000, "only {} bytes", a.len());
        assert_eq!(a, jsonl(small(3)));
        assert_ne!(a, jsonl(small(4)));
        let t = |s| {
            Sim::new(small(s))
                .unwrap()
                .truth()
                .to_json_pretty()
                .unwrap()
        };
        assert_eq!(t(3), t(3));
        assert_ne!(t(3), t(4));
    }

    #[test]
    fn every_log_decodes_and_blocks_are_well_formed() {
        let r = run(small(1));
        assert!(r.logs.len() > 10_000, "only {} logs", r.logs.len());
        let mut last_block = 0;
        let mut next_index = 0;
        for l in &r.logs {
            assert!(l.block_number >= r.cfg.start_block && l.block_number < r.cfg.end_block());
            if l.block_number != last_block {
                assert!(l.block_number > last_block, "blocks out of order");
                assert_eq!(l.log_index, 0);
                last_block = l.block_number;
                next_index = 0;
            }
            assert_eq!(l.log_index, next_index);
            next_index += 1;
            assert_eq!(
                l.block_timestamp,
                Some(r.cfg.start_time + (l.block_number - r.cfg.start_block) * r.cfg.block_secs)
            );
            assert_eq!(l.block_hash, Some(block_hash(l.block_number, r.cfg.seed)));
        }
        // Truth agrees with what the chain says about creation and resolution.
        let mut prepared = HashMap::new();
        let mut resolved = HashMap::new();
        for (l, e) in r.logs.iter().zip(&r.events) {
            match e {
                Event::ConditionPreparation { condition_id, .. } => {
                    prepared.insert(*condition_id, l.block_number);
                }
                Event::ConditionResolution {
                    condition_id,
                    payout_numerators,
                    ..
                } => {
                    resolved.insert(*condition_id, (l.block_number, payout_numerators.clone()));
                }
                _ => {}
            }
        }
        assert_eq!(prepared.len(), r.truth.markets.len());
        for m in &r.truth.markets {
            assert_eq!(prepared[&m.condition_id], m.created_block);
            match m.resolution_block {
                Some(b) => {
                    let (at, payouts) = &resolved[&m.condition_id];
                    assert_eq!(*at, b);
                    let mut want = vec![U256::zero(), U256::zero()];
                    want[m.winning_outcome as usize] = U256::one();
                    assert_eq!(payouts, &want);
                }
                None => assert!(!resolved.contains_key(&m.condition_id)),
            }
        }
        let n_resolved = r
            .truth
            .markets
            .iter()
            .filter(|m| m.resolution_block.is_some());
        assert!(
            n_resolved.count() * 2 > r.truth.markets.len(),
            "most markets resolve"
        );
    }

    #[test]
    fn matches_are_maker_fills_then_taker_fill_then_orders_matched() {
        let r = run(small(2));
        let c = Contracts::default();
        let mut i = 0;
        let (mut matches, mut fees, mut multi) = (0, 0, 0);
        while i < r.logs.len() {
            let tx = r.logs[i].tx_hash;
            let mut j = i;
            while j < r.logs.len() && r.logs[j].tx_hash == tx {
                assert_eq!(r.logs[j].address, r.logs[i].address, "one emitter per tx");
                j += 1;
            }
            let exchange = r.logs[i].address;
            let evs = &r.events[i..j];
            if c.is_exchange(&exchange) && !matches!(evs[0], Event::TokenRegistered { .. }) {
                let Some(Event::OrdersMatched(om)) = evs.last() else {
                    panic!("match tx does not end with OrdersMatched: {evs:?}")
                };
                let mut fills = Vec::new();
                let mut fee_due = None;
                for e in &evs[..evs.len() - 1] {
                    match e {
                        Event::FeeCharged { amount, .. } => {
                            assert!(fee_due.is_none());
                            fee_due = Some(*amount);
                            fees += 1;
                        }
                        Event::OrderFilled(f) => {
                            assert_eq!(
                                fee_due.take().unwrap_or(0),
                                f.fee,
                                "FeeCharged before its fill"
                            );
                            fills.push(f.clone());
                        }
                        other => panic!("unexpected {other:?} in a match"),
                    }
                }
                assert!(fee_due.is_none());
                let (taker, makers) = fills.split_last().expect("fills");
                assert!(!makers.is_empty());
                multi += usize::from(makers.len() > 1);
                assert_eq!(taker.taker, exchange, "taker fill's taker is the exchange");
                let version = if r.logs[i].block_number < r.cfg.cutover_block {
                    1
                } else {
                    2
                };
                assert_eq!(taker.version, version);
                let (mut making, mut taking) = (0, 0);
                for f in makers {
                    assert_eq!(f.taker, taker.maker);
                    assert_ne!(f.maker, taker.maker);
                    assert_ne!(f.side, taker.side);
                    assert_eq!(f.token_id, taker.token_id);
                    assert_eq!(f.version, version);
                    // Whole-cent price: collateral = tokens · cents / 100.
                    let (coll, tokens) = match f.side {
                        Side::Buy => (f.maker_amount, f.taker_amount),
                        Side::Sell => (f.taker_amount, f.maker_amount),
                    };
                    assert_eq!(coll * 100 % tokens, 0, "{f:?}");
                    assert!((1..=99).contains(&(coll * 100 / tokens)), "{f:?}");
                    making += f.maker_amount;
                    taking += f.taker_amount;
                }
                assert_eq!((taker.maker_amount, taker.taker_amount), (taking, making));
                assert_eq!(
                    (
                        om.taker_order_maker,
                        om.side,
                        om.token_id,
                        om.maker_amount,
                        om.taker_amount
                    ),
                    (
                        taker.maker,
                        taker.side,
                        taker.token_id,
                        taker.maker_amount,
                        taker.taker_amount
                    )
                );
                assert_eq!(om.taker_order_hash, taker.order_hash);
                // Fees stay small: under 2% of the notional.
                let notional = match taker.side {
                    Side::Buy => taker.maker_amount,
                    Side::Sell => taker.taker_amount,
                };
                assert!(
                    taker.fee * 50 < notional.max(taker.taker_amount),
                    "{taker:?}"
                );
                matches += 1;
            } else {
                assert!(evs
                    .iter()
                    .all(|e| !matches!(e, Event::OrderFilled(_) | Event::OrdersMatched(_))));
            }
            i = j;
        }
        assert!(matches > 1_000, "{matches} matches");
        println!("{matches} matches, {fees} fees, {multi} multi-maker");
        assert!(
            fees > 10 && multi > 100,
            "{fees} fees, {multi} multi-maker matches"
        );
    }

    #[test]
    fn traded_tokens_are_prepared_markets_tokens_on_the_right_exchange() {
        use crate::chain::{contracts::ContractKind, events::collateral_for_oracle};
        let r = run(small(5));
        let c = Contracts::default();
        let mut tokens: HashMap<U256, bool> = HashMap::new();
        let mut neg_risk_markets = HashSet::new();
        let mut question_prepared = HashSet::new();
        let mut seen = HashSet::new();
        for (l, e) in r.logs.iter().zip(&r.events) {
            match e {
                Event::NegRiskMarketPrepared { market_id, .. } => {
                    neg_risk_markets.insert(*market_id);
                }
                Event::ConditionPreparation {
                    condition_id,
                    oracle,
                    ..
                } => {
                    let (collateral, neg) = collateral_for_oracle(oracle);
                    for o in 0..2 {
                        let id = position_id::token_id(&collateral, condition_id, o);
                        tokens.insert(U256::from_big_endian(&id), neg);
                    }
                }
                Event::NegRiskQuestionPrepared {
                    market_id,
                    question_id,
                    ..
                } => {
                    assert!(neg_risk_markets.contains(market_id), "MarketPrepared first");
                    let cond =
                        position_id::condition_id(&known(addr::NEGRISK_ADAPTER), question_id, 2);
                    let t0 =
                        position_id::token_id(&known(addr::NEGRISK_WRAPPED_COLLATERAL), &cond, 0);
                    assert!(
                        tokens.contains_key(&U256::from_big_endian(&t0)),
                        "ConditionPreparation before QuestionPrepared"
                    );
                    question_prepared.insert(*question_id);
                }
                Event::TokenRegistered { token0, .. } => {
                    assert!(tokens.contains_key(token0));
                    assert!(
                        l.block_number < r.cfg.cutover_block,
                        "no TokenRegistered in V2"
                    );
                }
                Event::OrderFilled(f) => {
                    let neg = *tokens
                        .get(&f.token_id)
                        .unwrap_or_else(|| panic!("fill of unprepared token {}", f.token_id));
                    let kind = c.kind(&l.address).expect("an exchange");
                    let want = match (l.block_number < r.cfg.cutover_block, neg) {
                        (true, false) => ContractKind::ExchangeV1,
                        (true, true) => ContractKind::NegRiskExchangeV1,
                        (false, false) => ContractKind::ExchangeV2,
                        (false, true) => ContractKind::NegRiskExchangeV2,
                    };
                    assert_eq!(kind, want);
                    seen.insert((f.version, neg));
                }
                _ => {}
            }
        }
        let derived: HashSet<U256> = tokens.keys().copied().collect();
        let truth: HashSet<U256> = r.truth.markets.iter().flat_map(|m| m.token_ids).collect();
        assert_eq!(derived, truth);
        assert_eq!(
            question_prepared.len(),
            r.truth.markets.iter().filter(|m| m.neg_risk).count()
        );
        for want in [(1, false), (1, true), (2, false), (2, true)] {
            assert!(
                seen.contains(&want),
                "no fills of (version, neg_risk) = {want:?}"
            );
        }
    }

    /// Per role: the share of its buys that bought the eventual winner (at least 200 buys).
    fn winner_buy_rates(r: &Run) -> HashMap<Role, f64> {
        let tokens = token_map(&r.truth);
        let roles: HashMap<Address, Role> = r
            .truth
            .wallets
            .iter()
            .map(|w| (w.address, w.role))
            .collect();
        let mut tally: HashMap<Role, (u32, u32)> = HashMap::new();
        for e in &r.events {
            if let Event::OrderFilled(f) = e {
                if f.side == Side::Buy {
                    let (m, o) = tokens[&f.token_id];
                    let t = tally.entry(roles[&f.maker]).or_default();
                    t.0 += u32::from(r.truth.markets[m].winning_outcome == o);
                    t.1 += 1;
                }
            }
        }
        tally
            .into_iter()
            .map(|(role, (w, n))| {
                assert!(n > 200, "{role:?}: only {n} buys");
                (role, f64::from(w) / f64::from(n))
            })
            .collect()
    }

    #[test]
    fn skilled_wallets_buy_the_winner_more_often_than_retail() {
        let rate = winner_buy_rates(&run(small(6)));
        let (skilled, noise, retail) = (
            rate[&Role::Skilled],
            rate[&Role::Noise],
            rate[&Role::Retail],
        );
        println!("winner-buy rate: skilled {skilled:.3}, noise {noise:.3}, retail {retail:.3}");
        assert!(skilled > 0.6, "skilled {skilled:.3}");
        assert!(retail < 0.5, "retail {retail:.3}");
        assert!(
            skilled > noise && noise > retail,
            "{skilled} {noise} {retail}"
        );
    }

    #[test]
    fn without_skill_every_role_buys_the_winner_alike_and_the_default_is_unchanged() {
        let cfg = SimConfig {
            no_skill: true,
            ..small(6)
        };
        let rate = winner_buy_rates(&run(cfg.clone()));
        let (skilled, retail) = (rate[&Role::Skilled], rate[&Role::Retail]);
        println!("no skill: winner-buy rate skilled {skilled:.3}, retail {retail:.3}");
        assert!((skilled - retail).abs() < 0.05, "{skilled} {retail}");
        // The flag changes the world, and leaves the default's ground truth as it was.
        assert_ne!(jsonl(cfg), jsonl(small(6)));
        let truth = Sim::new(small(6))
            .unwrap()
            .truth()
            .to_json_pretty()
            .unwrap();
        assert!(!truth.contains("no_skill"));
    }

    #[test]
    fn retail_panic_sells_come_in_bursts_after_drops() {
        let r = run(small(8));
        let roles: HashMap<Address, Role> = r
            .truth
            .wallets
            .iter()
            .map(|w| (w.address, w.role))
            .collect();
        let c = Contracts::default();
        // Per token, every taker fill in order: (block, price, retail seller).
        let mut by_token: HashMap<U256, Vec<(u64, f64, Option<Address>)>> = HashMap::new();
        for (l, e) in r.logs.iter().zip(&r.events) {
            if let Event::OrderFilled(f) = e {
                if c.is_exchange(&f.taker) {
                    let retail_sell = (f.side == Side::Sell && roles[&f.maker] == Role::Retail)
                        .then_some(f.maker);
                    by_token.entry(f.token_id).or_default().push((
                        l.block_number,
                        price(f),
                        retail_sell,
                    ));
                }
            }
        }
        let mut bursts = 0;
        for fills in by_token.values() {
            // Retail sells at least 5 cents under the token's best price of the 30 blocks before.
            let low: Vec<(u64, Address)> = fills
                .iter()
                .filter_map(|&(b, p, seller)| {
                    let seller = seller?;
                    let before = fills
                        .iter()
                        .filter(|x| x.0 < b && x.0 + 30 >= b)
                        .map(|x| x.1)
                        .fold(0.0, f64::max);
                    (p <= before - 0.05).then_some((b, seller))
                })
                .collect();
            let mut k = 0;
            while k < low.len() {
                let start = low[k].0;
                let sellers: HashSet<Address> = low[k..]
                    .iter()
                    .take_while(|x| x.0 <= start + 5)
                    .map(|x| x.1)
                    .collect();
                if sellers.len() >= 3 {
                    bursts += 1;
                    while k < low.len() && low[k].0 <= start + 5 {
                        k += 1;
                    }
                } else {
                    k += 1;
                }
            }
        }
        println!("{bursts} panic bursts");
        assert!(bursts >= 3, "{bursts} panic bursts");
    }

    #[test]
    fn positions_stay_non_negative_and_redemptions_pay_the_winner() {
        let r = run(small(9));
        let adapter = known(addr::NEGRISK_ADAPTER);
        let by_condition: HashMap<Word, usize> = r
            .truth
            .markets
            .iter()
            .enumerate()
            .map(|(i, m)| (m.condition_id, i))
            .collect();
        let tokens = token_map(&r.truth);
        let mut pos: HashMap<(Address, usize, u8), i128> = HashMap::new();
        let mut resolved = HashSet::new();
        let add = |pos: &mut HashMap<_, i128>, w: Address, m: usize, o: u8, d: i128| {
            let p = pos.entry((w, m, o)).or_default();
            *p += d;
            assert!(*p >= 0, "{w:?} market {m} outcome {o} goes to {p}");
        };
        let (mut redemptions, mut conversions, mut splits) = (0, 0, 0);
        for e in &r.events {
            match e {
                Event::OrderFilled(f) => {
                    let (m, o) = tokens[&f.token_id];
                    let d = match f.side {
                        Side::Buy => {
                            i128::from(f.taker_amount)
                                - if f.version == 1 { i128::from(f.fee) } else { 0 }
                        }
                        Side::Sell => -i128::from(f.maker_amount),
                    };
                    add(&mut pos, f.maker, m, o, d);
                }
                Event::PositionSplit(s) | Event::PositionsMerge(s) if s.stakeholder != adapter => {
                    let d = i128::from(s.amount);
                    let d = if matches!(e, Event::PositionSplit(_)) {
                        d
                    } else {
                        -d
                    };
                    for o in 0..2 {
                        add(&mut pos, s.stakeholder, by_condition[&s.condition_id], o, d);
                    }
                    splits += 1;
                }
                Event::NegRiskPositionSplit {
                    stakeholder,
                    condition_id,
                    amount,
                } => {
                    for o in 0..2 {
                        add(
                            &mut pos,
                            *stakeholder,
                            by_condition[condition_id],
                            o,
                            i128::from(*amount),
                        );
                    }
                }
                Event::NegRiskPositionsMerge {
                    stakeholder,
                    condition_id,
                    amount,
                } => {
                    for o in 0..2 {
                        add(
                            &mut pos,
                            *stakeholder,
                            by_condition[condition_id],
                            o,
                            -i128::from(*amount),
                        );
                    }
                }
                Event::NegRiskPositionsConverted {
                    stakeholder,
                    market_id,
                    index_set,
                    amount,
                } => {
                    for (i, m) in r.truth.markets.iter().enumerate() {
                        if m.neg_risk_market_id != Some(*market_id) {
                            continue;
                        }
                        let q = m.question_index.expect("neg-risk question");
                        if index_set.bit(q as usize) {
                            add(&mut pos, *stakeholder, i, 1, -i128::from(*amount));
                        } else {
                            add(&mut pos, *stakeholder, i, 0, i128::from(*amount));
                        }
                    }
                    conversions += 1;
                }
                Event::ConditionResolution { condition_id, .. } => {
                    resolved.insert(*condition_id);
                }
                Event::PayoutRedemption {
                    redeemer,
                    condition_id,
                    payout,
                    ..
                } if *redeemer != adapter => {
                    assert!(
                        resolved.contains(condition_id),
                        "redeemed before resolution"
                    );
                    let m = by_condition[condition_id];
                    let winner = r.truth.markets[m].winning_outcome;
                    let held = pos.get(&(*redeemer, m, winner)).copied().unwrap_or(0);
                    assert!(*payout > 0);
                    assert_eq!(i128::from(*payout), held, "payout is the winner held");
                    pos.insert((*redeemer, m, 0), 0);
                    pos.insert((*redeemer, m, 1), 0);
                    redemptions += 1;
                }
                Event::NegRiskPayoutRedemption {
                    redeemer,
                    condition_id,
                    amounts,
                    payout,
                } => {
                    assert!(
                        resolved.contains(condition_id),
                        "redeemed before resolution"
                    );
                    let m = by_condition[condition_id];
                    let winner = r.truth.markets[m].winning_outcome;
                    for o in 0..2u8 {
                        let held = pos.get(&(*redeemer, m, o)).copied().unwrap_or(0);
                        assert_eq!(amounts[o as usize].as_u128() as i128, held);
                        pos.insert((*redeemer, m, o), 0);
                    }
                    assert_eq!(U256::from(*payout as u64), amounts[winner as usize]);
                    assert!(*payout > 0);
                    redemptions += 1;
                }
                _ => {}
            }
        }
        println!("{redemptions} redemptions, {splits} splits/merges, {conversions} conversions");
        assert!(
            redemptions > 50 && splits > 20,
            "{redemptions} redemptions, {splits} splits"
        );
        assert!(conversions > 0, "no PositionsConverted");
    }

    #[test]
    fn tiny_and_odd_configs_run() {
        for (blocks, markets, wallets, cutover) in [
            (1, 5, 10, 0),
            (50, 1, 10, u64::MAX),
            (300, 7, 11, 150),
            (5_000, 300, 10, 2_500),
        ] {
            let cfg = SimConfig {
                blocks,
                markets,
                wallets,
                start_block: 0,
                cutover_block: cutover,
                ..SimConfig::default()
            };
            let r = run(cfg);
            assert!(!r.logs.is_empty());
            assert_eq!(r.truth.markets.len(), markets);
        }
    }

    /// The design is streaming: the queue holds per-market and per-holder work only, so a run
    /// 200k blocks long never holds more than a few thousand pending events.
    #[test]
    fn a_long_run_streams_with_a_small_queue() {
        let cfg = SimConfig {
            blocks: 200_000,
            ..SimConfig::default()
        };
        let mut sim = Sim::new(cfg).unwrap();
        let (mut max_queue, mut blocks, mut last) = (0, 0u64, 0);
        while let Some(b) = sim.next() {
            assert!(b.number > last);
            last = b.number;
            blocks += 1;
            max_queue = max_queue.max(sim.queued());
        }
        let s = sim.stats();
        assert_eq!(s.blocks, blocks);
        assert!(s.fills > 500_000, "{s:?}");
        println!("max queue {max_queue}; {s:?}");
        assert!(max_queue < 2_000, "queue reached {max_queue}");
    }

    /// `cargo test --release --lib sim -- --ignored --nocapture`: fills per second with JSON.
    #[test]
    #[ignore]
    fn throughput() {
        let cfg = SimConfig {
            blocks: 200_000,
            ..SimConfig::default()
        };
        let t = std::time::Instant::now();
        let mut sim = Sim::new(cfg).unwrap();
        let mut bytes = 0usize;
        for b in sim.by_ref() {
            for l in b.into_raw_logs() {
                bytes += l.to_json().len() + 1;
            }
        }
        let s = sim.stats();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{} fills, {} logs, {} MB JSONL in {secs:.2}s ({:.0} fills/s); {s:?}",
            s.fills,
            s.logs,
            bytes / 1_000_000,
            s.fills as f64 / secs
        );
    }
}
