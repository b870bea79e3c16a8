//! Live trading on the Polymarket CLOB.
//!
//! An entry is decided in one transaction as on paper, but the order does not fill there: the
//! broker asks the CLOB for `/version`, the tick size and the neg-risk flag, computes the
//! amounts, signs, and the engine stores the signed order (hash, signature, exact body) with
//! its cash reserve and commits. Only then is it posted. Whatever happens next, the stored
//! order is the only order that signal can ever have (a unique index on exec.orders.signal_id),
//! and posting its stored body again cannot make a second one: the exchange knows an order by
//! its hash and fills it at most once.
//!
//! - The POST is repeated (same bytes) only after 429 or 503, answers that say the CLOB did
//!   not take it. After a timeout or a dropped connection nothing is known; the order stays
//!   `posted` and reconciliation looks it up by hash.
//! - Fills come from the chain: every `chain.order_filled` row with our order hash becomes an
//!   exec.fills row (keyed by its block and log index, so reading it twice books it once) and
//!   goes into the position through the same code as a paper fill.
//! - Reconciliation (start-up and every round) books those fills, asks the CLOB about orders
//!   whose answer was lost, and settles orders the CLOB is done with: the chain's fills are
//!   final, the rest of the reserve goes back to cash.
//! - An order stored but never posted (stopped between commit and POST) is posted at restart
//!   only if it was signed within `live_repost_seconds`; older, it is marked `not_sent`. An
//!   order that was posted, is unknown to the CLOB and has no fills is `not_sent` and never
//!   posted again: its POST may still have been on its way.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use ethers::types::{Address, U256};
use rust_decimal::Decimal;
use tokio_postgres::Client;

use super::{
    broker::{Broker, OrderRequest, Placement, Priced, Side, SignedRecord},
    engine::add_to_position,
    params::Params,
    risk::Quote,
    sizing::{self, FeeModel},
    ExecError,
};
use crate::{
    clob::{
        amounts::order_amounts,
        order::{OrderType, SignatureType},
        ApiCreds, ClobClient, ClobError, ClobOptions, Order, PrivateKey, Secret, TickSize,
    },
    db::{CachedTx, DbError, StatementCache},
};

/// What live mode needs. Debug shows no secret (the key and API secret print `***`).
#[derive(Clone)]
pub struct LiveConfig {
    /// CLOB base URL.
    pub clob_url: String,
    /// The signing key.
    pub key: PrivateKey,
    /// API credentials; None: derived (or created) with the key through L1 auth at start-up.
    pub creds: Option<ApiCreds>,
    /// Nonce of the API key to derive or create.
    pub api_key_nonce: u64,
    /// Who signs for the funds.
    pub signature_type: SignatureType,
    /// The proxy, safe or deposit wallet that holds the funds (signature types 1-3).
    pub funder: Option<Address>,
    /// How orders rest: FAK (the default), FOK or GTC.
    pub order_type: OrderType,
    /// Chain id orders are signed for.
    pub chain_id: u64,
    /// POSTs of one order after 429/503, beyond the first.
    pub post_retries: u32,
    /// First wait before posting again (doubles each time; a Retry-After wins).
    pub post_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// USDC a new live account starts with (required when the account does not exist yet).
    pub capital: Option<Decimal>,
}

impl fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveConfig")
            .field("clob_url", &crate::rpc::redact(&self.clob_url))
            .field("key", &self.key)
            .field("address", &self.key.address())
            .field("creds", &self.creds)
            .field("signature_type", &self.signature_type)
            .field("funder", &self.funder)
            .field("order_type", &self.order_type)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

/// Where the private key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A file holding the hex key.
    File(PathBuf),
    /// An environment variable holding it.
    Env(&'static str),
}

impl KeySource {
    /// Reads the key.
    pub fn load(&self) -> Result<PrivateKey, ExecError> {
        match self {
            KeySource::File(p) => PrivateKey::from_file(p),
            KeySource::Env(name) => PrivateKey::from_env(name),
        }
        .map_err(|e| ExecError::LiveConfig(e.to_string()))
    }
}

/// API credentials from three parts given together, or none at all (derive them).
pub fn creds_from_parts(
    key: Option<String>,
    secret: Option<Secret>,
    passphrase: Option<Secret>,
) -> Result<Option<ApiCreds>, ExecError> {
    match (key, secret, passphrase) {
        (None, None, None) => Ok(None),
        (Some(api_key), Some(secret), Some(passphrase)) => {
            if api_key.trim().is_empty()
                || secret.expose().trim().is_empty()
                || passphrase.expose().trim().is_empty()
            {
                return Err(ExecError::LiveConfig(
                    "an API key, secret or passphrase is empty".into(),
                ));
            }
            Ok(Some(ApiCreds {
                api_key,
                secret,
                passphrase,
            }))
        }
        _ => Err(ExecError::LiveConfig(
            "give all three of --api-key, --api-secret and --api-passphrase (POLY_API_KEY, \
             POLY_API_SECRET, POLY_PASSPHRASE), or none to derive them from the key"
                .into(),
        )),
    }
}

/// The command-line flags of live mode (each with its environment twin). Secrets are read into
/// [`Secret`] so that a `{:?}` of the parsed flags shows `***`.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveArgs {
    /// File holding the hex private key (default: the key in POLY_PRIVATE_KEY).
    #[arg(long, env = "ORDERFLOW_KEY_FILE", hide_env_values = true)]
    pub key_file: Option<PathBuf>,
    /// The CLOB's base URL.
    #[arg(long, env = "ORDERFLOW_CLOB_URL", default_value = crate::clob::DEFAULT_CLOB_URL)]
    pub clob_url: String,
    /// CLOB API key (with --api-secret and --api-passphrase; none of the three: derive them from
    /// the private key through L1 auth).
    #[arg(long, env = "POLY_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// CLOB API secret (prefer the environment: flags show in the process list).
    #[arg(long, env = "POLY_API_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub api_secret: Option<Secret>,
    /// CLOB API passphrase (prefer the environment).
    #[arg(long, env = "POLY_PASSPHRASE", hide_env_values = true, value_parser = parse_secret)]
    pub api_passphrase: Option<Secret>,
    /// Nonce of the API key to derive (or create) when no credentials are given.
    #[arg(long, env = "ORDERFLOW_API_KEY_NONCE", default_value_t = 0)]
    pub api_key_nonce: u64,
    /// 0 EOA (the key's own funds), 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271 (deposit
    /// wallet); 1-3 need --funder.
    #[arg(long, env = "ORDERFLOW_SIGNATURE_TYPE", default_value = "0", value_parser = parse_signature_type)]
    pub signature_type: SignatureType,
    /// The proxy, safe or deposit wallet that holds the funds (the orders' maker).
    #[arg(long, env = "ORDERFLOW_FUNDER", value_parser = parse_address)]
    pub funder: Option<Address>,
    /// FAK (take what the book has at the limit now, cancel the rest), FOK, or GTC (rest).
    #[arg(long, env = "ORDERFLOW_ORDER_TYPE", default_value = "FAK")]
    pub order_type: LiveOrderType,
    /// Chain id orders are signed for.
    #[arg(long, env = "ORDERFLOW_CHAIN_ID", default_value_t = crate::clob::POLYGON)]
    pub chain_id: u64,
    /// Times one order is posted again after 429 or 503.
    #[arg(long, env = "ORDERFLOW_POST_RETRIES", default_value_t = 3)]
    pub post_retries: u32,
    /// Milliseconds before the first repeat (doubling; a Retry-After header wins).
    #[arg(long, env = "ORDERFLOW_POST_BACKOFF_MS", default_value_t = 500)]
    pub post_backoff_ms: u64,
    /// Seconds a CLOB request may take.
    #[arg(long, env = "ORDERFLOW_CLOB_TIMEOUT_SECS", default_value_t = 10)]
    pub clob_timeout_secs: u64,
    /// USDC a new live account may trade (needed the first time an account is used live).
    #[arg(long, env = "ORDERFLOW_EXECUTOR_CAPITAL")]
    pub capital: Option<Decimal>,
}

fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

fn parse_address(s: &str) -> Result<Address, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a 0x address of 20 bytes"))
}

impl LiveArgs {
    /// Reads the key and checks the flags; every failure is one line.
    pub fn config(&self) -> Result<LiveConfig, ExecError> {
        let source = match &self.key_file {
            Some(p) => KeySource::File(p.clone()),
            None => KeySource::Env(crate::clob::cli::KEY_ENV),
        };
        let key = source.load()?;
        let creds = creds_from_parts(
            self.api_key.clone(),
            self.api_secret.clone(),
            self.api_passphrase.clone(),
        )?;
        crate::clob::client::ClobUrl::parse(&self.clob_url)
            .map_err(|e| ExecError::LiveConfig(e.to_string()))?;
        if let Some(c) = self.capital.filter(|c| *c <= Decimal::ZERO) {
            return Err(ExecError::LiveConfig(format!(
                "--capital {c}: expected USDC above 0"
            )));
        }
        Ok(LiveConfig {
            clob_url: self.clob_url.clone(),
            key,
            creds,
            api_key_nonce: self.api_key_nonce,
            signature_type: self.signature_type,
            funder: self.funder,
            order_type: self.order_type.0,
            chain_id: self.chain_id,
            post_retries: self.post_retries,
            post_backoff: Duration::from_millis(self.post_backoff_ms),
            timeout: Duration::from_secs(self.clob_timeout_secs.max(1)),
            capital: self.capital,
        })
    }
}

/// Orders on the CLOB; see the module documentation.
#[derive(Debug, Clone)]
pub struct LiveBroker {
    clob: ClobClient,
    maker: Address,
    signer: Address,
    signature_type: SignatureType,
    order_type: OrderType,
    post_retries: u32,
    post_backoff: Duration,
    /// A posted order unknown to the CLOB is judged only after this long (its POST may still
    /// be in flight until the request's timeout).
    lookup_grace: Duration,
}

impl LiveBroker {
    /// Checks the configuration, gets API credentials (derived through L1 auth when none were
    /// given), proves them with one L2 call and reads `/version`: a broker that starts can
    /// trade. Every failure is one line naming the problem.
    pub async fn connect(config: &LiveConfig) -> Result<LiveBroker, ExecError> {
        let address = config.key.address();
        let (maker, signer) =
            match (config.signature_type, config.funder) {
                (SignatureType::Eoa, None) => (address, address),
                (SignatureType::Eoa, Some(f)) if f == address => (address, address),
                (SignatureType::Eoa, Some(_)) => return Err(ExecError::LiveConfig(
                    "--funder differs from the key's address, but signature type 0 (EOA) trades \
                     the key's own funds: use --signature-type 1, 2 or 3 for a proxy, safe or \
                     deposit wallet"
                        .into(),
                )),
                (SignatureType::Poly1271, Some(f)) => (f, f),
                (_, Some(f)) => (f, address),
                (t, None) => {
                    return Err(ExecError::LiveConfig(format!(
                        "signature type {} needs --funder (the wallet that holds the funds)",
                        t.as_u8()
                    )))
                }
            };
        let opts = ClobOptions {
            timeout: config.timeout,
            chain_id: config.chain_id,
            ..ClobOptions::default()
        };
        let bare = ClobClient::new(Some(&config.clob_url), opts)
            .map_err(|e| ExecError::LiveConfig(e.to_string()))?
            .with_key(config.key.clone());
        let creds = match &config.creds {
            Some(c) => c.clone(),
            None => derive_creds(&bare, config.api_key_nonce).await?,
        };
        let clob = bare.with_creds(creds);
        clob.check_creds()
            .await
            .map_err(|e| start_error(e, address))?;
        let version = clob
            .refresh_version()
            .await
            .map_err(|e| start_error(e, address))?;
        tracing::info!(target: "executor::live", clob = %clob.url(), %version,
                       address = %ethers::utils::to_checksum(&address, None),
                       maker = %ethers::utils::to_checksum(&maker, None), "CLOB ready");
        Ok(LiveBroker {
            clob,
            maker,
            signer,
            signature_type: config.signature_type,
            order_type: config.order_type,
            post_retries: config.post_retries,
            post_backoff: config.post_backoff,
            lookup_grace: config.timeout,
        })
    }

    /// Signs `order` as the CLOB wants it now.
    async fn prepare(&self, order: &OrderRequest) -> Result<SignedRecord, ClobError> {
        // Asked at every order: the exchange may move to a new version at any time.
        let version = self.clob.refresh_version().await?;
        let tick = self.clob.tick_size(&order.token_id).await?;
        let neg_risk = self.clob.neg_risk(&order.token_id).await?;
        let side = match order.side {
            Side::Buy => crate::clob::Side::Buy,
            Side::Sell => crate::clob::Side::Sell,
        };
        let price = on_tick(order.quote.price, tick, order.side);
        let (maker_amount, taker_amount) = order_amounts(side, price, order.shares, tick)?;
        let token_id = U256::from_dec_str(&order.token_id).map_err(|_| {
            ClobError::BadOrder(format!("token id {} is not a uint256", order.token_id))
        })?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let o = Order {
            salt: U256::from(rand::random::<u64>() % crate::clob::order::MAX_SALT),
            maker: self.maker,
            signer: self.signer,
            taker: Address::zero(),
            token_id,
            maker_amount: U256::from(maker_amount),
            taker_amount: U256::from(taker_amount),
            expiration: U256::zero(),
            nonce: U256::zero(),
            fee_rate_bps: U256::zero(),
            side,
            signature_type: self.signature_type,
            timestamp: U256::from(now_ms),
            metadata: [0; 32],
            builder: [0; 32],
        };
        let signed = self.clob.sign_order(&o, neg_risk).await?;
        debug_assert_eq!(signed.domain.version, version);
        let body = self.clob.order_body(&signed, self.order_type, false)?;
        let micro = |m: u128| Decimal::from_i128_with_scale(m as i128, 6);
        let (shares, collateral) = match order.side {
            Side::Buy => (micro(taker_amount), micro(maker_amount)),
            Side::Sell => (micro(maker_amount), micro(taker_amount)),
        };
        let fee = sizing::usdc(shares * order.quote.fee_per_share);
        Ok(SignedRecord {
            order_hash: signed.hash.to_vec(),
            signature: signed.signature.clone(),
            body,
            order_type: self.order_type.as_str(),
            version: i16::from(signed.domain.version.number()),
            neg_risk,
            tick_size: tick.tick,
            maker_amount: i64::try_from(maker_amount).unwrap_or(i64::MAX),
            taker_amount: i64::try_from(taker_amount).unwrap_or(i64::MAX),
            shares,
            limit_price: price,
            fee,
            reserve: match order.side {
                Side::Buy => collateral + fee,
                Side::Sell => Decimal::ZERO,
            },
        })
    }

    /// POSTs the stored body: again after 429/503 (same bytes), never after silence.
    async fn post(&self, client: &Client, row: &Stored) -> Result<(), ExecError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            client
                .execute(
                    "UPDATE exec.orders SET post_attempts = post_attempts + 1 WHERE order_id = $1",
                    &[&row.order_id],
                )
                .await
                .map_err(DbError::query("counting a post attempt"))?;
            match self.clob.post_order_body(&row.body, &row.hash).await {
                Ok(r) => {
                    client
                        .execute(
                            "UPDATE exec.orders SET status = 'live', clob_status = $2, \
                                    broker_order_id = coalesce(nullif($3, ''), broker_order_id), answered_at = now() \
                             WHERE order_id = $1 AND status = 'posted'",
                            &[&row.order_id, &r.status, &r.order_id],
                        )
                        .await
                        .map_err(DbError::query("recording the CLOB's answer"))?;
                    tracing::info!(target: "executor::live", order_id = row.order_id, order_hash = %row.hash,
                                   status = %r.status, "order taken by the CLOB");
                    return Ok(());
                }
                Err(e) if e.is_unauthorized() => {
                    let why = format!("the CLOB refused the API credentials: {e}");
                    finish(client, row.order_id, "not_sent", &why).await?;
                    return Err(ExecError::Unauthorized(ethers::utils::to_checksum(
                        &self.clob.address().unwrap_or_default(),
                        None,
                    )));
                }
                Err(e) if e.surely_not_taken() && attempt <= self.post_retries => {
                    let wait = e
                        .retry_after()
                        .map(Duration::from_secs)
                        .unwrap_or(self.post_backoff * 2u32.saturating_pow(attempt - 1))
                        .min(Duration::from_secs(30));
                    tracing::warn!(target: "executor::live", order_id = row.order_id, error = %e,
                                   wait_ms = wait.as_millis() as u64, "order not taken; posting the same order again");
                    tokio::time::sleep(wait).await;
                }
                Err(e) if e.surely_not_taken() => {
                    let why = format!("not taken after {attempt} attempts: {e}");
                    finish(client, row.order_id, "not_sent", &why).await?;
                    tracing::warn!(target: "executor::live", order_id = row.order_id, %why, "order given up");
                    return Ok(());
                }
                Err(
                    e @ (ClobError::Http {
                        status: 400..=499, ..
                    }
                    | ClobError::Refused { .. }),
                ) => {
                    finish(client, row.order_id, "rejected", &e.to_string()).await?;
                    tracing::warn!(target: "executor::live", order_id = row.order_id, error = %e, "order rejected");
                    return Ok(());
                }
                Err(e) => {
                    // No answer we can trust: the order may be on the book. Reconciliation
                    // looks it up by hash; it is never posted blindly again.
                    tracing::warn!(target: "executor::live", order_id = row.order_id, order_hash = %row.hash,
                                   error = %e, "no answer to the POST; the order will be looked up");
                    return Ok(());
                }
            }
        }
    }

    /// Reads the CLOB's state of a posted order whose answer was lost and of taken orders not
    /// yet settled, and settles what can be settled.
    async fn review(&self, client: &mut Client, o: &Pending) -> Result<Review, ExecError> {
        let lookup = self.clob.get_order(&o.hash).await;
        let found = match lookup {
            Ok(f) => f,
            Err(e) if e.is_unauthorized() => {
                return Err(ExecError::Unauthorized(ethers::utils::to_checksum(
                    &self.clob.address().unwrap_or_default(),
                    None,
                )))
            }
            Err(e) => {
                tracing::warn!(target: "executor::live", order_id = o.order_id, error = %e,
                               "cannot look the order up yet");
                return Ok(Review::Wait);
            }
        };
        if o.status == "posted" {
            match &found {
                Some(f) => {
                    client
                        .execute(
                            "UPDATE exec.orders SET status = 'live', clob_status = $2, answered_at = now(), \
                                    broker_order_id = coalesce(broker_order_id, nullif($3, '')) \
                             WHERE order_id = $1 AND status = 'posted'",
                            &[&o.order_id, &f.status, &f.id],
                        )
                        .await
                        .map_err(DbError::query("recording a found order"))?;
                }
                None if o.filled_shares > Decimal::ZERO => {
                    client
                        .execute(
                            "UPDATE exec.orders SET status = 'live', answered_at = now() \
                             WHERE order_id = $1 AND status = 'posted'",
                            &[&o.order_id],
                        )
                        .await
                        .map_err(DbError::query("recording a filled order"))?;
                }
                None if o.posted_secs > self.lookup_grace.as_secs_f64() => {
                    finish(
                        client,
                        o.order_id,
                        "not_sent",
                        "the POST's answer was lost and the CLOB does not know the order; it has no fills and is not posted again",
                    )
                    .await?;
                    return Ok(Review::Settled);
                }
                None => return Ok(Review::Wait),
            }
        }
        let filled = o.filled_shares;
        let settle = match &found {
            _ if filled >= o.shares => true,
            Some(f) if !f.is_terminal() => false,
            Some(f) if filled >= f.size_matched => true,
            _ => o.answered_secs.unwrap_or(0.0) >= o.settle_secs,
        };
        if !settle {
            return Ok(Review::Wait);
        }
        if let Some(f) = found.as_ref().filter(|f| filled < f.size_matched) {
            tracing::warn!(target: "executor::live", order_id = o.order_id, clob_matched = %f.size_matched,
                           chain_filled = %filled, "settling on the chain's fills: the CLOB matched more than reached the chain");
        }
        let status = if filled >= o.shares {
            "filled"
        } else if filled > Decimal::ZERO {
            "partial"
        } else {
            "unfilled"
        };
        settle_order(client, o.order_id, status).await?;
        Ok(Review::Settled)
    }
}

enum Review {
    Wait,
    Settled,
}

/// A stored order to post.
struct Stored {
    order_id: i64,
    hash: String,
    body: String,
}

/// An order not yet settled, as reconciliation sees it.
struct Pending {
    order_id: i64,
    hash: String,
    status: String,
    shares: Decimal,
    filled_shares: Decimal,
    age_secs: f64,
    posted_secs: f64,
    answered_secs: Option<f64>,
    settle_secs: f64,
    repost_secs: f64,
}

async fn derive_creds(clob: &ClobClient, nonce: u64) -> Result<ApiCreds, ExecError> {
    let address = clob.address().unwrap_or_default();
    match clob.derive_api_key(nonce).await {
        Ok(c) => Ok(c),
        Err(ClobError::Http {
            status: 400..=499, ..
        }) => {
            // No key for this nonce yet: create it (once; creating is not retried).
            clob.create_api_key(nonce)
                .await
                .map_err(|e| start_error(e, address))
        }
        Err(e) => Err(start_error(e, address)),
    }
}

fn start_error(e: ClobError, address: Address) -> ExecError {
    if e.is_unauthorized() {
        ExecError::Unauthorized(ethers::utils::to_checksum(&address, None))
    } else {
        ExecError::LiveConfig(format!("cannot reach the CLOB: {e}"))
    }
}

/// `price` on the tick grid: up for a buy (the order stays marketable), down for a sell.
fn on_tick(price: Decimal, tick: TickSize, side: Side) -> Decimal {
    let steps = price / tick.tick;
    let steps = match side {
        Side::Buy => steps.ceil(),
        Side::Sell => steps.floor(),
    };
    (steps * tick.tick)
        .max(tick.tick)
        .min(Decimal::ONE - tick.tick)
        .normalize()
}

/// Ends an order the CLOB never took (rejected or not_sent): its reserve goes back to cash and
/// the entry's decision becomes 'rejected' with the reason.
async fn finish(client: &Client, order_id: i64, status: &str, why: &str) -> Result<(), ExecError> {
    client
        .execute(
            "WITH was AS (SELECT account, reserve FROM exec.orders \
                          WHERE order_id = $1 AND status IN ('signed', 'posted', 'live')), \
                  o AS (UPDATE exec.orders SET status = $2, error = $3, settled_at = now(), reserve = 0 \
                        WHERE order_id = $1 AND status IN ('signed', 'posted', 'live') RETURNING order_id), \
                  a AS (UPDATE exec.accounts c SET cash = cash + was.reserve, updated_at = now() FROM was, o \
                        WHERE c.account = was.account) \
             UPDATE exec.decisions SET outcome = 'rejected', detail = $3 \
             WHERE order_id = $1 AND kind = 'entry' AND EXISTS (SELECT 1 FROM o)",
            &[&order_id, &status, &why],
        )
        .await
        .map_err(DbError::query(format!("ending order {order_id} as {status}")))?;
    Ok(())
}

/// Settles an order the CLOB is done with: the chain's fills stand, the rest of the reserve
/// goes back to cash.
async fn settle_order(client: &Client, order_id: i64, status: &str) -> Result<(), ExecError> {
    client
        .execute(
            "WITH was AS (SELECT account, reserve FROM exec.orders WHERE order_id = $1 AND status IN ('posted', 'live')), \
                  o AS (UPDATE exec.orders SET status = $2, settled_at = now(), reserve = 0 \
                        WHERE order_id = $1 AND status IN ('posted', 'live') RETURNING order_id) \
             UPDATE exec.accounts c SET cash = cash + was.reserve, updated_at = now() FROM was, o \
             WHERE c.account = was.account",
            &[&order_id, &status],
        )
        .await
        .map_err(DbError::query(format!("settling order {order_id}")))?;
    Ok(())
}

/// Books every fill of the account's CLOB orders that chain.order_filled has and exec.fills
/// has not, under the account lock: buys into the position as paper fills go, sells out of it.
/// The exact token match is `numeric_eq`, as in exec.last_trade, so the planner keeps to the
/// token-key btree instead of ANDing it with every entry of a busy token.
async fn book_chain_fills(tx: &CachedTx<'_>, account: &str) -> Result<u64, ExecError> {
    let rows = tx
        .query(
            "SELECT o.order_id, o.side, o.token_id::text, o.signal_id, o.position_id, \
                    f.block_number, f.log_index, f.maker_amount, f.taker_amount, f.fee \
             FROM exec.orders o \
             JOIN chain.order_filled f ON chain.token_key(f.token_id) = chain.token_key(o.token_id) AND numeric_eq(f.token_id, o.token_id) \
                                      AND f.block_number >= coalesce(o.from_block, 0) \
                                      AND f.order_hash = o.order_hash \
             WHERE o.account = $1 AND o.broker = 'clob' AND o.order_hash IS NOT NULL \
               AND o.created_at > now() - interval '7 days' \
               AND NOT EXISTS (SELECT 1 FROM exec.fills x \
                               WHERE x.block_number = f.block_number AND x.log_index = f.log_index) \
             ORDER BY f.block_number, f.log_index",
            &[&account],
        )
        .await
        .map_err(DbError::query("reading our orders' fills on chain"))?;
    let micro = |v: i64| Decimal::new(v, 6);
    for r in &rows {
        let order_id: i64 = r.get(0);
        let side: i16 = r.get(1);
        let token_id: String = r.get(2);
        let signal_id: Option<i64> = r.get(3);
        let position_id: Option<i64> = r.get(4);
        let (block, log): (i64, i32) = (r.get(5), r.get(6));
        let (maker, taker, fee) = (micro(r.get(7)), micro(r.get(8)), micro(r.get(9)));
        let (shares, usdc) = if side == 0 {
            (taker, maker)
        } else {
            (maker, taker)
        };
        if shares <= Decimal::ZERO {
            continue;
        }
        let price = (usdc / shares).round_dp(6);
        let (position, cash_moved) = if side == 0 {
            let paid = usdc + fee;
            let position = add_to_position(
                tx,
                account,
                &token_id,
                (None, None),
                (shares, paid, fee),
                signal_id,
                None,
            )
            .await?
            .position_id;
            (Some(position), -paid)
        } else {
            let proceeds = usdc - fee;
            if let Some(p) = position_id {
                sell_out_of(tx, p, shares, proceeds, fee, price).await?;
            }
            (position_id, proceeds)
        };
        // A buy's payment comes out of its reserve; past the reserve (a fill after the order
        // settled) out of cash. A sale's proceeds go to cash.
        tx.execute(
            "WITH o AS (SELECT reserve FROM exec.orders WHERE order_id = $1::bigint), \
                  u AS (UPDATE exec.orders SET filled_shares = filled_shares + $2::numeric, \
                               reserve = reserve - least(reserve, greatest(-$3::numeric, 0)), \
                               position_id = coalesce(position_id, $4::bigint) \
                        WHERE order_id = $1::bigint RETURNING account) \
             UPDATE exec.accounts a \
             SET cash = cash + CASE WHEN $3::numeric < 0 THEN least(0, $3::numeric + o.reserve) ELSE $3::numeric END, \
                 updated_at = now() \
             FROM o, u WHERE a.account = u.account",
            &[&order_id, &shares, &cash_moved, &position],
        )
        .await
        .map_err(DbError::query(format!("booking a fill of order {order_id}")))?;
        tx.execute(
            "INSERT INTO exec.fills (order_id, shares, price, fee, usdc, block_number, log_index) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&order_id, &shares, &price, &fee, &cash_moved, &block, &log],
        )
        .await
        .map_err(DbError::query("recording a fill"))?;
        if let Some(p) = position {
            tx.execute(
                "UPDATE exec.decisions SET position_id = $2 WHERE order_id = $1 AND position_id IS NULL",
                &[&order_id, &p],
            )
            .await
            .map_err(DbError::query("linking a decision to its position"))?;
        }
    }
    Ok(rows.len() as u64)
}

/// Takes sold shares out of a position at their share of its cost; the last share sold
/// closes it (a live stop-loss).
async fn sell_out_of(
    tx: &CachedTx<'_>,
    position_id: i64,
    shares: Decimal,
    proceeds: Decimal,
    fee: Decimal,
    price: Decimal,
) -> Result<(), ExecError> {
    tx.execute(
        "UPDATE exec.positions p SET \
                shares = greatest(p.shares - $2::numeric, 0), \
                cost = p.cost - c.part, \
                fees = p.fees + $4::numeric, \
                proceeds = coalesce(p.proceeds, 0) + $3::numeric, \
                realized_pnl = coalesce(p.realized_pnl, 0) + $3::numeric - c.part, \
                exit_price = $5::numeric, \
                status = CASE WHEN p.shares <= $2::numeric THEN 'closed' ELSE p.status END, \
                closed_at = CASE WHEN p.shares <= $2::numeric THEN now() END, \
                close_reason = CASE WHEN p.shares <= $2::numeric THEN 'stop_loss' END \
         FROM (SELECT round(cost * least($2::numeric / nullif(shares, 0), 1), 6) AS part \
               FROM exec.positions WHERE position_id = $1::bigint) c \
         WHERE p.position_id = $1::bigint AND p.status = 'open'",
        &[&position_id, &shares, &proceeds, &fee, &price],
    )
    .await
    .map_err(DbError::query(format!(
        "selling out of position {position_id}"
    )))?;
    Ok(())
}

impl Broker for LiveBroker {
    fn name(&self) -> &'static str {
        "clob"
    }

    /// The best price on the CLOB's book for `side` (the lowest ask for a buy), with the
    /// market's own V2 fee curve from `/clob-markets`. A book or market the CLOB cannot give
    /// now means no price (the signal is skipped as no_price).
    async fn quote(
        &self,
        tx: &CachedTx<'_>,
        _params: &Params,
        token_id: &str,
        side: Side,
        _since_block: i64,
    ) -> Result<Option<Priced>, ExecError> {
        let book = match self.clob.book(token_id).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(target: "executor::live", token_id, error = %e, "no book");
                return Ok(None);
            }
        };
        let best = match side {
            Side::Buy => book.asks.iter().map(|l| l.price).min(),
            Side::Sell => book.bids.iter().map(|l| l.price).max(),
        };
        let Some(price) = best.filter(|p| *p > Decimal::ZERO && *p < Decimal::ONE) else {
            return Ok(None);
        };
        let known: Option<String> = tx
            .query_opt(
                "SELECT chain.hex(condition_id) FROM market.tokens WHERE token_id = $1::text::numeric",
                &[&token_id],
            )
            .await
            .map_err(DbError::query(format!("reading the market of token {token_id}")))?
            .and_then(|r| r.get(0));
        let Some(condition) = known.or(book.market) else {
            tracing::warn!(target: "executor::live", token_id, "market unknown: no fee curve");
            return Ok(None);
        };
        let market = match self.clob.clob_market(&condition).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(target: "executor::live", token_id, error = %e, "no fee curve");
                return Ok(None);
            }
        };
        let fees = FeeModel {
            rate: market.fee_rate,
            exponent: market.fee_exponent,
        };
        Ok(Some(Priced {
            quote: Quote {
                price,
                fee_per_share: fees.per_share(price),
            },
            trade: None,
        }))
    }

    async fn execute(
        &self,
        _tx: &CachedTx<'_>,
        _params: &Params,
        order: &OrderRequest,
    ) -> Result<Placement, ExecError> {
        match self.prepare(order).await {
            Ok(signed) => Ok(Placement::Signed(signed)),
            Err(e) if e.is_unauthorized() => Err(ExecError::Unauthorized(
                ethers::utils::to_checksum(&self.clob.address().unwrap_or_default(), None),
            )),
            // The decision rolls back and the signal is tried again at the next round.
            Err(e) if e.is_retryable() => Err(ExecError::Clob(e)),
            Err(e) => Ok(Placement::Refused(e.to_string())),
        }
    }

    async fn submit(&self, client: &mut Client, order_id: i64) -> Result<(), ExecError> {
        // 'signed' -> 'posted' commits before the POST: a 'signed' order found after a crash
        // was provably never sent.
        let row = client
            .query_opt(
                "UPDATE exec.orders SET status = 'posted', posted_at = now() \
                 WHERE order_id = $1 AND status = 'signed' RETURNING chain.hex(order_hash), body",
                &[&order_id],
            )
            .await
            .map_err(DbError::query(format!("marking order {order_id} posted")))?;
        let Some(row) = row else { return Ok(()) };
        let stored = Stored {
            order_id,
            hash: row.get(0),
            body: row.get(1),
        };
        self.post(client, &stored).await
    }

    async fn reconcile(&self, client: &mut Client, account: &str) -> Result<Vec<i64>, ExecError> {
        // Once a round at most: its statements are not worth keeping.
        let statements = StatementCache::default();
        let tx = CachedTx::new(
            client
                .transaction()
                .await
                .map_err(DbError::query("opening a reconciliation transaction"))?,
            &statements,
        );
        tx.execute(
            "SELECT 1 FROM exec.accounts WHERE account = $1 FOR UPDATE",
            &[&account],
        )
        .await
        .map_err(DbError::query(format!("locking account {account}")))?;
        let booked = book_chain_fills(&tx, account).await?;
        let rows = tx
            .query(
                "SELECT o.order_id, chain.hex(o.order_hash), o.status, o.shares, o.filled_shares, \
                        extract(epoch FROM now() - o.created_at)::float8, \
                        coalesce(extract(epoch FROM now() - o.posted_at)::float8, 0), \
                        extract(epoch FROM now() - o.answered_at)::float8, \
                        (SELECT value FROM strategy.parameters WHERE name = 'live_settle_seconds')::float8, \
                        (SELECT value FROM strategy.parameters WHERE name = 'live_repost_seconds')::float8 \
                 FROM exec.orders o \
                 WHERE o.account = $1 AND o.broker = 'clob' AND o.status IN ('signed', 'posted', 'live') \
                 ORDER BY o.order_id",
                &[&account],
            )
            .await
            .map_err(DbError::query("reading unsettled orders"))?;
        tx.commit()
            .await
            .map_err(DbError::query("committing booked fills"))?;
        if booked > 0 {
            tracing::info!(target: "executor::live", account, fills = booked, "fills booked from the chain");
        }
        let mut settled = Vec::new();
        for r in &rows {
            let o = Pending {
                order_id: r.get(0),
                hash: r.get(1),
                status: r.get(2),
                shares: r.get(3),
                filled_shares: r.get(4),
                age_secs: r.get(5),
                posted_secs: r.get(6),
                answered_secs: r.get(7),
                settle_secs: r.get::<_, Option<f64>>(8).unwrap_or(120.0),
                repost_secs: r.get::<_, Option<f64>>(9).unwrap_or(0.0),
            };
            if o.status == "signed" {
                if o.age_secs <= o.repost_secs {
                    tracing::info!(target: "executor::live", order_id = o.order_id,
                                   "posting a stored order that was never sent");
                    self.submit(client, o.order_id).await?;
                } else {
                    finish(
                        client,
                        o.order_id,
                        "not_sent",
                        &format!(
                            "stored but never posted, and signed {:.0} s ago (live_repost_seconds {:.0})",
                            o.age_secs, o.repost_secs
                        ),
                    )
                    .await?;
                    settled.push(o.order_id);
                }
                continue;
            }
            if let Review::Settled = self.review(client, &o).await? {
                settled.push(o.order_id);
            }
        }
        Ok(settled)
    }
}

impl FromStr for LiveOrderType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "FAK" => Ok(LiveOrderType(OrderType::Fak)),
            "FOK" => Ok(LiveOrderType(OrderType::Fok)),
            "GTC" => Ok(LiveOrderType(OrderType::Gtc)),
            _ => Err(format!("order type {s:?}: expected FAK, FOK or GTC")),
        }
    }
}

/// The order types the executor places (GTD needs an expiration it does not set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOrderType(pub OrderType);

/// Parses `--signature-type`.
pub fn parse_signature_type(s: &str) -> Result<SignatureType, String> {
    match s.trim() {
        "0" => Ok(SignatureType::Eoa),
        "1" => Ok(SignatureType::PolyProxy),
        "2" => Ok(SignatureType::PolyGnosisSafe),
        "3" => Ok(SignatureType::Poly1271),
        _ => Err(format!(
            "signature type {s:?}: expected 0 (EOA), 1 (POLY_PROXY), 2 (POLY_GNOSIS_SAFE) or 3 (POLY_1271)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn prices_go_onto_the_tick_against_us() {
        let t: TickSize = "0.01".parse().unwrap();
        assert_eq!(on_tick(d("0.523"), t, Side::Buy), d("0.53"));
        assert_eq!(on_tick(d("0.523"), t, Side::Sell), d("0.52"));
        assert_eq!(on_tick(d("0.52"), t, Side::Buy), d("0.52"));
        assert_eq!(on_tick(d("0.999"), t, Side::Buy), d("0.99"));
        assert_eq!(on_tick(d("0.001"), t, Side::Sell), d("0.01"));
    }

    #[test]
    fn credentials_come_whole_or_not_at_all() {
        assert!(creds_from_parts(None, None, None).unwrap().is_none());
        let e = creds_from_parts(Some("k".into()), None, Some(Secret::new("p"))).unwrap_err();
        assert!(e.to_string().contains("all three"), "{e}");
        let c = creds_from_parts(
            Some("k".into()),
            Some(Secret::new("c2VjcmV0-SECRET")),
            Some(Secret::new("PASSPHRASE-1")),
        )
        .unwrap()
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("PASSPHRASE-1"),
            "{shown}"
        );
    }

    #[test]
    fn signature_types_parse() {
        assert_eq!(
            parse_signature_type("2").unwrap(),
            SignatureType::PolyGnosisSafe
        );
        assert!(parse_signature_type("4").is_err());
    }
}
