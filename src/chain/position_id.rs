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
