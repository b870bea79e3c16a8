//! Gamma's market and event records, read without trusting them.
//!
//! Gamma sends `outcomes`, `outcomePrices` and `clobTokenIds` as JSON-encoded strings inside the
//! JSON (`"outcomes": "[\"Yes\", \"No\"]"`); saved or proxied copies sometimes carry plain
//! arrays. Both are read. Every field the database will cast (hex ids, token ids, numbers,
//! timestamps) is validated here, so one bad record is rejected with its id and the reason,
//! and never fails the page it came in.

use std::{fmt, str::FromStr};

use ethers::types::U256;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::chain::{hex, log::Word};

/// A Gamma market: one CTF condition with its human description.
#[derive(Debug, Clone, PartialEq)]
pub struct GammaMarket {
    /// Gamma's own id of the market (`id`).
    pub gamma_id: String,
    /// CTF condition id (`conditionId`).
    pub condition_id: Word,
    /// The title analysts read (`question`).
    pub question: Option<String>,
    /// URL slug.
    pub slug: Option<String>,
    /// The market's own category (older markets carry one).
    pub category: Option<String>,
    /// The first event the market belongs to, as nested in the market record (no markets).
    pub event: Option<GammaEvent>,
    /// The market's name inside its event (a candidate in a neg-risk event).
    pub group_item_title: Option<String>,
    /// Outcome labels, in `clob_token_ids` order.
    pub outcomes: Option<Vec<String>>,
    /// Last outcome prices (decimal text).
    pub outcome_prices: Option<Vec<String>>,
    /// CLOB token ids (decimal text); `clob_token_ids[i]` is Gamma's token of `outcomes[i]`.
    pub clob_token_ids: Option<Vec<String>>,
    /// UMA question id (`questionID`).
    pub question_id: Option<Word>,
    /// Whether Gamma says the market is neg-risk.
    pub neg_risk: Option<bool>,
    /// The neg-risk market id (`negRiskMarketID`).
    pub neg_risk_market_id: Option<Word>,
    /// End date (ISO 8601, normalised to carry a zone).
    pub end_date: Option<String>,
    /// Minimum price increment (`orderPriceMinTickSize`).
    pub tick_size: Option<String>,
    /// Minimum order size in shares (`orderMinSize`).
    pub min_order_size: Option<String>,
    /// Open for trading.
    pub active: Option<bool>,
    /// Closed.
    pub closed: Option<bool>,
    /// Archived.
    pub archived: Option<bool>,
    /// UMA resolution status (`umaResolutionStatus`).
    pub resolution_status: Option<String>,
}

/// A Gamma event: a group of markets with a title, category and tags.
#[derive(Debug, Clone, PartialEq)]
pub struct GammaEvent {
    /// Gamma's id of the event.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// URL slug.
    pub slug: Option<String>,
    /// Category, when Gamma gives one.
    pub category: Option<String>,
    /// Tag labels in Gamma's order, hidden tags left out; `None` when the record has no tags.
    pub tags: Option<Vec<String>>,
    /// Neg-risk event.
    pub neg_risk: Option<bool>,
    /// End date (ISO 8601 with a zone).
    pub end_date: Option<String>,
    /// Closed.
    pub closed: Option<bool>,
    /// Markets nested in the record, each read on its own.
    pub markets: Vec<Result<GammaMarket, RecordError>>,
}

/// A record that could not be read: which one, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    /// "market" or "event".
    pub kind: &'static str,
    /// Its Gamma id, else its conditionId or slug, else a note that it has none.
    pub id: String,
    /// What was wrong.
    pub reason: String,
    /// The record as received.
    pub record: Value,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Gamma {} {} skipped: {}",
            self.kind, self.id, self.reason
        )
    }
}

impl std::error::Error for RecordError {}

/// One item of a page or a saved file.
// Records live for one page and are moved out at once; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A market record (or a market that could not be read).
    Market(Result<GammaMarket, RecordError>),
    /// An event record (or an event that could not be read).
    Event(Result<GammaEvent, RecordError>),
}

/// The records of a JSON document: an array of markets or events, an array of saved pages
/// (arrays), an object wrapping them (`data`, `markets`, `events`), or a single record.
/// Events are told from markets by their nested `markets` array.
pub fn records(doc: &Value) -> Vec<Record> {
    let mut out = Vec::new();
    collect(doc, &mut out);
    out
}

fn collect(v: &Value, out: &mut Vec<Record>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(o) => {
            let is_record = o.contains_key("conditionId") || o.contains_key("id");
            if !is_record {
                for key in ["data", "markets", "events"] {
                    if let Some(inner) = o.get(key) {
                        collect(inner, out);
                        return;
                    }
                }
            }
            if o.get("markets").is_some_and(Value::is_array) && !o.contains_key("conditionId") {
                out.push(Record::Event(parse_event(v)));
            } else {
                out.push(Record::Market(parse_market(v)));
            }
        }
        other => out.push(Record::Market(Err(RecordError {
            kind: "market",
            id: "(no id)".into(),
            reason: format!("expected a JSON object, got {}", type_name(other)),
            record: other.clone(),
        }))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How a record names itself in errors: its id, else its conditionId or slug.
fn record_id(v: &Value) -> String {
    let o = v.as_object();
    let field = |k: &str| {
        o.and_then(|o| o.get(k)).and_then(|x| match x {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    field("id")
        .or_else(|| field("conditionId").map(|c| format!("(conditionId {c})")))
        .or_else(|| field("slug").map(|s| format!("(slug {s})")))
        .unwrap_or_else(|| "(no id)".into())
}

/// Reads one market record.
pub fn parse_market(v: &Value) -> Result<GammaMarket, RecordError> {
    let fail = |reason: String| RecordError {
        kind: "market",
        id: record_id(v),
        reason,
        record: v.clone(),
    };
    let o = v
        .as_object()
        .ok_or_else(|| fail(format!("expected a JSON object, got {}", type_name(v))))?;
    market_fields(o).map_err(fail)
}

fn market_fields(o: &Map<String, Value>) -> Result<GammaMarket, String> {
    let gamma_id = opt_id(o, "id")?.ok_or("no id")?;
    let condition_id = match opt_text(o, "conditionId")? {
        Some(c) => hex32(&c).map_err(|e| format!("conditionId {c:?}: {e}"))?,
        None => return Err("no conditionId".into()),
    };
    let outcomes = string_list(o, "outcomes")?;
    let clob_token_ids = string_list(o, "clobTokenIds")?
        .map(|ids| {
            ids.iter()
                .map(|t| token_id(t).map_err(|e| format!("clobTokenIds: {t:?}: {e}")))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let outcome_prices = string_list(o, "outcomePrices")?
        .map(|ps| {
            ps.iter()
                .map(|p| decimal(p).map_err(|e| format!("outcomePrices: {p:?}: {e}")))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    if let (Some(out), Some(ids)) = (&outcomes, &clob_token_ids) {
        if out.len() != ids.len() {
            return Err(format!(
                "{} outcomes but {} clobTokenIds",
                out.len(),
                ids.len()
            ));
        }
    }
    if let (Some(out), Some(ps)) = (&outcomes, &outcome_prices) {
        if out.len() != ps.len() {
            return Err(format!(
                "{} outcomes but {} outcomePrices",
                out.len(),
                ps.len()
            ));
        }
    }
    let event = match o.get("events") {
        None | Some(Value::Null) => None,
        Some(Value::Array(evs)) => match evs.first() {
            None => None,
            Some(e) => {
                let e = e.as_object().ok_or_else(|| {
                    format!("events[0]: expected an object, got {}", type_name(e))
                })?;
                Some(event_fields(e, false).map_err(|r| format!("events[0]: {r}"))?)
            }
        },
        Some(other) => {
            return Err(format!(
                "events: expected an array, got {}",
                type_name(other)
            ))
        }
    };
    Ok(GammaMarket {
        gamma_id,
        condition_id,
        question: opt_text(o, "question")?,
        slug: opt_text(o, "slug")?,
        category: opt_text(o, "category")?,
        event,
        group_item_title: opt_text(o, "groupItemTitle")?,
        outcomes,
        outcome_prices,
        clob_token_ids,
        question_id: opt_hex32(o, "questionID")?,
        neg_risk: opt_bool(o, "negRisk")?,
        neg_risk_market_id: opt_hex32(o, "negRiskMarketID")?,
        end_date: opt_time(o, "endDate")?,
        tick_size: opt_decimal(o, "orderPriceMinTickSize")?,
        min_order_size: opt_decimal(o, "orderMinSize")?,
        active: opt_bool(o, "active")?,
        closed: opt_bool(o, "closed")?,
        archived: opt_bool(o, "archived")?,
        resolution_status: opt_text(o, "umaResolutionStatus")?,
    })
}

/// Reads one event record, with its nested markets.
pub fn parse_event(v: &Value) -> Result<GammaEvent, RecordError> {
    let fail = |reason: String| RecordError {
        kind: "event",
        id: record_id(v),
        reason,
        record: v.clone(),
    };
    let o = v
        .as_object()
        .ok_or_else(|| fail(format!("expected a JSON object, got {}", type_name(v))))?;
    event_fields(o, true).map_err(fail)
}

fn event_fields(o: &Map<String, Value>, with_markets: bool) -> Result<GammaEvent, String> {
    let id = opt_id(o, "id")?.ok_or("no id")?;
    let tags = match o.get("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Array(ts)) => {
            let mut labels = Vec::with_capacity(ts.len());
            for t in ts {
                match t {
                    Value::String(s) if !s.trim().is_empty() => labels.push(s.trim().to_owned()),
                    Value::Object(t) => {
                        if opt_bool(t, "forceHide")? == Some(true) {
                            continue;
                        }
                        if let Some(l) = opt_text(t, "label")?.or(opt_text(t, "slug")?) {
                            labels.push(l);
                        }
                    }
                    other => return Err(format!("tags: unexpected {}", type_name(other))),
                }
            }
            Some(labels)
        }
        Some(other) => return Err(format!("tags: expected an array, got {}", type_name(other))),
    };
    let markets = match o.get("markets") {
        Some(Value::Array(ms)) if with_markets => ms.iter().map(parse_market).collect(),
        _ => Vec::new(),
    };
    Ok(GammaEvent {
        id,
        title: opt_text(o, "title")?,
        slug: opt_text(o, "slug")?,
        category: opt_text(o, "category")?,
        tags,
        neg_risk: opt_bool(o, "negRisk")?,
        end_date: opt_time(o, "endDate")?,
        closed: opt_bool(o, "closed")?,
        markets,
    })
}

/// An id: a string or a number.
fn opt_id(o: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!(
            "{k}: expected a string or number, got {}",
            type_name(other)
        )),
    }
}

/// Optional text; an empty string counts as absent.
fn opt_text(o: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(other) => Err(format!("{k}: expected a string, got {}", type_name(other))),
    }
}

fn opt_bool(o: &Map<String, Value>, k: &str) -> Result<Option<bool>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(format!("{k}: expected true or false, got {other}")),
    }
}

fn opt_hex32(o: &Map<String, Value>, k: &str) -> Result<Option<Word>, String> {
    opt_text(o, k)?
        .map(|s| hex32(&s).map_err(|e| format!("{k} {s:?}: {e}")))
        .transpose()
}

fn hex32(s: &str) -> Result<Word, String> {
    if !s.starts_with("0x") {
        return Err("expected 0x and 64 hex digits".into());
    }
    hex::decode_fixed::<32>(s).map_err(|e| e.to_string())
}

fn opt_decimal(o: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    let text = match o.get(k) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(format!("{k}: expected a number, got {}", type_name(other))),
    };
    decimal(&text)
        .map(Some)
        .map_err(|e| format!("{k} {text:?}: {e}"))
}

fn opt_time(o: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    opt_text(o, k)?
        .map(|s| iso_time(&s).ok_or_else(|| format!("{k} {s:?}: not an ISO 8601 date or time")))
        .transpose()
}

/// A list of strings sent either as a JSON array or as a string holding a JSON array (Gamma's
/// own shape). Numbers in the list are read as their text. An empty string counts as absent.
pub fn string_list(o: &Map<String, Value>, k: &str) -> Result<Option<Vec<String>>, String> {
    let parsed;
    let items = match o.get(k) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| format!("{k}: not a JSON-encoded array ({e}): {s:?}"))?;
            match &parsed {
                Value::Array(a) => a,
                other => {
                    return Err(format!(
                        "{k}: expected a JSON-encoded array, got {}",
                        type_name(other)
                    ))
                }
            }
        }
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(format!(
                "{k}: expected an array or a JSON-encoded array, got {}",
                type_name(other)
            ))
        }
    };
    if items.is_empty() {
        return Ok(None);
    }
    items
        .iter()
        .map(|i| match i {
            Value::String(s) => Ok(s.trim().to_owned()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(format!("{k}: unexpected {} in the list", type_name(other))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A token id in decimal (as Polymarket prints them), below 2^256; normalised.
fn token_id(s: &str) -> Result<String, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a decimal token id".into());
    }
    U256::from_dec_str(s)
        .map(|v| v.to_string())
        .map_err(|_| "larger than 2^256".into())
}

/// A finite decimal number (plain or with an exponent), as Postgres numeric reads it.
fn decimal(s: &str) -> Result<String, String> {
    Decimal::from_str(s)
        .or_else(|_| Decimal::from_scientific(s))
        .map(|d| d.to_string())
        .map_err(|_| "not a number".into())
}

/// Validates an ISO 8601 date or date-time and returns it with an explicit zone (UTC when none
/// is given), in a form Postgres' timestamptz reads. `None` when it is not one.
pub fn iso_time(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || y == 0 || !(1..=12).contains(&mo) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d == 0 || d > days[mo as usize - 1] {
        return None;
    }
    let date = &s[..10];
    if b.len() == 10 {
        return Some(format!("{date}T00:00:00Z"));
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (h, mi) = (num(11, 2)?, num(14, 2)?);
    if b.get(13) != Some(&b':') || h > 23 || mi > 59 {
        return None;
    }
    let mut i = 16;
    let mut sec = String::from(":00");
    if b.get(i) == Some(&b':') {
        let sv = num(i + 1, 2)?;
        if sv > 59 {
            return None;
        }
        i += 3;
        let start = i;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 9 {
                return None;
            }
            i += digits;
        }
        sec = format!(":{sv:02}{}", &s[start..i]);
    }
    let zone = match &s[i..] {
        "" | "Z" | "z" => "Z".to_owned(),
        z if z.starts_with(['+', '-']) => {
            let zb = z.as_bytes();
            let zh = num(i + 1, 2)?;
            let zm = match zb.len() {
                3 => 0,
                5 => num(i + 3, 2)?,
                6 if zb[3] == b':' => num(i + 4, 2)?,
                _ => return None,
            };
            if zh > 15 || zm > 59 {
                return None;
            }
            format!("{}{zh:02}:{zm:02}", &z[..1])
        }
        _ => return None,
    };
    Some(format!("{date}T{h:02}:{mi:02}{sec}{zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A market as Gamma's /markets answers (trimmed), arrays as JSON-encoded strings.
    fn gamma_market() -> Value {
        json!({
            "id": "516710",
            "question": "Bitcoin Up or Down - December 31, 12:00PM-12:15PM ET",
            "conditionId": "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1",
            "slug": "btc-updown-15m-1767200400",
            "endDate": "2025-12-31T17:15:00Z",
            "outcomes": "[\"Up\", \"Down\"]",
            "outcomePrices": "[\"0.515\", \"0.485\"]",
            "clobTokenIds": "[\"52114319501245915516055106046884209969926127482827954674443846427813813222426\", \"60487116984468020978247225474488676749601001829886755968952521846780452448915\"]",
            "active": true,
            "closed": false,
            "archived": false,
            "questionID": "0x0f58d1a2c3c5bd8b4f55e5b1e7d1a9c1e0f1a2b3c4d5e6f708192a3b4c5d6e7f",
            "negRisk": false,
            "negRiskMarketID": "",
            "orderPriceMinTickSize": 0.01,
            "orderMinSize": 5,
            "umaResolutionStatus": null,
            "events": [{"id": "98765", "title": "Bitcoin Up or Down 15m", "slug": "btc-updown", "tags": null}]
        })
    }

    #[test]
    fn reads_json_encoded_string_arrays() {
        let m = parse_market(&gamma_market()).unwrap();
        assert_eq!(m.gamma_id, "516710");
        assert_eq!(
            m.outcomes.as_deref(),
            Some(&["Up".to_owned(), "Down".to_owned()][..])
        );
        assert_eq!(m.outcome_prices.as_ref().unwrap()[0], "0.515");
        assert_eq!(
            m.clob_token_ids.as_ref().unwrap()[1],
            "60487116984468020978247225474488676749601001829886755968952521846780452448915"
        );
        assert_eq!(m.tick_size.as_deref(), Some("0.01"));
        assert_eq!(m.min_order_size.as_deref(), Some("5"));
        assert_eq!(m.neg_risk_market_id, None);
        assert_eq!(m.end_date.as_deref(), Some("2025-12-31T17:15:00Z"));
        assert_eq!(m.event.as_ref().unwrap().id, "98765");
    }

    #[test]
    fn reads_plain_arrays_the_same() {
        let mut v = gamma_market();
        v["outcomes"] = json!(["Up", "Down"]);
        v["outcomePrices"] = json!([0.515, "0.485"]);
        v["clobTokenIds"] = json!([
            "52114319501245915516055106046884209969926127482827954674443846427813813222426",
            "60487116984468020978247225474488676749601001829886755968952521846780452448915"
        ]);
        assert_eq!(
            parse_market(&v).unwrap(),
            parse_market(&gamma_market()).unwrap()
        );
    }

    #[test]
    fn rejects_name_the_record_and_the_field() {
        let mut v = gamma_market();
        v["outcomes"] = json!("[\"Up\", \"Down\"");
        let e = parse_market(&v).unwrap_err();
        assert_eq!(e.id, "516710");
        assert!(
            e.reason.starts_with("outcomes: not a JSON-encoded array"),
            "{e}"
        );
        assert!(e.to_string().contains("Gamma market 516710 skipped"), "{e}");

        let mut v = gamma_market();
        v["clobTokenIds"] = json!("[\"12\", \"0x34\"]");
        assert!(parse_market(&v)
            .unwrap_err()
            .reason
            .contains("clobTokenIds"));

        let mut v = gamma_market();
        v["clobTokenIds"] = json!("[\"12\"]");
        assert_eq!(
            parse_market(&v).unwrap_err().reason,
            "2 outcomes but 1 clobTokenIds"
        );

        let mut v = gamma_market();
        v["conditionId"] = json!("0x1234");
        assert!(parse_market(&v)
            .unwrap_err()
            .reason
            .starts_with("conditionId"));

        let mut v = gamma_market();
        v.as_object_mut().unwrap().remove("id");
        let e = parse_market(&v).unwrap_err();
        assert!(e.id.starts_with("(conditionId 0x5f65"), "{e}");

        let mut v = gamma_market();
        v["endDate"] = json!("2025-02-30T00:00:00Z");
        assert!(parse_market(&v).unwrap_err().reason.starts_with("endDate"));

        let too_big = format!("[\"{}\", \"1\"]", "9".repeat(78));
        let mut v = gamma_market();
        v["clobTokenIds"] = json!(too_big);
        assert!(parse_market(&v).unwrap_err().reason.contains("2^256"));
    }

    #[test]
    fn events_carry_tags_and_their_markets() {
        let ev = json!({
            "id": 903,
            "title": "Presidential Election Winner 2024",
            "category": null,
            "negRisk": true,
            "tags": [{"id": "2", "label": "Politics", "slug": "politics"},
                     {"id": "9", "label": "Hidden", "slug": "hidden", "forceHide": true},
                     {"id": "3", "label": "Elections", "slug": "elections"}],
            "markets": [gamma_market(), {"id": "7", "conditionId": "nope"}]
        });
        let recs = records(&json!([ev]));
        assert_eq!(recs.len(), 1);
        let Record::Event(Ok(e)) = &recs[0] else {
            panic!("{recs:?}")
        };
        assert_eq!(e.id, "903");
        assert_eq!(
            e.tags.as_deref(),
            Some(&["Politics".to_owned(), "Elections".to_owned()][..])
        );
        assert!(e.markets[0].is_ok());
        assert_eq!(e.markets[1].as_ref().unwrap_err().id, "7");
    }

    #[test]
    fn documents_of_every_saved_shape() {
        let m = gamma_market();
        assert_eq!(records(&json!([m.clone(), m.clone()])).len(), 2);
        assert_eq!(
            records(&json!([[m.clone()], [m.clone(), m.clone()]])).len(),
            3
        );
        assert_eq!(records(&json!({"data": [m.clone()]})).len(), 1);
        assert_eq!(records(&m).len(), 1);
        assert!(matches!(records(&json!([5]))[0], Record::Market(Err(_))));
    }

    #[test]
    fn iso_times() {
        assert_eq!(
            iso_time("2024-11-05").as_deref(),
            Some("2024-11-05T00:00:00Z")
        );
        assert_eq!(
            iso_time("2024-01-04T22:44:19.536Z").as_deref(),
            Some("2024-01-04T22:44:19.536Z")
        );
        assert_eq!(
            iso_time("2024-02-29 12:00:00+00").as_deref(),
            Some("2024-02-29T12:00:00+00:00")
        );
        assert_eq!(
            iso_time("2024-03-01T12:00-0530").as_deref(),
            Some("2024-03-01T12:00:00-05:30")
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T24:00:00Z",
            "tomorrow",
            "2024-01-01T12:00:00Q",
            "",
        ] {
            assert_eq!(iso_time(bad), None, "{bad}");
        }
    }
}
