//! CLOB authentication. L1: an EIP-712 `ClobAuth` signature by the wallet key, used only to
//! create or derive API credentials. L2: an HMAC-SHA256 of each request under the API secret,
//! sent with the API key and passphrase on every trading call.

use std::fmt;

use base64::{
    alphabet,
    engine::{general_purpose::URL_SAFE, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
    Engine as _,
};
use ethers::{
    types::{Address, U256},
    utils::{keccak256, to_checksum},
};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::{
    order::{eip712_digest, hex0x},
    secret::{PrivateKey, Secret},
    ClobError,
};

/// The auth domain type: no verifying contract.
pub const CLOB_AUTH_DOMAIN_TYPE: &str = "EIP712Domain(string name,string version,uint256 chainId)";

/// The signed struct.
pub const CLOB_AUTH_TYPE: &str =
    "ClobAuth(address address,string timestamp,uint256 nonce,string message)";

/// The fixed message of every L1 signature.
pub const CLOB_AUTH_MESSAGE: &str = "This message attests that I control the given wallet";

/// Credentials for L2 calls, as `/auth/api-key` and `/auth/derive-api-key` answer them.
#[derive(Clone, Deserialize)]
pub struct ApiCreds {
    /// The key id (also the `owner` of posted orders). Not a secret, but it names the account.
    #[serde(rename = "apiKey")]
    pub api_key: String,
    /// The HMAC key, base64url.
    pub secret: Secret,
    /// Sent as POLY_PASSPHRASE.
    pub passphrase: Secret,
}

impl fmt::Debug for ApiCreds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCreds")
            .field("api_key", &self.api_key)
            .field("secret", &self.secret)
            .field("passphrase", &self.passphrase)
            .finish()
    }
}

/// The digest an L1 signature signs.
pub fn clob_auth_digest(address: Address, timestamp: &str, nonce: u64, chain_id: u64) -> [u8; 32] {
    let mut dom = Vec::with_capacity(4 * 32);
    dom.extend_from_slice(&keccak256(CLOB_AUTH_DOMAIN_TYPE));
    dom.extend_from_slice(&keccak256("ClobAuthDomain"));
    dom.extend_from_slice(&keccak256("1"));
    let mut w = [0u8; 32];
    U256::from(chain_id).to_big_endian(&mut w);
    dom.extend_from_slice(&w);
    let separator = keccak256(dom);

    let mut s = Vec::with_capacity(5 * 32);
    s.extend_from_slice(&keccak256(CLOB_AUTH_TYPE));
    let mut a = [0u8; 32];
    a[12..].copy_from_slice(address.as_bytes());
    s.extend_from_slice(&a);
    s.extend_from_slice(&keccak256(timestamp));
    U256::from(nonce).to_big_endian(&mut w);
    s.extend_from_slice(&w);
    s.extend_from_slice(&keccak256(CLOB_AUTH_MESSAGE));
    eip712_digest(&separator, &keccak256(s))
}

/// The L1 signature (0x hex, 65 bytes) of `key` for this timestamp (unix seconds) and nonce.
pub fn sign_clob_auth(
    key: &PrivateKey,
    timestamp: u64,
    nonce: u64,
    chain_id: u64,
) -> Result<String, ClobError> {
    let digest = clob_auth_digest(key.address(), &timestamp.to_string(), nonce, chain_id);
    Ok(hex0x(&key.sign_digest(digest)?))
}

/// The L1 headers: POLY_ADDRESS, POLY_SIGNATURE, POLY_TIMESTAMP, POLY_NONCE.
pub fn l1_headers(
    key: &PrivateKey,
    timestamp: u64,
    nonce: u64,
    chain_id: u64,
) -> Result<Vec<(&'static str, String)>, ClobError> {
    Ok(vec![
        ("POLY_ADDRESS", to_checksum(&key.address(), None)),
        (
            "POLY_SIGNATURE",
            sign_clob_auth(key, timestamp, nonce, chain_id)?,
        ),
        ("POLY_TIMESTAMP", timestamp.to_string()),
        ("POLY_NONCE", nonce.to_string()),
    ])
}

// Secrets come base64url with or without padding; some tools hand out the standard alphabet,
// which is mapped onto the URL-safe one before decoding.
const SECRET_DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url(HMAC-SHA256(base64url-decode(secret), timestamp + method + path + body)). `path`
/// is without the query; `body` the exact bytes sent (empty when none).
pub fn hmac_signature(
    secret: &Secret,
    timestamp: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<String, ClobError> {
    let key = SECRET_DECODER
        .decode(secret.expose().trim().replace('+', "-").replace('/', "_"))
        .map_err(|_| ClobError::Signing("the API secret is not base64".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(method.as_bytes());
    mac.update(path.as_bytes());
    mac.update(body);
    Ok(URL_SAFE.encode(mac.finalize().into_bytes()))
}

/// The headers of one L2 call.
#[derive(Clone)]
pub struct L2Headers {
    /// POLY_ADDRESS: the signer's address.
    pub address: String,
    /// POLY_SIGNATURE: the HMAC.
    pub signature: String,
    /// POLY_TIMESTAMP: unix seconds.
    pub timestamp: String,
    /// POLY_API_KEY.
    pub api_key: String,
    /// POLY_PASSPHRASE.
    pub passphrase: Secret,
}

impl L2Headers {
    /// Signs `method path body` at `timestamp` (unix seconds) for `address` with `creds`.
    pub fn new(
        address: Address,
        creds: &ApiCreds,
        timestamp: u64,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Self, ClobError> {
        let ts = timestamp.to_string();
        Ok(L2Headers {
            address: to_checksum(&address, None),
            signature: hmac_signature(&creds.secret, &ts, method, path, body)?,
            timestamp: ts,
            api_key: creds.api_key.clone(),
            passphrase: creds.passphrase.clone(),
        })
    }

    /// (name, value) pairs for the HTTP client.
    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            ("POLY_ADDRESS", &self.address),
            ("POLY_SIGNATURE", &self.signature),
            ("POLY_TIMESTAMP", &self.timestamp),
            ("POLY_API_KEY", &self.api_key),
            ("POLY_PASSPHRASE", self.passphrase.expose()),
        ]
    }
}

impl fmt::Debug for L2Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("L2Headers")
            .field("address", &self.address)
            .field("timestamp", &self.timestamp)
            .field("api_key", &self.api_key)
            .field("passphrase", &self.passphrase)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clob::AMOY;

    // Hardhat/anvil account #0, publicly known.
    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn hmac_matches_py_clob_client_and_clob_client_v2() {
        // Source: Polymarket/py-clob-client tests/signing/test_hmac.py, and the same vector in
        // Polymarket/clob-client-v2 tests/signing/hmac.test.ts.
        let s = hmac_signature(
            &Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            "1000000",
            "test-sign",
            "/orders",
            br#"{"hash": "0x123"}"#,
        )
        .unwrap();
        assert_eq!(s, "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc=");
        // Padding is optional on the way in.
        let unpadded = hmac_signature(
            &Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            "1000000",
            "test-sign",
            "/orders",
            br#"{"hash": "0x123"}"#,
        )
        .unwrap();
        assert_eq!(unpadded, s);
        // Every part of the message counts.
        let other = hmac_signature(
            &Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            "1000000",
            "test-sign",
            "/orders",
            br#"{"hash":"0x123"}"#,
        )
        .unwrap();
        assert_ne!(other, s);
    }

    #[test]
    fn clob_auth_signature_matches_py_clob_client() {
        // Source: Polymarket/py-clob-client tests/signing/test_eip712.py (chain 80002,
        // timestamp 10000000, nonce 23) as of commit e724b4670f01 (the same test at commit
        // 156c01920615 expects 0xd91760eb…, which this implementation does not reproduce).
        let key = PrivateKey::from_hex(KEY).unwrap();
        assert_eq!(
            sign_clob_auth(&key, 10_000_000, 23, AMOY).unwrap(),
            "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1\
             682518e0af677d5260366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b"
        );
    }

    #[test]
    fn clob_auth_digest_agrees_with_ethers_typed_data() {
        use ethers::types::transaction::eip712::{Eip712, TypedData};
        let key = PrivateKey::from_hex(KEY).unwrap();
        let td: TypedData = serde_json::from_value(serde_json::json!({
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"}
                ],
                "ClobAuth": [
                    {"name": "address", "type": "address"},
                    {"name": "timestamp", "type": "string"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "message", "type": "string"}
                ]
            },
            "primaryType": "ClobAuth",
            "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": 137},
            "message": {
                "address": format!("{:?}", key.address()),
                "timestamp": "1700000000",
                "nonce": 5,
                "message": CLOB_AUTH_MESSAGE
            }
        }))
        .unwrap();
        assert_eq!(
            td.encode_eip712().unwrap(),
            clob_auth_digest(key.address(), "1700000000", 5, 137)
        );
    }

    #[test]
    fn l2_headers_never_show_the_passphrase() {
        let creds = ApiCreds {
            api_key: "00000000-1111-2222-3333-444444444444".into(),
            secret: Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            passphrase: Secret::new("very-secret-passphrase"),
        };
        let h = L2Headers::new(Address::zero(), &creds, 1000000, "GET", "/orders", b"").unwrap();
        let shown = format!("{h:?} {creds:?}");
        assert!(!shown.contains("very-secret-passphrase"), "{shown}");
        assert!(!shown.contains("AAAAAAAA"), "{shown}");
        assert_eq!(h.pairs()[4], ("POLY_PASSPHRASE", "very-secret-passphrase"));
        let bad = ApiCreds {
            secret: Secret::new("not base64 !!"),
            ..creds
        };
        let e = L2Headers::new(Address::zero(), &bad, 1, "GET", "/", b"").unwrap_err();
        assert!(!e.to_string().contains("not base64 !!"), "{e}");
    }
}
