//! Secrets: the signing key, the API secret and the passphrase. Their Debug and Display print
//! `***`, so a `{:?}` of a config, a tracing field or an error message cannot leak them; the
//! value comes out only through an explicit `expose`.

use std::{fmt, path::Path};

use ethers::{
    signers::{LocalWallet, Signer as _},
    types::{Address, Signature, H256},
};

use zeroize::{Zeroize, Zeroizing};

use super::ClobError;

/// A string that must not be shown (API secret, passphrase).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (an HMAC key, a header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// A secp256k1 signing key. Only its address may be shown.
#[derive(Clone)]
pub struct PrivateKey {
    wallet: LocalWallet,
}

impl PrivateKey {
    /// Parses 32 bytes of hex, with or without `0x`, surrounding whitespace ignored. The error
    /// says what is wrong with the text, never what the text is.
    pub fn from_hex(text: &str) -> Result<Self, ClobError> {
        let t = text.trim();
        let t = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        if t.is_empty() {
            return Err(ClobError::BadKey("empty".into()));
        }
        if t.len() != 64 {
            return Err(ClobError::BadKey(format!(
                "expected 64 hex digits (32 bytes), got {} characters",
                t.len()
            )));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, pair) in t.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0]);
            let lo = hex_val(pair[1]);
            match (hi, lo) {
                (Some(h), Some(l)) => bytes[i] = (h << 4) | l,
                _ => {
                    return Err(ClobError::BadKey(
                        "not hexadecimal (expected 0-9 and a-f only)".into(),
                    ))
                }
            }
        }
        // `bytes` is wiped when dropped (the wallet's own key zeroizes itself too).
        let wallet = LocalWallet::from_bytes(bytes.as_slice()).map_err(|_| {
            ClobError::BadKey("not a valid secp256k1 key (zero or above the curve order)".into())
        })?;
        Ok(PrivateKey { wallet })
    }

    /// Reads a key file holding the hex key (a trailing newline is fine).
    pub fn from_file(path: &Path) -> Result<Self, ClobError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            ClobError::BadKey(format!("cannot read key file {}: {e}", path.display()))
        })?);
        Self::from_hex(&text).map_err(|e| match e {
            ClobError::BadKey(why) => {
                ClobError::BadKey(format!("key file {}: {why}", path.display()))
            }
            other => other,
        })
    }

    /// Reads the key from the environment variable `name`.
    pub fn from_env(name: &str) -> Result<Self, ClobError> {
        match std::env::var(name) {
            Ok(mut v) => {
                let key = Self::from_hex(&v).map_err(|e| match e {
                    ClobError::BadKey(why) => ClobError::BadKey(format!("{name}: {why}")),
                    other => other,
                });
                v.zeroize();
                key
            }
            Err(std::env::VarError::NotPresent) => Err(ClobError::Missing(format!(
                "private key: set {name} or pass --key-file"
            ))),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(ClobError::BadKey(format!("{name} is not valid UTF-8")))
            }
        }
    }

    /// The key's Ethereum address.
    pub fn address(&self) -> Address {
        self.wallet.address()
    }

    /// Signs a 32-byte digest as it is (no message prefix): 65 bytes r‖s‖v with v = 27 or 28.
    pub fn sign_digest(&self, digest: [u8; 32]) -> Result<[u8; 65], ClobError> {
        let sig: Signature = self
            .wallet
            .sign_hash(H256(digest))
            .map_err(|e| ClobError::Signing(format!("secp256k1: {e}")))?;
        let v = sig.to_vec();
        let mut out = [0u8; 65];
        out.copy_from_slice(&v);
        Ok(out)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hardhat/anvil account #0: publicly known, used by every Polymarket client's tests.
    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const KEY_BODY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn parses_and_derives_the_address() {
        let k = PrivateKey::from_hex(KEY).unwrap();
        assert_eq!(
            ethers::utils::to_checksum(&k.address(), None),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        let k2 = PrivateKey::from_hex(&format!("  {KEY_BODY}\n")).unwrap();
        assert_eq!(k.address(), k2.address());
    }

    #[test]
    fn the_key_never_shows() {
        let k = PrivateKey::from_hex(KEY).unwrap();
        for shown in [format!("{k:?}"), format!("{k}"), format!("{k:#?}")] {
            assert_eq!(shown, "***");
        }
        let s = Secret::new("c2VjcmV0LXNlY3JldA==");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Config {
            key: PrivateKey,
            secret: Secret,
        }
        let c = Config {
            key: k,
            secret: s.clone(),
        };
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains(KEY_BODY) && !dbg.contains(s.expose()),
            "{dbg}"
        );
    }

    #[test]
    fn errors_never_echo_the_key() {
        // One digit short, one bad digit, one too long: each error names the problem only.
        let bad = [
            KEY_BODY[..63].to_string(),
            format!("{}g", &KEY_BODY[..63]),
            format!("{KEY_BODY}00"),
            "0".repeat(64),
        ];
        for text in &bad {
            let e = PrivateKey::from_hex(text).unwrap_err().to_string();
            assert!(e.starts_with("private key: "), "{e}");
            assert!(!e.contains(&text[..20]), "error leaks the key: {e}");
        }
        let dir = std::env::temp_dir().join(format!("orderflow-key-{}", std::process::id()));
        std::fs::write(&dir, format!("{}zz\n", &KEY_BODY[..62])).unwrap();
        let e = PrivateKey::from_file(&dir).unwrap_err().to_string();
        std::fs::remove_file(&dir).ok();
        assert!(e.contains("not hexadecimal"), "{e}");
        assert!(!e.contains(&KEY_BODY[..20]), "{e}");
        let e = PrivateKey::from_file(Path::new("/nonexistent/key"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read key file /nonexistent/key"), "{e}");
    }

    #[test]
    fn signs_with_v_27_or_28() {
        let k = PrivateKey::from_hex(KEY).unwrap();
        let sig = k.sign_digest([7u8; 32]).unwrap();
        assert!(sig[64] == 27 || sig[64] == 28);
        let recovered = Signature::try_from(&sig[..])
            .unwrap()
            .recover(H256([7u8; 32]))
            .unwrap();
        assert_eq!(recovered, k.address());
    }
}
