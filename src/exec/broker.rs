//! Brokers: where orders go. The paper broker fills at the chain's own recent trades inside the
//! decision; the live broker ([`super::live::LiveBroker`]) signs an order that the engine stores
//! and commits before the broker posts it, and learns its fills later from the chain.

use std::future::Future;

use rust_decimal::Decimal;
use tokio_postgres::Client;

use super::{
    params::Params,
    risk::Quote,
    sizing::{self, FeeModel},
    ExecError,
};
use crate::db::{CachedTx, DbError};

/// Buy or sell, as the CLOB says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Buy outcome tokens with USDC.
    Buy,
    /// Sell outcome tokens for USDC.
    Sell,
}

impl Side {
    /// 0 BUY, 1 SELL (the exchange's and the schema's encoding).
    pub fn code(self) -> i16 {
        match self {
            Side::Buy => 0,
            Side::Sell => 1,
        }
    }
}

/// The trade a quote was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeRef {
    /// Its price, USDC per share.
    pub price: Decimal,
    /// Its block.
    pub block_number: i64,
    /// Its log index.
    pub log_index: i32,
}

/// A broker's price for one side of one token now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced {
    /// The price the order would get, and its fee per share.
    pub quote: Quote,
    /// The trade the price came from, when it came from one (the position's first mark).
    pub trade: Option<TradeRef>,
}

/// An order to execute at a quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Outcome token id in decimal.
    pub token_id: String,
    /// Buy or sell.
    pub side: Side,
    /// Shares (2 decimals).
    pub shares: Decimal,
    /// The quote the order was sized at (its price is the limit).
    pub quote: Quote,
}

/// How an order ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Completely filled.
    Filled,
    /// Partly filled, the rest cancelled.
    Partial,
    /// Nothing filled.
    Unfilled,
}

impl OrderStatus {
    /// The value of exec.orders.status.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Filled => "filled",
            OrderStatus::Partial => "partial",
            OrderStatus::Unfilled => "unfilled",
        }
    }
}

/// What an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// How it ended.
    pub status: OrderStatus,
    /// Shares filled.
    pub shares: Decimal,
    /// Average fill price, USDC per share, before fees.
    pub price: Decimal,
    /// Fee paid, USDC.
    pub fee: Decimal,
    /// The broker's own id for the order, if it has one.
    pub broker_order_id: Option<String>,
}

/// A signed order to store before it is sent: everything needed to post exactly it again, and
/// to find it on the exchange and on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRecord {
    /// EIP-712 hash (the CLOB's order id, OrderFilled.orderHash).
    pub order_hash: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
    /// The POST /order body, byte for byte.
    pub body: String,
    /// GTC, GTD, FOK or FAK.
    pub order_type: &'static str,
    /// The order struct's version (1, 2 or 3).
    pub version: i16,
    /// Signed for the neg-risk exchange.
    pub neg_risk: bool,
    /// The market's tick size.
    pub tick_size: Decimal,
    /// Signed makerAmount, micro-units.
    pub maker_amount: i64,
    /// Signed takerAmount, micro-units.
    pub taker_amount: i64,
    /// Shares the order buys or sells.
    pub shares: Decimal,
    /// Its limit price.
    pub limit_price: Decimal,
    /// Expected taker fee, USDC.
    pub fee: Decimal,
    /// USDC to hold back from cash until the order settles (a buy's collateral and fee).
    pub reserve: Decimal,
}

/// What a broker did with an order inside the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Executed at once (paper).
    Done(Execution),
    /// Signed: the engine stores it and commits, then calls [`Broker::submit`] (live).
    Signed(SignedRecord),
    /// The broker cannot make this order (bad amounts, unknown exchange, …); the signal is
    /// skipped with this reason.
    Refused(String),
}

/// Where orders go. `quote` and `execute` run inside the executor's decision transaction, which
/// holds the account lock; a broker may use it to read prices and must not commit it.
pub trait Broker: Send + Sync {
    /// Recorded in exec.orders.broker.
    fn name(&self) -> &'static str;

    /// The price `side` of `token_id` would get now, from trades at or after `since_block`;
    /// None when there is no price to trade at.
    fn quote(
        &self,
        tx: &CachedTx<'_>,
        params: &Params,
        token_id: &str,
        side: Side,
        since_block: i64,
    ) -> impl Future<Output = Result<Option<Priced>, ExecError>> + Send;

    /// Whether [`Broker::quote_many`] costs about what one quote does, so that quotes are worth
    /// asking for ahead of need.
    fn quotes_together(&self) -> bool {
        false
    }

    /// The quotes of several (token id, since block) at once, in their order. One by one
    /// through [`Broker::quote`] unless the broker can do better (the paper broker reads them
    /// all in one statement).
    fn quote_many(
        &self,
        tx: &CachedTx<'_>,
        params: &Params,
        wanted: &[(&str, i64)],
        side: Side,
    ) -> impl Future<Output = Result<Vec<Option<Priced>>, ExecError>> + Send {
        async move {
            let mut out = Vec::with_capacity(wanted.len());
            for (token_id, since_block) in wanted {
                out.push(self.quote(tx, params, token_id, side, *since_block).await?);
            }
            Ok(out)
        }
    }

    /// Executes an order, or signs it for the engine to store.
    fn execute(
        &self,
        tx: &CachedTx<'_>,
        params: &Params,
        order: &OrderRequest,
    ) -> impl Future<Output = Result<Placement, ExecError>> + Send;

    /// Runs the broker's own statements once in `tx` (which is rolled back), so the first
    /// real decision on a new connection does not pay for preparing and planning them. It
    /// must not reach outside the database.
    fn warm_up(
        &self,
        _tx: &CachedTx<'_>,
        _params: &Params,
    ) -> impl Future<Output = Result<(), ExecError>> + Send {
        async { Ok(()) }
    }

    /// Sends the stored order `order_id` once the decision that stored it has committed.
    fn submit(
        &self,
        _client: &mut Client,
        _order_id: i64,
    ) -> impl Future<Output = Result<(), ExecError>> + Send {
        async { Ok(()) }
    }

    /// Brings the account's stored orders up to date (answers, fills, settlement); runs at
    /// start-up and before every round of decisions. Returns the orders it settled.
    fn reconcile(
        &self,
        _client: &mut Client,
        _account: &str,
    ) -> impl Future<Output = Result<Vec<i64>, ExecError>> + Send {
        async { Ok(Vec::new()) }
    }
}

/// The newest trade of each token ($1) at or after its block ($2) within the last $3 seconds,
/// by the token's place in $1 (from 1).
const LAST_TRADES: &str = "SELECT u.i, t.price, t.block_number, t.log_index \
     FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(token, since, i) \
     CROSS JOIN LATERAL exec.last_trade(u.token::numeric, u.since, now() - make_interval(secs => $3::numeric::float8)) t";

/// Paper trading: fills at the newest trade of the token on chain (at or after the signal's
/// block, within paper_price_window_seconds) moved against us by paper_slippage, paying the V2
/// taker fee `shares x r x (p(1 - p))^e` (taker_fee_rate, taker_fee_exponent). Orders fill
/// completely at the quote.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaperBroker;

impl PaperBroker {
    /// The paper price for `side` given the last trade price: up by the slippage for a buy
    /// (never above 1), down for a sell (never below 0), rounded to 6 decimals.
    pub fn price(last: Decimal, side: Side, slippage: Decimal) -> Decimal {
        let p = match side {
            Side::Buy => (last * (Decimal::ONE + slippage)).min(Decimal::ONE),
            Side::Sell => (last * (Decimal::ONE - slippage)).max(Decimal::ZERO),
        };
        sizing::usdc(p)
    }
}

impl Broker for PaperBroker {
    fn name(&self) -> &'static str {
        "paper"
    }

    async fn quote(
        &self,
        tx: &CachedTx<'_>,
        params: &Params,
        token_id: &str,
        side: Side,
        since_block: i64,
    ) -> Result<Option<Priced>, ExecError> {
        let mut one = self
            .quote_many(tx, params, &[(token_id, since_block)], side)
            .await?;
        Ok(one.pop().flatten())
    }

    fn quotes_together(&self) -> bool {
        true
    }

    /// Every token's newest trade in one statement.
    async fn quote_many(
        &self,
        tx: &CachedTx<'_>,
        params: &Params,
        wanted: &[(&str, i64)],
        side: Side,
    ) -> Result<Vec<Option<Priced>>, ExecError> {
        let tokens: Vec<&str> = wanted.iter().map(|w| w.0).collect();
        let since: Vec<i64> = wanted.iter().map(|w| w.1).collect();
        let rows = tx
            .query(
                LAST_TRADES,
                &[&tokens, &since, &params.paper.price_window_secs],
            )
            .await
            .map_err(DbError::query(match tokens.as_slice() {
                [one] => format!("reading recent trades of token {one}"),
                _ => format!("reading recent trades of {} tokens", tokens.len()),
            }))?;
        let mut out = vec![None; wanted.len()];
        for row in rows {
            let i: i64 = row.get(0);
            let trade = TradeRef {
                price: row.get(1),
                block_number: row.get(2),
                log_index: row.get(3),
            };
            let price = Self::price(trade.price, side, params.paper.slippage);
            out[(i - 1) as usize] = Some(Priced {
                quote: Quote {
                    price,
                    fee_per_share: params.paper.fees.per_share(price),
                },
                trade: Some(trade),
            });
        }
        Ok(out)
    }

    /// The quote of token 0, which never trades.
    async fn warm_up(&self, tx: &CachedTx<'_>, params: &Params) -> Result<(), ExecError> {
        self.quote(tx, params, "0", Side::Buy, i64::MAX)
            .await
            .map(|_| ())
    }

    async fn execute(
        &self,
        _tx: &CachedTx<'_>,
        _params: &Params,
        order: &OrderRequest,
    ) -> Result<Placement, ExecError> {
        Ok(Placement::Done(Execution {
            status: OrderStatus::Filled,
            shares: order.shares,
            price: order.quote.price,
            fee: sizing::usdc(order.shares * order.quote.fee_per_share),
            broker_order_id: None,
        }))
    }
}

/// The paper broker's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperParams {
    /// paper_slippage: relative price move against us.
    pub slippage: Decimal,
    /// paper_price_window_seconds: how recent a trade must be to give a price.
    pub price_window_secs: Decimal,
    /// taker_fee_rate and taker_fee_exponent.
    pub fees: FeeModel,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn paper_prices_move_against_us_and_stay_in_range() {
        assert_eq!(
            PaperBroker::price(d("0.5"), Side::Buy, d("0.01")),
            d("0.505")
        );
        assert_eq!(
            PaperBroker::price(d("0.5"), Side::Sell, d("0.01")),
            d("0.495")
        );
        assert_eq!(
            PaperBroker::price(d("0.123457"), Side::Buy, d("0.01")),
            d("0.124692")
        );
        assert_eq!(PaperBroker::price(d("0.995"), Side::Buy, d("0.01")), d("1"));
        assert_eq!(PaperBroker::price(d("0.4"), Side::Sell, d("0")), d("0.4"));
    }
}
