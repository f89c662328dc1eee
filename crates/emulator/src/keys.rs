//! The token-signing key: an ES256 (P-256) key generated at start, published as a JWKS, so a client
//! that validates signatures (as apps using MSAL's id_token or a JWT library do) can. The emulator
//! itself still validates tokens by lookup.

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Signer {
    pub fn generate() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("P-256 key generation");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("a key ring just generated parses");
        // The key id is derived from the public key, as Entra's kid names the key it signs with.
        let kid = b64(&key.public_key().as_ref()[1..13]);
        Signer { key, rng, kid }
    }

    /// A compact JWS (ES256) over `payload`.
    pub fn jwt(&self, payload: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes())
        );
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("ECDSA signing with the system RNG");
        format!("{signing_input}.{}", b64(sig.as_ref()))
    }

    /// The JWKS document (`{"keys": [...]}`) with the public key.
    pub fn jwks(&self) -> Value {
        // Uncompressed SEC1 point: 0x04 || X (32 bytes) || Y (32 bytes).
        let point = self.key.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        }]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    #[test]
    fn tokens_verify_with_the_published_key() {
        let signer = Signer::generate();
        let token = signer.jwt(&json!({"sub": "x"}));
        let (input, sig) = token.rsplit_once('.').unwrap();
        let jwk = &signer.jwks()["keys"][0];
        let d = |k: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwk[k].as_str().unwrap())
                .unwrap()
        };
        let mut point = vec![4u8];
        point.extend(d("x"));
        point.extend(d("y"));
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig).unwrap();
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
        assert!(key.verify(input.as_bytes(), &sig).is_ok());
        let mut tampered = input.to_string();
        tampered.push('A');
        assert!(key.verify(tampered.as_bytes(), &sig).is_err());
    }
}
