//! Decisions in one transaction per wake-up: claim the waiting signals (FOR UPDATE SKIP
//! LOCKED), lock the account row (FOR UPDATE), and for each signal in order read the book, ask
//! the risk limits, trade through the broker, record everything; then commit. Two executors on
//! one account take turns on the account lock, so a limit checked here still holds when the
//! order is written.

use std::collections::HashMap;

use rust_decimal::Decimal;
use tokio_postgres::Client;

use super::{
    broker::{
        Broker, Execution, OrderRequest, OrderStatus, Placement, Priced, Side, SignedRecord,
        TradeRef,
    },
    params::Params,
    risk::{self, Assessment, Book, EntryRequest, Held, Quote, SkipReason},
    ExecError,
};
use crate::db::{CachedTx, DbError, StatementCache};

/// What one decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// An entry was placed for this signal.
    Placed {
        /// The signal.
        signal_id: i64,
        /// The position bought into.
        position_id: i64,
    },
    /// An order for this signal was signed, stored and sent; its fills make the position.
    Ordered {
        /// The signal.
        signal_id: i64,
        /// The stored order (exec.orders).
        order_id: i64,
    },
    /// The signal was skipped.
    Skipped {
        /// The signal.
        signal_id: i64,
        /// Why.
        reason: SkipReason,
    },
    /// A position was closed.
    Closed {
        /// The position.
        position_id: i64,
        /// resolved | stop_loss
        reason: &'static str,
    },
}

/// Claims undecided signals, oldest first ($1: how many), with what a decision needs of each:
/// the columns of [`Claimed::from_row`]. The payout is joined in (flow.payout_of), not called
/// per row: claiming a block's 24 signals took 0.32-0.43 ms instead of 0.47-0.58 ms in psql.
const CLAIM: &str =
    "SELECT s.signal_id, s.token_id::text, s.confidence, s.block_number, s.condition_id, s.outcome_index, \
            round(extract(epoch FROM now() - s.block_time)::numeric, 3), round(pay.payout, 12) \
     FROM strategy.signals s \
     LEFT JOIN market.tokens t ON t.token_id = s.token_id \
     LEFT JOIN LATERAL flow.payout_of(coalesce(s.condition_id, t.condition_id), \
                                      coalesce(s.outcome_index, t.outcome_index)) pay ON true \
     WHERE s.status = 'new' \
     ORDER BY s.signal_id LIMIT $1 FOR UPDATE OF s SKIP LOCKED";

/// Moves cash ($2) in or out of the account ($1).
const ADD_CASH: &str =
    "UPDATE exec.accounts SET cash = cash + $2, updated_at = now() WHERE account = $1";

/// Locks the account row; its cash.
const LOCK_CASH: &str = "SELECT cash FROM exec.accounts WHERE account = $1 FOR UPDATE";

/// Marks the open positions at their tokens' newest trades.
const MARK: &str = "UPDATE exec.positions p \
             SET last_price = t.price, last_price_block = t.block_number, last_price_log = t.log_index, marked_at = now(), \
                 condition_id = coalesce(p.condition_id, k.condition_id), outcome_index = coalesce(p.outcome_index, k.outcome_index) \
             FROM exec.positions q \
             CROSS JOIN LATERAL exec.last_trade(q.token_id, coalesce(q.last_price_block, 0), NULL) t \
             LEFT JOIN market.tokens k ON k.token_id = q.token_id \
             WHERE p.position_id = q.position_id AND q.account = $1 AND q.status = 'open' \
               AND (t.block_number, t.log_index) > (coalesce(q.last_price_block, -1), coalesce(q.last_price_log, -1))";

/// The open positions, in the columns of [`Open::from_row`].
const OPEN: &str = "SELECT p.position_id, p.token_id::text, p.shares, p.cost, p.last_price, coalesce(p.last_price_block, 0), \
                        round(pay.payout, 12) \
                 FROM exec.positions p \
                 LEFT JOIN market.tokens k ON k.token_id = p.token_id \
                 LEFT JOIN LATERAL flow.payout_of(coalesce(p.condition_id, k.condition_id), \
                                                  coalesce(p.outcome_index, k.outcome_index)) pay ON true \
                 WHERE p.account = $1 AND p.status = 'open' \
                 ORDER BY p.position_id";

/// The day's row, once made.
const TODAY: &str = "SELECT start_equity, halted_at IS NOT NULL FROM exec.account_days \
                 WHERE account = $1 AND day = (now() AT TIME ZONE 'UTC')::date";

/// An order and its fill (when it filled); $4 NULL: the open position in the token.
const RECORD_ORDER: &str = "WITH o AS (INSERT INTO exec.orders (account, broker, signal_id, position_id, token_id, side, shares, \
                                                    limit_price, status, broker_order_id) \
                            VALUES ($1, $2, $3, \
                                    coalesce($4, (SELECT position_id FROM exec.positions \
                                                  WHERE account = $1 AND token_id = $5::text::numeric AND status = 'open')), \
                                    $5::text::numeric, $6, $7, $8, $9, $10) RETURNING order_id), \
                      f AS (INSERT INTO exec.fills (order_id, shares, price, fee, usdc) \
                            SELECT order_id, $11, $12, $13, $14 FROM o WHERE $11::numeric > 0) \
                 SELECT order_id FROM o";

/// Live buy orders still holding a reserve.
const PENDING: &str = "SELECT token_id::text, reserve FROM exec.orders \
             WHERE account = $1 AND status IN ('signed', 'posted', 'live') AND side = 0";

/// Adds bought shares to the open position in the token, or opens one; the position after.
const ADD_TO_POSITION: &str = "INSERT INTO exec.positions AS p (account, token_id, condition_id, outcome_index, shares, cost, fees, \
                                           first_signal_id, last_price, last_price_block, last_price_log, marked_at) \
             VALUES ($1, $2::text::numeric, \
                     coalesce($3, (SELECT t.condition_id FROM market.tokens t WHERE t.token_id = $2::text::numeric)), \
                     coalesce($4, (SELECT t.outcome_index FROM market.tokens t WHERE t.token_id = $2::text::numeric)), \
                     $5, $6, $7, $8, $9, $10, $11, now()) \
             ON CONFLICT (account, token_id) WHERE status = 'open' DO UPDATE \
             SET shares = p.shares + excluded.shares, cost = p.cost + excluded.cost, fees = p.fees + excluded.fees \
             RETURNING position_id, token_id::text, shares, cost, last_price, coalesce(last_price_block, 0), \
                       round(flow.payout( \
                           coalesce(condition_id, (SELECT t.condition_id FROM market.tokens t WHERE t.token_id = p.token_id)), \
                           coalesce(outcome_index, (SELECT t.outcome_index FROM market.tokens t WHERE t.token_id = p.token_id))), 12)";

/// Records a batch's entry decisions ($2..$22: one element per decision, in decision order)
/// and marks their signals taken or skipped; first it writes the batch's paper entries
/// ($23..$37: one element per entry, in order; $38 the broker): each token's position opened
/// or added to, the account debited, each entry's order and fill. One statement: every
/// entry of a batch costs no round trip of its own. Returns each decided signal and its
/// position.
const RECORD: &str = "WITH e AS ( \
         SELECT * FROM unnest($23::bigint[], $24::text[], $25::bytea[], $26::smallint[], $27::numeric[], $28::numeric[], \
                              $29::text[], $30::text[], $31::numeric[], $32::numeric[], $33::numeric[], $34::numeric[], \
                              $35::numeric[], $36::bigint[], $37::integer[]) \
             WITH ORDINALITY AS e(signal_id, token, condition_id, outcome_index, shares, limit_price, status, broker_order_id, \
                                  filled, fill_price, fee, paid, last_price, last_block, last_log, i)), \
     pos AS ( \
         INSERT INTO exec.positions AS p (account, token_id, condition_id, outcome_index, shares, cost, fees, \
                                          first_signal_id, last_price, last_price_block, last_price_log, marked_at) \
         SELECT $1, g.token::numeric, \
                coalesce(f.condition_id, (SELECT t.condition_id FROM market.tokens t WHERE t.token_id = g.token::numeric)), \
                coalesce(f.outcome_index, (SELECT t.outcome_index FROM market.tokens t WHERE t.token_id = g.token::numeric)), \
                g.shares, g.cost, g.fees, f.signal_id, f.last_price, f.last_block, f.last_log, now() \
         FROM (SELECT token, min(i) AS first, sum(filled) AS shares, sum(paid) AS cost, sum(fee) AS fees \
               FROM e GROUP BY token) g \
         JOIN e f ON f.i = g.first \
         ORDER BY g.first \
         ON CONFLICT (account, token_id) WHERE status = 'open' DO UPDATE \
         SET shares = p.shares + excluded.shares, cost = p.cost + excluded.cost, fees = p.fees + excluded.fees \
         RETURNING p.position_id, p.token_id), \
     debit AS ( \
         UPDATE exec.accounts a SET cash = a.cash - t.paid, updated_at = now() \
         FROM (SELECT sum(paid) AS paid FROM e) t \
         WHERE a.account = $1 AND t.paid IS NOT NULL), \
     o AS ( \
         INSERT INTO exec.orders (account, broker, signal_id, position_id, token_id, side, shares, limit_price, status, \
                                  broker_order_id) \
         SELECT $1, $38, e.signal_id, pos.position_id, pos.token_id, 0, e.shares, e.limit_price, e.status, e.broker_order_id \
         FROM e JOIN pos ON pos.token_id = e.token::numeric \
         ORDER BY e.i \
         RETURNING order_id, signal_id, position_id), \
     fill AS ( \
         INSERT INTO exec.fills (order_id, shares, price, fee, usdc) \
         SELECT o.order_id, e.filled, e.fill_price, e.fee, -e.paid \
         FROM o JOIN e ON e.signal_id = o.signal_id \
         WHERE e.filled > 0), \
     d AS ( \
         INSERT INTO exec.decisions (account, kind, outcome, reason, signal_id, position_id, order_id, token_id, \
                                     confidence, signal_age_secs, price, fee_per_share, kelly, fraction, equity, \
                                     cash, deployed, open_positions, day_start_equity, stake, shares, fee, detail) \
         SELECT $1, 'entry', u.outcome, u.reason, u.signal_id, coalesce(u.position_id, o.position_id), \
                coalesce(u.order_id, o.order_id), u.token, u.confidence, u.age, u.price, u.fee_per_share, u.kelly, \
                u.fraction, u.equity, u.cash, u.deployed, u.open_positions, u.day_start, u.stake, u.shares, u.fee, u.detail \
         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[]::numeric[], \
                     $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[], \
                     $14::numeric[], $15::numeric[], $16::numeric[], $17::integer[], $18::numeric[], \
                     $19::numeric[], $20::numeric[], $21::numeric[], $22::text[]) \
             WITH ORDINALITY AS u(outcome, reason, signal_id, position_id, order_id, token, confidence, age, price, \
                                  fee_per_share, kelly, fraction, equity, cash, deployed, open_positions, day_start, \
                                  stake, shares, fee, detail, i) \
         LEFT JOIN o ON o.signal_id = u.signal_id \
         ORDER BY u.i \
         RETURNING signal_id, outcome, position_id) \
     UPDATE strategy.signals s \
     SET status = CASE d.outcome WHEN 'placed' THEN 'taken' ELSE 'skipped' END, decided_at = now() \
     FROM d WHERE s.signal_id = d.signal_id \
     RETURNING s.signal_id, d.position_id";

/// Halts entries for the rest of the account's ($1) UTC day at equity $2.
const HALT: &str = "UPDATE exec.account_days SET halted_at = now(), halt_equity = $2 \
                    WHERE account = $1 AND day = (now() AT TIME ZONE 'UTC')::date AND halted_at IS NULL";

/// What [`Engine::state`] sends together, in this order (the reads after the lock).
const STATE: [&str; 6] = [LOCK_CASH, Params::SQL, MARK, OPEN, PENDING, TODAY];

/// Decides signals and manages positions for one account through one broker, on one
/// connection at a time: the statements it prepares are kept for that connection, and
/// whoever gives it another connection calls [`Engine::forget_statements`] first.
#[derive(Debug)]
pub struct Engine<B> {
    account: String,
    broker: B,
    statements: StatementCache,
}

/// What the decisions of one transaction know of the account: read once (under the account
/// lock, so no other executor changes it meanwhile) and then kept up to date by the entries
/// the transaction makes.
struct State {
    params: Params,
    cash: Decimal,
    open: Vec<Open>,
    /// Live orders still holding a reserve: (token id, reserve).
    pending: Vec<(String, Decimal)>,
    /// The day's starting equity, and whether entries are halted for the day.
    day: (Decimal, bool),
    /// The book of all the above.
    book: Book,
}

impl State {
    fn holds(&self, token_id: &str) -> bool {
        self.open.iter().any(|o| o.token_id == token_id)
            || self.pending.iter().any(|(t, _)| t == token_id)
    }

    /// After a paper entry bought `shares` of `token_id` and paid `paid` (fee included): the
    /// open position in the token grows, or a new one opens marked at the trade it was priced
    /// at (and at `payout` when its market has resolved), as the entry's writes will store it.
    fn bought(
        &mut self,
        token_id: &str,
        (shares, paid): (Decimal, Decimal),
        trade: Option<TradeRef>,
        payout: Option<Decimal>,
    ) {
        self.cash -= paid;
        match self.open.iter_mut().find(|o| o.token_id == token_id) {
            Some(o) => {
                o.shares += shares;
                o.cost += paid;
            }
            None => self.open.push(Open {
                position_id: 0, // stored with the batch's record; not needed before
                token_id: token_id.to_owned(),
                shares,
                cost: paid,
                mark: trade.map(|t| t.price),
                mark_block: trade.map_or(0, |t| t.block_number),
                payout,
            }),
        }
        self.rebook();
    }

    /// After a live order reserved `reserve` for `token_id`.
    fn reserved(&mut self, token_id: &str, reserve: Decimal) {
        self.cash -= reserve;
        self.pending.push((token_id.to_owned(), reserve));
        self.rebook();
    }

    /// What the limits say of `req` on the book as it stands.
    fn assess(&self, req: &EntryRequest) -> Assessment {
        risk::assess_entry(&self.params.limits, &self.params.sizing, &self.book, req)
    }

    fn rebook(&mut self) {
        self.book = compose(self.cash, &self.open, &self.pending, Some(self.day));
    }
}

/// A decision on an entry signal, recorded with the others of its transaction just before
/// the COMMIT (in one statement, in decision order).
struct Record {
    signal_id: i64,
    token_id: String,
    req: EntryRequest,
    book: Book,
    a: Assessment,
    /// The position (paper) and order made, for a placed entry.
    ids: Option<(Option<i64>, i64)>,
    /// (shares, fee, stake) of a placed entry.
    filled: Option<(Decimal, Decimal, Decimal)>,
    /// A paper entry's writes, made by the record itself.
    entry: Option<PaperEntry>,
    /// The skip reason, or the limit that capped a placed entry's size.
    reason: &'static str,
    detail: Option<String>,
}

/// What a paper entry stores: its position, debit, order and fill.
struct PaperEntry {
    /// The signal's market, when it knew it (else looked up by token).
    market: (Option<Vec<u8>>, Option<i16>),
    order: OrderRequest,
    exe: Execution,
    /// USDC paid, the fee included.
    paid: Decimal,
    /// The trade it was priced at: the new position's first mark.
    trade: Option<TradeRef>,
}

/// A claimed signal: the columns of [`CLAIM`].
struct Claimed {
    signal_id: i64,
    token_id: String,
    confidence: Decimal,
    block: i64,
    market: (Option<Vec<u8>>, Option<i16>),
    age: Decimal,
    /// Its token's payout when the market has resolved.
    payout: Option<Decimal>,
}

impl Claimed {
    fn from_row(r: &tokio_postgres::Row) -> Claimed {
        Claimed {
            signal_id: r.get(0),
            token_id: r.get(1),
            confidence: r.get(2),
            block: r.get(3),
            market: (r.get(4), r.get(5)),
            age: r.get(6),
            payout: r.get(7),
        }
    }

    /// The entry it asks for, before any price.
    fn request(&self, st: &State) -> EntryRequest {
        EntryRequest {
            confidence: self.confidence,
            age_secs: self.age,
            holds_token: st.holds(&self.token_id),
            quote: None,
        }
    }
}

impl Record {
    fn skip(
        signal_id: i64,
        token_id: &str,
        req: EntryRequest,
        book: Book,
        a: Assessment,
        reason: SkipReason,
        detail: Option<String>,
    ) -> Self {
        Record {
            signal_id,
            token_id: token_id.to_owned(),
            req,
            book,
            a,
            ids: None,
            filled: None,
            entry: None,
            reason: reason.as_str(),
            detail,
        }
    }
}

/// An open position with its current mark.
pub(crate) struct Open {
    pub(crate) position_id: i64,
    token_id: String,
    shares: Decimal,
    cost: Decimal,
    mark: Option<Decimal>,
    mark_block: i64,
    payout: Option<Decimal>,
}

impl Open {
    /// From (position_id, token_id::text, shares, cost, last_price, last_price_block or 0,
    /// the payout rounded to 12 places or NULL).
    fn from_row(r: &tokio_postgres::Row) -> Open {
        Open {
            position_id: r.get(0),
            token_id: r.get(1),
            shares: r.get(2),
            cost: r.get(3),
            mark: r.get(4),
            mark_block: r.get(5),
            payout: r.get(6),
        }
    }
}

impl<B: Broker> Engine<B> {
    /// An engine for `account` trading through `broker`.
    pub fn new(account: impl Into<String>, broker: B) -> Self {
        Engine {
            account: account.into(),
            broker,
            statements: StatementCache::default(),
        }
    }

    /// Forgets the statements prepared so far (the engine is moving to a new connection).
    pub fn forget_statements(&self) {
        self.statements.clear();
    }

    /// Opens a transaction whose statements are prepared once on this connection and kept.
    async fn begin<'c>(
        &'c self,
        client: &'c mut Client,
        what: &str,
    ) -> Result<CachedTx<'c>, ExecError> {
        let tx = client
            .transaction()
            .await
            .map_err(DbError::query(format!("opening a {what} transaction")))?;
        Ok(CachedTx::new(tx, &self.statements))
    }

    /// The account's name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Creates the account if it does not exist (a paper account starts with
    /// paper_starting_capital) and checks that it is one of `mode`.
    pub async fn open_account(&self, client: &mut Client, mode: &str) -> Result<(), ExecError> {
        self.open_account_with(client, mode, None).await
    }

    /// As [`Engine::open_account`], a new account starting with `capital` when given. A live
    /// account holds real money: it is never created with the paper capital.
    pub async fn open_account_with(
        &self,
        client: &mut Client,
        mode: &str,
        capital: Option<Decimal>,
    ) -> Result<(), ExecError> {
        let params = Params::load(&*client).await?;
        let start = match capital {
            Some(c) => c,
            None if mode == "live" => {
                let exists = client
                    .query_opt(
                        "SELECT 1 FROM exec.accounts WHERE account = $1",
                        &[&self.account],
                    )
                    .await
                    .map_err(DbError::query(format!("reading account {}", self.account)))?
                    .is_some();
                if !exists {
                    return Err(ExecError::LiveConfig(format!(
                        "account {} does not exist yet: pass --capital USDC, the money it may trade",
                        self.account
                    )));
                }
                Decimal::ZERO
            }
            None => params.paper_starting_capital,
        };
        client
            .execute(
                "INSERT INTO exec.accounts (account, mode, starting_capital, cash) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (account) DO NOTHING",
                &[&self.account, &mode, &start],
            )
            .await
            .map_err(DbError::query(format!("creating account {}", self.account)))?;
        let found: String = client
            .query_one(
                "SELECT mode FROM exec.accounts WHERE account = $1",
                &[&self.account],
            )
            .await
            .map_err(DbError::query(format!("reading account {}", self.account)))?
            .get(0);
        if found != mode {
            return Err(ExecError::AccountMode {
                account: self.account.clone(),
                found,
                wanted: mode.to_owned(),
            });
        }
        Ok(())
    }

    /// Runs every statement of the decision path once on this connection, in a transaction
    /// that is rolled back: the claim, the account's reads, the broker's quote, an entry's
    /// writes, the daily halt and the record. The first decisions after a (re)connect then pay
    /// neither for planning these statements nor for loading the tables they touch: in psql,
    /// the first paper entry on a fresh connection took about 4 ms more than the next ones
    /// (quote 1.2-1.7 ms instead of 0.2, the position 1.4-2.0 ms instead of 0.3-0.4). Writes
    /// nothing.
    pub async fn warm_up(&self, client: &mut Client) -> Result<(), ExecError> {
        let tx = self.begin(client, "warm-up").await?;
        tx.prepare_all(&[&[CLAIM][..], &STATE, &[HALT, RECORD]].concat())
            .await
            .map_err(DbError::query("preparing the decision statements"))?;
        let claim = async {
            tx.query(CLAIM, &[&0i64])
                .await
                .map_err(|e| ExecError::from(DbError::query("warming up the claim")(e)))
        };
        let (_, st) = futures::try_join!(claim, self.state(&tx))?;
        self.broker.warm_up(&tx, &st.params).await?;
        let zero = Decimal::ZERO;
        tx.execute(HALT, &[&"", &zero])
            .await
            .map_err(DbError::query("warming up the daily halt"))?;
        // A paper entry of nothing in token 0, which no market has, on signal 0, which does
        // not exist (ids start at 1).
        let token = "0";
        let req = EntryRequest {
            confidence: zero,
            age_secs: zero,
            holds_token: false,
            quote: None,
        };
        let a = st.assess(&req);
        let mut record = Record::skip(0, token, req, st.book, a, SkipReason::NoEdge, None);
        record.entry = Some(PaperEntry {
            market: (None, None),
            order: OrderRequest {
                token_id: token.to_owned(),
                side: Side::Buy,
                shares: zero,
                quote: Quote {
                    price: zero,
                    fee_per_share: zero,
                },
            },
            exe: Execution {
                status: OrderStatus::Unfilled,
                shares: zero,
                price: zero,
                fee: zero,
                broker_order_id: None,
            },
            paid: zero,
            trade: None,
        });
        self.record(&tx, &[record]).await?;
        tx.rollback()
            .await
            .map_err(DbError::query("rolling back the warm-up"))?;
        Ok(())
    }

    /// Claims the oldest undecided signal and decides it, in one transaction. None when no
    /// signal is waiting (or every waiting one is being decided by another executor).
    pub async fn decide_next(&self, client: &mut Client) -> Result<Option<Decided>, ExecError> {
        Ok(self.decide_batch(client, 1).await?.into_iter().next())
    }

    /// Claims up to `limit` undecided signals, oldest first, and decides them in that order in
    /// one transaction under the account lock: the account is read once, with the claim, and
    /// each decision sees the book as the ones before it left it (the entries update it), so
    /// the limits hold exactly as if each had its own transaction. Marks and parameters are
    /// those of that read: a trade or a parameter change committed meanwhile counts from the
    /// next batch. Decisions cost no round trip of their own: every decision, and every
    /// paper entry's position, debit, order and fill, is written in one statement just before
    /// the COMMIT; a broker that quotes many tokens at once (paper) is asked for the quotes
    /// of every signal the book would still price, in one go, when the first is needed. A
    /// block's signals are decided with one COMMIT instead of one each. Live orders, stored
    /// one by one as they are signed, are sent after the COMMIT.
    pub async fn decide_batch(
        &self,
        client: &mut Client,
        limit: i64,
    ) -> Result<Vec<Decided>, ExecError> {
        let tx = self.begin(client, "decision").await?;
        // The claim and the account's reads go out together, in one round trip; the server
        // runs them in order, the reads after the account lock.
        tx.prepare_all(&[&[CLAIM][..], &STATE].concat())
            .await
            .map_err(DbError::query("preparing the decision statements"))?;
        let claim = async {
            tx.query(CLAIM, &[&limit])
                .await
                .map_err(|e| ExecError::from(DbError::query("claiming signals")(e)))
        };
        let (claimed, mut st) = futures::try_join!(claim, self.state(&tx))?;
        let signals: Vec<Claimed> = claimed.iter().map(Claimed::from_row).collect();
        let mut decided = Vec::with_capacity(signals.len());
        let mut records: Vec<Record> = Vec::with_capacity(signals.len());
        let mut to_submit = Vec::new();
        // Quotes asked for ahead, by the signal's place in the batch.
        let mut quotes: HashMap<usize, Option<Priced>> = HashMap::new();
        for (k, sig) in signals.iter().enumerate() {
            let signal_id = sig.signal_id;
            let token_id = &sig.token_id;
            let mut req = sig.request(&st);
            // Ask the broker for a price only when nothing before it already refuses the entry.
            let mut priced: Option<Priced> = None;
            let mut a = st.assess(&req);
            if a.verdict == Err(SkipReason::NoPrice) {
                if !quotes.contains_key(&k) {
                    // A broker that quotes many tokens at the cost of one is asked, now, for
                    // this one and every later one that the book as it stands would price.
                    let ask: Vec<usize> = if self.broker.quotes_together() {
                        (k..signals.len())
                            .filter(|&j| {
                                j == k
                                    || (!quotes.contains_key(&j)
                                        && st.assess(&signals[j].request(&st)).verdict
                                            == Err(SkipReason::NoPrice))
                            })
                            .collect()
                    } else {
                        vec![k]
                    };
                    let wanted: Vec<(&str, i64)> = ask
                        .iter()
                        .map(|&j| (signals[j].token_id.as_str(), signals[j].block))
                        .collect();
                    let got = self
                        .broker
                        .quote_many(&tx, &st.params, &wanted, Side::Buy)
                        .await?;
                    quotes.extend(ask.into_iter().zip(got));
                }
                priced = quotes.remove(&k).flatten();
                req.quote = priced.map(|p| p.quote);
                a = st.assess(&req);
            }
            if a.verdict == Err(SkipReason::DailyLossHalt) && !st.book.halted_today {
                tx.execute(HALT, &[&self.account, &st.book.equity])
                    .await
                    .map_err(DbError::query("recording the daily-loss halt"))?;
                st.day.1 = true;
                st.rebook();
            }
            let book = st.book;
            let plan = match a.verdict {
                Err(reason) => {
                    records.push(Record::skip(
                        signal_id, token_id, req, book, a, reason, None,
                    ));
                    decided.push(Decided::Skipped { signal_id, reason });
                    continue;
                }
                Ok(plan) => plan,
            };
            let params = st.params;
            let priced = priced.expect("a placed entry was priced");
            let order = OrderRequest {
                token_id: token_id.clone(),
                side: Side::Buy,
                shares: plan.shares,
                quote: priced.quote,
            };
            match self.broker.execute(&tx, &params, &order).await? {
                Placement::Refused(why) => {
                    let reason = SkipReason::OrderFailed;
                    records.push(Record::skip(
                        signal_id,
                        token_id,
                        req,
                        book,
                        a,
                        reason,
                        Some(why),
                    ));
                    decided.push(Decided::Skipped { signal_id, reason });
                }
                Placement::Done(exe) => {
                    // Written with the record (one statement for the batch); the book
                    // counts it from here on.
                    let paid = crate::exec::sizing::usdc(exe.shares * exe.price) + exe.fee;
                    st.bought(token_id, (exe.shares, paid), priced.trade, sig.payout);
                    records.push(Record {
                        signal_id,
                        token_id: token_id.clone(),
                        req,
                        book,
                        a,
                        ids: None,
                        filled: Some((exe.shares, exe.fee, paid)),
                        entry: Some(PaperEntry {
                            market: sig.market.clone(),
                            order,
                            exe,
                            paid,
                            trade: priced.trade,
                        }),
                        reason: plan.cap.as_str(),
                        detail: None,
                    });
                    decided.push(Decided::Placed {
                        signal_id,
                        position_id: 0, // known once recorded
                    });
                }
                Placement::Signed(signed) => {
                    let order_id = self
                        .record_signed(&tx, Some(signal_id), None, &order, &signed)
                        .await?;
                    st.reserved(token_id, signed.reserve);
                    records.push(Record {
                        signal_id,
                        token_id: token_id.clone(),
                        req,
                        book,
                        a,
                        ids: Some((None, order_id)),
                        filled: Some((signed.shares, signed.fee, signed.reserve)),
                        entry: None,
                        reason: plan.cap.as_str(),
                        detail: None,
                    });
                    to_submit.push(order_id);
                    decided.push(Decided::Ordered {
                        signal_id,
                        order_id,
                    });
                }
            }
        }
        let positions = self.record(&tx, &records).await?;
        for d in &mut decided {
            if let Decided::Placed {
                signal_id,
                position_id,
            } = d
            {
                *position_id = positions
                    .get(signal_id)
                    .copied()
                    .flatten()
                    .expect("the record stores every paper entry's position");
            }
        }
        tx.commit().await.map_err(DbError::query(format!(
            "committing the decisions on {} signal(s)",
            signals.len()
        )))?;
        // Posted only now: the signed orders are durable, so whatever happens to a POST the
        // order can be found again by its hash.
        for order_id in to_submit {
            self.broker.submit(client, order_id).await?;
        }
        Ok(decided)
    }

    /// Locks the account row and reads what a decision needs of it: [`STATE`], sent together
    /// (the server runs them in order: the reads after the lock), so the caller has them
    /// prepared first ([`CachedTx::prepare_all`]). Makes the day's row at the first read of a
    /// UTC day.
    async fn state(&self, tx: &CachedTx<'_>) -> Result<State, ExecError> {
        let (cash, params, open, pending, today) = futures::try_join!(
            self.lock_cash(tx),
            Params::load_cached(tx),
            self.open_positions(tx),
            book_pending(tx, &self.account),
            self.today(tx)
        )?;
        let day = match today {
            Some(day) => day,
            None => {
                self.start_day(tx, compose(cash, &open, &pending, None).equity)
                    .await?
            }
        };
        let book = compose(cash, &open, &pending, Some(day));
        Ok(State {
            params,
            cash,
            open,
            pending,
            day,
            book,
        })
    }

    /// Brings stored orders up to date through the broker (live fills and answers).
    pub async fn reconcile(&self, client: &mut Client) -> Result<Vec<i64>, ExecError> {
        self.broker.reconcile(client, &self.account).await
    }

    /// Stores a signed order with its cash reserve, debiting the reserve from cash.
    async fn record_signed(
        &self,
        tx: &CachedTx<'_>,
        signal_id: Option<i64>,
        position_id: Option<i64>,
        order: &OrderRequest,
        s: &SignedRecord,
    ) -> Result<i64, ExecError> {
        let order_id: i64 = tx
            .query_one(
                "INSERT INTO exec.orders (account, broker, signal_id, position_id, token_id, side, shares, limit_price, \
                                          status, broker_order_id, order_hash, signature, body, order_type, clob_version, \
                                          neg_risk, tick_size, maker_amount, taker_amount, reserve, from_block) \
                 VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7, $8, 'signed', $9, $10, $11, $12, $13, $14, \
                         $15, $16, $17, $18, $19, \
                         greatest(0, coalesce((SELECT max(block_number) FROM chain.blocks), 0) \
                                     - strategy.param('reorg_window_blocks')::bigint)) RETURNING order_id",
                &[
                    &self.account,
                    &self.broker.name(),
                    &signal_id,
                    &position_id,
                    &order.token_id,
                    &order.side.code(),
                    &s.shares,
                    &s.limit_price,
                    &crate::clob::order::hex0x(&s.order_hash),
                    &s.order_hash,
                    &s.signature,
                    &s.body,
                    &s.order_type,
                    &s.version,
                    &s.neg_risk,
                    &s.tick_size,
                    &s.maker_amount,
                    &s.taker_amount,
                    &s.reserve,
                ],
            )
            .await
            .map_err(DbError::query("storing a signed order"))?
            .get(0);
        self.add_cash(tx, -s.reserve, "reserving cash for an order")
            .await?;
        Ok(order_id)
    }

    /// Marks open positions at their last trade, settles those whose market resolved at the
    /// payout, and sells those down by the stop-loss; one transaction under the account lock.
    pub async fn manage_positions(&self, client: &mut Client) -> Result<Vec<Decided>, ExecError> {
        let tx = self.begin(client, "position").await?;
        tx.prepare_all(&STATE)
            .await
            .map_err(DbError::query("preparing the position statements"))?;
        let State {
            params, open, book, ..
        } = self.state(&tx).await?;
        let selling: Vec<i64> = tx
            .query(
                "SELECT position_id FROM exec.orders WHERE account = $1 AND side = 1 \
                   AND status IN ('signed', 'posted', 'live') AND position_id IS NOT NULL",
                &[&self.account],
            )
            .await
            .map_err(DbError::query("reading pending sells"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut done = Vec::new();
        let mut to_submit = Vec::new();
        for o in &open {
            if let Some(payout) = o.payout {
                let close = risk::close_at_payout(o.shares, o.cost, payout);
                self.close(&tx, &book, o, "resolved", payout, close, None)
                    .await?;
                done.push(Decided::Closed {
                    position_id: o.position_id,
                    reason: "resolved",
                });
                continue;
            }
            let Some(mark) = o.mark else { continue };
            if !risk::stop_loss_hit(&params.limits, o.shares, o.cost, mark) {
                continue;
            }
            if selling.contains(&o.position_id) {
                // A sell is already on its way; its fills close the position.
                continue;
            }
            let Some(priced) = self
                .broker
                .quote(&tx, &params, &o.token_id, Side::Sell, o.mark_block)
                .await?
            else {
                // No recent trade to sell into: try again at the next pass.
                continue;
            };
            let order = OrderRequest {
                token_id: o.token_id.clone(),
                side: Side::Sell,
                shares: o.shares,
                quote: priced.quote,
            };
            let exe = match self.broker.execute(&tx, &params, &order).await? {
                Placement::Done(exe) => exe,
                Placement::Signed(signed) => {
                    // Live: the sell's fills on chain reduce and finally close the position.
                    let order_id = self
                        .record_signed(&tx, None, Some(o.position_id), &order, &signed)
                        .await?;
                    self.record_exit(
                        &tx,
                        &book,
                        o,
                        "stop_loss",
                        signed.limit_price,
                        Some(order_id),
                        None,
                    )
                    .await?;
                    to_submit.push(order_id);
                    continue;
                }
                Placement::Refused(why) => {
                    tracing::warn!(target: "executor::positions", position_id = o.position_id, %why,
                                   "cannot make the stop-loss sell; trying again at the next pass");
                    continue;
                }
            };
            // The paper broker fills every order completely, so the sale closes the position.
            let close = risk::close_by_sale(exe.shares, o.cost, exe.price, exe.fee);
            let order_id = self
                .record_order(&tx, None, Some(o.position_id), &order, &exe, close.proceeds)
                .await?;
            self.close(&tx, &book, o, "stop_loss", exe.price, close, Some(order_id))
                .await?;
            done.push(Decided::Closed {
                position_id: o.position_id,
                reason: "stop_loss",
            });
        }
        tx.commit()
            .await
            .map_err(DbError::query("committing position management"))?;
        for order_id in to_submit {
            self.broker.submit(client, order_id).await?;
        }
        Ok(done)
    }

    /// Adds `amount` (negative: takes it) to the account's cash.
    async fn add_cash(
        &self,
        tx: &CachedTx<'_>,
        amount: Decimal,
        what: &'static str,
    ) -> Result<(), ExecError> {
        tx.execute(ADD_CASH, &[&self.account, &amount])
            .await
            .map_err(DbError::query(what))?;
        Ok(())
    }

    /// Locks the account row for the rest of the transaction; returns its cash.
    async fn lock_cash(&self, tx: &CachedTx<'_>) -> Result<Decimal, ExecError> {
        let row = tx
            .query_opt(LOCK_CASH, &[&self.account])
            .await
            .map_err(DbError::query(format!("locking account {}", self.account)))?
            .ok_or_else(|| ExecError::NoAccount(self.account.clone()))?;
        Ok(row.get(0))
    }

    /// Open positions, first brought up to the token's newest trade (read incrementally from
    /// the block of the previous mark), with the payout once the market resolved.
    async fn open_positions(&self, tx: &CachedTx<'_>) -> Result<Vec<Open>, ExecError> {
        // Both statements go out at once; the server runs the marking first.
        let account: &[&(dyn tokio_postgres::types::ToSql + Sync)] = &[&self.account];
        let mark = tx.execute(MARK, account);
        let read = tx.query(OPEN, account);
        let (_, rows) = futures::try_join!(
            async { mark.await.map_err(DbError::query("marking open positions")) },
            async { read.await.map_err(DbError::query("reading open positions")) }
        )?;
        Ok(rows.iter().map(Open::from_row).collect())
    }

    /// The day's starting equity and whether entries are halted, once the day's row is made.
    async fn today(&self, tx: &CachedTx<'_>) -> Result<Option<(Decimal, bool)>, ExecError> {
        Ok(tx
            .query_opt(TODAY, &[&self.account])
            .await
            .map_err(DbError::query("reading the day's starting equity"))?
            .map(|r| (r.get(0), r.get(1))))
    }

    /// Makes the day's row, starting the day at `equity` (one statement either way: the
    /// insert's own row, or the one another executor made first).
    async fn start_day(
        &self,
        tx: &CachedTx<'_>,
        equity: Decimal,
    ) -> Result<(Decimal, bool), ExecError> {
        let day = tx
            .query_one(
                "WITH made AS (INSERT INTO exec.account_days (account, day, start_equity) \
                               VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2) ON CONFLICT DO NOTHING \
                               RETURNING start_equity, halted_at IS NOT NULL AS halted) \
                 SELECT start_equity, halted FROM made \
                 UNION ALL \
                 SELECT start_equity, halted_at IS NOT NULL FROM exec.account_days \
                 WHERE account = $1 AND day = (now() AT TIME ZONE 'UTC')::date AND NOT EXISTS (SELECT 1 FROM made)",
                &[&self.account, &equity],
            )
            .await
            .map_err(DbError::query("recording the day's starting equity"))?;
        Ok((day.get(0), day.get(1)))
    }

    /// Records the decisions on entry signals, in their order, with the paper entries' writes,
    /// and marks each signal taken (placed) or skipped: one statement ([`RECORD`]) for all of
    /// them. Returns each decided signal's position.
    async fn record(
        &self,
        tx: &CachedTx<'_>,
        records: &[Record],
    ) -> Result<HashMap<i64, Option<i64>>, ExecError> {
        if records.is_empty() {
            return Ok(HashMap::new());
        }
        let col =
            |f: &dyn Fn(&Record) -> Option<Decimal>| records.iter().map(f).collect::<Vec<_>>();
        let outcome: Vec<&str> = records
            .iter()
            .map(|r| {
                if r.ids.is_some() || r.entry.is_some() {
                    "placed"
                } else {
                    "skipped"
                }
            })
            .collect();
        let reason: Vec<&str> = records.iter().map(|r| r.reason).collect();
        let signal: Vec<i64> = records.iter().map(|r| r.signal_id).collect();
        let position: Vec<Option<i64>> = records.iter().map(|r| r.ids.and_then(|i| i.0)).collect();
        let order: Vec<Option<i64>> = records.iter().map(|r| r.ids.map(|i| i.1)).collect();
        let token: Vec<&str> = records.iter().map(|r| r.token_id.as_str()).collect();
        let confidence = col(&|r| Some(r.req.confidence));
        let age = col(&|r| Some(r.req.age_secs));
        let price = col(&|r| r.req.quote.map(|q| q.price));
        let fee_per_share = col(&|r| r.req.quote.map(|q| q.fee_per_share));
        let kelly = col(&|r| r.a.kelly.map(|k| k.round_dp(12)));
        let fraction = col(&|r| r.a.fraction.map(|f| f.round_dp(12)));
        let equity = col(&|r| Some(r.book.equity));
        let cash = col(&|r| Some(r.book.cash));
        let deployed = col(&|r| Some(r.book.deployed));
        let open: Vec<i32> = records
            .iter()
            .map(|r| r.book.open_positions as i32)
            .collect();
        let day_start = col(&|r| Some(r.book.day_start_equity));
        let stake = col(&|r| r.filled.map(|f| f.2));
        let shares = col(&|r| r.filled.map(|f| f.0));
        let fee = col(&|r| r.filled.map(|f| f.1));
        let detail: Vec<Option<&str>> = records.iter().map(|r| r.detail.as_deref()).collect();
        // The paper entries, one element each.
        let entries: Vec<(i64, &PaperEntry)> = records
            .iter()
            .filter_map(|r| r.entry.as_ref().map(|e| (r.signal_id, e)))
            .collect();
        let e_signal: Vec<i64> = entries.iter().map(|e| e.0).collect();
        let e_token: Vec<&str> = entries
            .iter()
            .map(|e| e.1.order.token_id.as_str())
            .collect();
        let e_condition: Vec<Option<&[u8]>> =
            entries.iter().map(|e| e.1.market.0.as_deref()).collect();
        let e_outcome: Vec<Option<i16>> = entries.iter().map(|e| e.1.market.1).collect();
        let e_shares: Vec<Decimal> = entries.iter().map(|e| e.1.order.shares).collect();
        let e_limit: Vec<Decimal> = entries.iter().map(|e| e.1.order.quote.price).collect();
        let e_status: Vec<&str> = entries.iter().map(|e| e.1.exe.status.as_str()).collect();
        let e_broker_id: Vec<Option<&str>> = entries
            .iter()
            .map(|e| e.1.exe.broker_order_id.as_deref())
            .collect();
        let e_filled: Vec<Decimal> = entries.iter().map(|e| e.1.exe.shares).collect();
        let e_price: Vec<Decimal> = entries.iter().map(|e| e.1.exe.price).collect();
        let e_fee: Vec<Decimal> = entries.iter().map(|e| e.1.exe.fee).collect();
        let e_paid: Vec<Decimal> = entries.iter().map(|e| e.1.paid).collect();
        let e_mark: Vec<Option<Decimal>> =
            entries.iter().map(|e| e.1.trade.map(|t| t.price)).collect();
        let e_mark_block: Vec<Option<i64>> = entries
            .iter()
            .map(|e| e.1.trade.map(|t| t.block_number))
            .collect();
        let e_mark_log: Vec<Option<i32>> = entries
            .iter()
            .map(|e| e.1.trade.map(|t| t.log_index))
            .collect();
        let rows = tx
            .query(
                RECORD,
                &[
                    &self.account,
                    &outcome,
                    &reason,
                    &signal,
                    &position,
                    &order,
                    &token,
                    &confidence,
                    &age,
                    &price,
                    &fee_per_share,
                    &kelly,
                    &fraction,
                    &equity,
                    &cash,
                    &deployed,
                    &open,
                    &day_start,
                    &stake,
                    &shares,
                    &fee,
                    &detail,
                    &e_signal,
                    &e_token,
                    &e_condition,
                    &e_outcome,
                    &e_shares,
                    &e_limit,
                    &e_status,
                    &e_broker_id,
                    &e_filled,
                    &e_price,
                    &e_fee,
                    &e_paid,
                    &e_mark,
                    &e_mark_block,
                    &e_mark_log,
                    &self.broker.name(),
                ],
            )
            .await
            .map_err(DbError::query(format!(
                "recording the decisions on signals {}..{}",
                signal[0],
                signal[signal.len() - 1]
            )))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Records an order and, when it filled, its fill; `position_id` None: the account's open
    /// position in the token (stored by an earlier statement of the transaction).
    #[allow(clippy::too_many_arguments)]
    async fn record_order(
        &self,
        tx: &CachedTx<'_>,
        signal_id: Option<i64>,
        position_id: Option<i64>,
        order: &OrderRequest,
        exe: &Execution,
        usdc: Decimal,
    ) -> Result<i64, ExecError> {
        // The order and its fill (when it filled) in one statement.
        let order_id: i64 = tx
            .query_one(
                RECORD_ORDER,
                &[
                    &self.account,
                    &self.broker.name(),
                    &signal_id,
                    &position_id,
                    &order.token_id,
                    &order.side.code(),
                    &order.shares,
                    &order.quote.price,
                    &exe.status.as_str(),
                    &exe.broker_order_id,
                    &exe.shares,
                    &exe.price,
                    &exe.fee,
                    &usdc,
                ],
            )
            .await
            .map_err(DbError::query("recording an order"))?
            .get(0);
        Ok(order_id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn close(
        &self,
        tx: &CachedTx<'_>,
        book: &Book,
        o: &Open,
        reason: &'static str,
        price: Decimal,
        close: risk::Close,
        order_id: Option<i64>,
    ) -> Result<(), ExecError> {
        tx.execute(
            "UPDATE exec.positions SET status = 'closed', closed_at = now(), close_reason = $2, exit_price = $3, \
                                       proceeds = $4, realized_pnl = $5, fees = fees + $6 \
             WHERE position_id = $1",
            &[&o.position_id, &reason, &price, &close.proceeds, &close.pnl, &close.fee],
        )
        .await
        .map_err(DbError::query(format!("closing position {}", o.position_id)))?;
        self.add_cash(tx, close.proceeds, "crediting the account")
            .await?;
        self.record_exit(tx, book, o, reason, price, order_id, Some(close))
            .await
    }

    /// Records an exit decision; `close` is None for a live sell whose fills are still to come.
    #[allow(clippy::too_many_arguments)]
    async fn record_exit(
        &self,
        tx: &CachedTx<'_>,
        book: &Book,
        o: &Open,
        reason: &'static str,
        price: Decimal,
        order_id: Option<i64>,
        close: Option<risk::Close>,
    ) -> Result<(), ExecError> {
        let detail = match close {
            Some(c) => format!("cost {} proceeds {} pnl {}", o.cost, c.proceeds, c.pnl),
            None => format!(
                "cost {}; sell order sent, its fills close the position",
                o.cost
            ),
        };
        tx.execute(
            "INSERT INTO exec.decisions (account, kind, outcome, reason, position_id, order_id, token_id, price, \
                                         equity, cash, deployed, open_positions, day_start_equity, shares, fee, detail) \
             VALUES ($1, 'exit', 'placed', $2, $3, $4, $5::text::numeric, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &self.account,
                &reason,
                &o.position_id,
                &order_id,
                &o.token_id,
                &price,
                &book.equity,
                &book.cash,
                &book.deployed,
                &(book.open_positions as i32),
                &book.day_start_equity,
                &o.shares,
                &close.map(|c| c.fee),
                &detail,
            ],
        )
        .await
        .map_err(DbError::query(format!("recording the exit of position {}", o.position_id)))?;
        Ok(())
    }
}

/// The book of `cash`, these open positions at their marks (the payout once resolved) and
/// these live orders' reserves; `day` None: the day starts now.
fn compose(
    cash: Decimal,
    open: &[Open],
    pending: &[(String, Decimal)],
    day: Option<(Decimal, bool)>,
) -> Book {
    let held: Vec<Held> = open
        .iter()
        .map(|o| Held {
            shares: o.shares,
            cost: o.cost,
            mark: o.payout.or(o.mark),
        })
        .collect();
    let reserved: Decimal = pending.iter().map(|(_, r)| *r).sum();
    let new_tokens = pending
        .iter()
        .filter(|(t, _)| !open.iter().any(|o| &o.token_id == t))
        .count() as u32;
    Book::new(cash, &held, day.map(|d| d.0), day.is_some_and(|d| d.1))
        .with_reserved(reserved, new_tokens)
}

/// The account's live orders still holding a reserve: (token id, reserve) of each.
async fn book_pending(
    tx: &CachedTx<'_>,
    account: &str,
) -> Result<Vec<(String, Decimal)>, ExecError> {
    Ok(tx
        .query(PENDING, &[&account])
        .await
        .map_err(DbError::query("reading pending orders"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Adds bought shares to the account's open position in the token (opening it if needed), as
/// paper fills and live fills both do; returns the position as it is now. `bought` is (shares, USDC paid
/// with the fee, fee); `market` the token's (condition id, outcome index) when known.
pub(crate) async fn add_to_position(
    tx: &CachedTx<'_>,
    account: &str,
    token_id: &str,
    market: (Option<Vec<u8>>, Option<i16>),
    bought: (Decimal, Decimal, Decimal),
    signal_id: Option<i64>,
    trade: Option<TradeRef>,
) -> Result<Open, ExecError> {
    let (shares, paid, fee) = bought;
    Ok(tx
        .query_one(
            ADD_TO_POSITION,
            &[
                &account,
                &token_id,
                &market.0,
                &market.1,
                &shares,
                &paid,
                &fee,
                &signal_id,
                &trade.map(|t| t.price),
                &trade.map(|t| t.block_number),
                &trade.map(|t| t.log_index),
            ],
        )
        .await
        .map(|r| Open::from_row(&r))
        .map_err(DbError::query(format!(
            "adding to the position in token {token_id}"
        )))?)
}
