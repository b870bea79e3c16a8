//! Postgres binary COPY encoding, written by hand: one buffer a table, no per-value boxing.

use bytes::{BufMut, Bytes, BytesMut};
use ethers::types::U256;

const NUMERIC_OID: i32 = 1700;
const BYTEA_OID: i32 = 17;
/// Seconds between the unix epoch and Postgres' epoch (2000-01-01).
const PG_EPOCH_OFFSET: i64 = 946_684_800;

/// A binary COPY stream under construction.
#[derive(Debug)]
pub struct CopyBuf {
    buf: BytesMut,
    rows: usize,
}

impl Default for CopyBuf {
    fn default() -> Self {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.put_slice(b"PGCOPY\n\xff\r\n\0");
        buf.put_i32(0); // flags
        buf.put_i32(0); // header extension length
        CopyBuf { buf, rows: 0 }
    }
}

impl CopyBuf {
    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Starts a row of `fields` values.
    #[inline]
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.rows += 1;
        self.buf.put_i16(fields);
        self
    }

    /// bigint.
    #[inline]
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.put_i32(8);
        self.buf.put_i64(v);
        self
    }

    /// integer.
    #[inline]
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.put_i32(4);
        self.buf.put_i32(v);
        self
    }

    /// smallint.
    #[inline]
    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.buf.put_i32(2);
        self.buf.put_i16(v);
        self
    }

    /// boolean.
    #[inline]
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.put_i32(1);
        self.buf.put_u8(v as u8);
        self
    }

    /// NULL of any type.
    #[inline]
    pub fn null(&mut self) -> &mut Self {
        self.buf.put_i32(-1);
        self
    }

    /// bytea.
    #[inline]
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.put_i32(v.len() as i32);
        self.buf.put_slice(v);
        self
    }

    /// bytea or NULL.
    #[inline]
    pub fn opt_bytes(&mut self, v: Option<&[u8]>) -> &mut Self {
        match v {
            Some(b) => self.bytes(b),
            None => self.null(),
        }
    }

    /// text.
    #[inline]
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    /// timestamptz from unix seconds, or NULL.
    #[inline]
    pub fn unix_time(&mut self, secs: Option<u64>) -> &mut Self {
        match secs {
            Some(s) => {
                self.buf.put_i32(8);
                self.buf.put_i64((s as i64 - PG_EPOCH_OFFSET) * 1_000_000);
                self
            }
            None => self.null(),
        }
    }

    /// numeric from a uint256.
    #[inline]
    pub fn numeric(&mut self, v: &U256) -> &mut Self {
        let mut digits = [0i16; 20];
        let n = base10000(v, &mut digits);
        self.buf.put_i32(8 + 2 * n as i32);
        put_numeric_body(&mut self.buf, &digits[20 - n..]);
        self
    }

    /// numeric[] from uint256 values.
    pub fn numeric_array(&mut self, vs: &[U256]) -> &mut Self {
        let mut body = BytesMut::with_capacity(20 + vs.len() * 24);
        put_array_header(&mut body, NUMERIC_OID, vs.len());
        let mut digits = [0i16; 20];
        for v in vs {
            let n = base10000(v, &mut digits);
            body.put_i32(8 + 2 * n as i32);
            put_numeric_body(&mut body, &digits[20 - n..]);
        }
        self.bytes(&body)
    }

    /// bytea[].
    pub fn bytes_array<T: AsRef<[u8]>>(&mut self, vs: &[T]) -> &mut Self {
        let mut body = BytesMut::with_capacity(20 + vs.len() * 40);
        put_array_header(&mut body, BYTEA_OID, vs.len());
        for v in vs {
            body.put_i32(v.as_ref().len() as i32);
            body.put_slice(v.as_ref());
        }
        self.bytes(&body)
    }

    /// The finished stream with its trailer.
    pub fn finish(mut self) -> Bytes {
        self.buf.put_i16(-1);
        self.buf.freeze()
    }
}

fn put_array_header(b: &mut BytesMut, oid: i32, len: usize) {
    if len == 0 {
        b.put_i32(0); // ndim
        b.put_i32(0); // has nulls
        b.put_i32(oid);
        return;
    }
    b.put_i32(1);
    b.put_i32(0);
    b.put_i32(oid);
    b.put_i32(len as i32);
    b.put_i32(1); // lower bound
}

/// Writes base-10000 digits of `v` into the tail of `out`; returns how many.
fn base10000(v: &U256, out: &mut [i16; 20]) -> usize {
    // Split into u128 halves and peel 10^4 digits with native arithmetic where possible.
    let mut n = 0;
    let mut x = *v;
    let ten4 = U256::from(10_000u64);
    while x.bits() > 127 {
        let (q, r) = x.div_mod(ten4);
        out[19 - n] = r.low_u64() as i16;
        n += 1;
        x = q;
    }
    let mut y = x.as_u128();
    while y != 0 {
        out[19 - n] = (y % 10_000) as i16;
        n += 1;
        y /= 10_000;
    }
    n
}

fn put_numeric_body(b: &mut BytesMut, digits: &[i16]) {
    let n = digits.len() as i16;
    b.put_i16(n); // ndigits
    b.put_i16(if n == 0 { 0 } else { n - 1 }); // weight
    b.put_u16(0); // sign: positive
    b.put_u16(0); // dscale
    for d in digits {
        b.put_i16(*d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base10000_digits() {
        let mut d = [0i16; 20];
        assert_eq!(base10000(&U256::zero(), &mut d), 0);
        let n = base10000(&U256::from(123_456_789u64), &mut d);
        assert_eq!(&d[20 - n..], &[1, 2345, 6789]);
        let n = base10000(&U256::MAX, &mut d);
        let s: String = d[20 - n..]
            .iter()
            .enumerate()
            .map(|(i, x)| {
                if i == 0 {
                    x.to_string()
                } else {
                    format!("{x:04}")
                }
            })
            .collect();
        assert_eq!(s, U256::MAX.to_string());
    }
}
