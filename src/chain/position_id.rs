//! ERC-1155 position ids (the token ids traded on the exchange), derived exactly as
//! Gnosis ConditionalTokens' CTHelpers does, so every token maps to its market on chain alone.

use std::sync::OnceLock;

use ethers::utils::keccak256;
use num_bigint::BigUint;
use num_traits::{One, Zero};

use super::log::{Address, Word};

/// The alt_bn128 field modulus.
fn field_p() -> &'static BigUint {
    static P: OnceLock<BigUint> = OnceLock::new();
    P.get_or_init(|| {
        BigUint::parse_bytes(
            b"21888242871839275222246405745257275088696311157297823662689037894645226208583",
            10,
        )
        .expect("constant")
    })
}

/// (P + 1) / 4: the exponent of the square root in a field with P ≡ 3 (mod 4).
fn sqrt_exp() -> &'static BigUint {
    static E: OnceLock<BigUint> = OnceLock::new();
    E.get_or_init(|| (field_p() + BigUint::one()) >> 2)
}

fn to_word(v: &BigUint) -> Word {
    let b = v.to_bytes_be();
    let mut w = [0u8; 32];
    w[32 - b.len()..].copy_from_slice(&b);
    w
}

/// conditionId = keccak256(oracle ‖ questionId ‖ uint256(outcomeSlotCount)).
pub fn condition_id(oracle: &Address, question_id: &Word, outcome_slot_count: u32) -> Word {
    let mut buf = [0u8; 84];
    buf[..20].copy_from_slice(oracle);
    buf[20..52].copy_from_slice(question_id);
    buf[80..].copy_from_slice(&outcome_slot_count.to_be_bytes());
    keccak256(buf)
}

/// CTHelpers.getCollectionId with a zero parent collection (all Polymarket positions are
/// root positions): the x coordinate of a point on alt_bn128 found by hash-and-increment,
/// with the parity of y folded into bit 254.
pub fn collection_id(condition_id: &Word, index_set: u64) -> Word {
    let p = field_p();
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(condition_id);
    buf[56..].copy_from_slice(&index_set.to_be_bytes());
    let h = keccak256(buf);
    let odd = h[0] & 0x80 != 0;
    let mut x = BigUint::from_bytes_be(&h);
    let three = BigUint::from(3u8);
    let mut y;
    loop {
        x = (x + BigUint::one()) % p;
        let yy = (&x * &x % p * &x + &three) % p;
        y = yy.modpow(sqrt_exp(), p);
        if &y * &y % p == yy {
            break;
        }
    }
    let y_odd = y.bit(0);
    if odd != y_odd {
        y = p - &y;
    }
    if y.bit(0) {
        x ^= BigUint::one() << 254u32;
    }
    if x.is_zero() {
        return [0; 32];
    }
    to_word(&x)
}

/// positionId = uint256(keccak256(collateral ‖ collectionId)), as 32 big-endian bytes.
pub fn position_id(collateral: &Address, collection_id: &Word) -> Word {
    let mut buf = [0u8; 52];
    buf[..20].copy_from_slice(collateral);
    buf[20..].copy_from_slice(collection_id);
    keccak256(buf)
}

/// The token id of outcome `outcome_index` (index set 1 << i) of a root condition.
pub fn token_id(collateral: &Address, condition_id: &Word, outcome_index: u32) -> Word {
    position_id(
        collateral,
        &collection_id(condition_id, 1u64 << outcome_index),
    )
}

#[cfg(test)]
mod tests {
    //! Vectors from Polymarket's polymarket-subgraph tests (tests/getPositionId.test.ts,
    //! tests/getCollectionId.test.ts, tests/badTokenId.test.ts).

    use super::*;
    use crate::chain::{
        contracts::{addr, known},
        hex,
    };
    use ethers::types::U256;

    fn dec(w: Word) -> String {
        U256::from_big_endian(&w).to_string()
    }

    #[test]
    fn standard_market_position_ids() {
        let c = hex::decode_fixed::<32>(
            "0xfc690d5069b296bb9278af0cba42c02666e0999e4a4009ed97ea4a885f045457",
        )
        .unwrap();
        let usdc = known(addr::USDC_E);
        assert_eq!(
            dec(token_id(&usdc, &c, 0)),
            "73716170047628147940237270507900673332129573201293655532643868111690843426372"
        );
        assert_eq!(
            dec(token_id(&usdc, &c, 1)),
            "2890213445014127424511466931609154310536269586265875141655148162320150952197"
        );
    }

    #[test]
    fn neg_risk_market_position_ids() {
        let c = hex::decode_fixed::<32>(
            "0xbf5ba08b3a0c4dd741f00759282e38e9bfa9ad59aa623ed13d26a8786c1e5afc",
        )
        .unwrap();
        let wcol = known(addr::NEGRISK_WRAPPED_COLLATERAL);
        assert_eq!(
            dec(token_id(&wcol, &c, 0)),
            "84121562275746951169805992721206824933074826856805500029198362509460400440947"
        );
        assert_eq!(
            dec(token_id(&wcol, &c, 1)),
            "6492254133524731704185750998715576231739345323060925006131340263114065023619"
        );
    }

    #[test]
    fn collection_id_vector() {
        let c = hex::decode_fixed::<32>(
            "0xdb4ab1dbbedd6aeec17aa6e3f66262cff0e3b04742dd3acdf99652575e5422f8",
        )
        .unwrap();
        assert_eq!(
            hex::encode(&collection_id(&c, 1)),
            "0x12adf3dfeaddeef8f31fa86654bf367c5c7b1e854dff407d7c87ff76af4ad16d"
        );
    }

    /// A collection id with a leading zero byte (the subgraph once got this token wrong).
    #[test]
    fn collection_id_with_leading_zero_byte() {
        let c = hex::decode_fixed::<32>(
            "0x13decdc825910e52d8d73e800d15cc03e68bb940b426bc241d9d987d1cd960d2",
        )
        .unwrap();
        assert_eq!(
            hex::encode(&collection_id(&c, 2)),
            "0x006b9aa7b7f498847804414b9f9d7abfa7fc00db6f06266d95c5772f417857f3"
        );
        let wcol = known(addr::NEGRISK_WRAPPED_COLLATERAL);
        assert_eq!(
            dec(token_id(&wcol, &c, 1)),
            "92849115097658926029726616555072992123532598747617388960074918380114146610948"
        );
        assert_eq!(
            dec(token_id(&wcol, &c, 0)),
            "11031149734538275426690039809123992018327740438980973428241361937177748285493"
        );
    }

    #[test]
    fn condition_id_is_keccak_of_oracle_question_slots() {
        let oracle = [0x11; 20];
        let q = [0x22; 32];
        let mut buf = Vec::new();
        buf.extend_from_slice(&oracle);
        buf.extend_from_slice(&q);
        buf.extend_from_slice(&{
            let mut w = [0u8; 32];
            w[31] = 2;
            w
        });
        assert_eq!(condition_id(&oracle, &q, 2), keccak256(buf));
    }
}
