//! Access tokens: short-lived JWTs signed with one pinned algorithm (HS256).
//!
//! A valid signature is only the first gate: the extractor also requires the token's `jti` to be
//! active in the token store, so a token forged with a leaked key, or logged out, is refused.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The only algorithm accepted: `alg: none`, RS*/ES* (key confusion) and every other HS variant
/// are refused before the signature is even looked at.
pub const PINNED_ALGORITHM: Algorithm = Algorithm::HS256;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// Unique token id, recorded in the token store when the token is issued.
    pub jti: Uuid,
    /// The session (login) the token belongs to: lets the gate read the token's record, the
    /// session and the user's session epoch in one round trip. Trusted only once the token
    /// store confirms `jti` was issued for this very session.
    pub sid: Uuid,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
}

#[derive(Debug)]
pub struct IssuedAccessToken {
    pub token: String,
    pub claims: AccessClaims,
    pub lifetime: Duration,
}

/// Why a token was refused. Never shown to the client in detail (all map to one 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessTokenRejection {
    #[error("the token has expired")]
    Expired,
    #[error("the token is malformed or its signature, algorithm, issuer or audience is wrong")]
    Invalid,
}

#[derive(Debug, thiserror::Error)]
#[error("could not sign the access token")]
pub struct SigningError(#[from] jsonwebtoken::errors::Error);

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    lifetime: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(
        secret: &[u8],
        issuer: &str,
        audience: &str,
        lifetime: Duration,
        leeway: Duration,
    ) -> Self {
        let mut validation = Validation::new(PINNED_ALGORITHM);
        validation.leeway = leeway.as_secs();
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<IssuedAccessToken, SigningError> {
        let issued_at = jsonwebtoken::get_current_timestamp();
        let claims = AccessClaims {
            sub: user_id,
            jti: Uuid::new_v4(),
            sid: session_id,
            iat: issued_at,
            exp: issued_at + self.lifetime.as_secs(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        let token = jsonwebtoken::encode(&Header::new(PINNED_ALGORITHM), &claims, &self.encoding)?;
        Ok(IssuedAccessToken {
            token,
            claims,
            lifetime: self.lifetime,
        })
    }

    /// Checks algorithm, signature, `exp` (with leeway), `iss`, `aud` and the claim types.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AccessTokenRejection> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AccessTokenRejection::Expired,
                _ => AccessTokenRejection::Invalid,
            })?;
        // A token "issued" in the future was not issued by us with a sane clock.
        let now = jsonwebtoken::get_current_timestamp();
        if data.claims.iat > now + self.validation.leeway {
            return Err(AccessTokenRejection::Invalid);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const SECRET: &[u8] = b"unit-test-secret-of-at-least-32-bytes!!";

    fn keys() -> JwtKeys {
        JwtKeys::new(
            SECRET,
            "issuer-a",
            "audience-a",
            Duration::from_secs(900),
            Duration::from_secs(5),
        )
    }

    fn sign(header: &Header, claims: &serde_json::Value, secret: &[u8]) -> String {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret))
            .expect("signing a test token")
    }

    fn claims_json(exp_offset: i64, aud: &str) -> serde_json::Value {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        serde_json::json!({
            "sub": Uuid::new_v4(), "jti": Uuid::new_v4(), "sid": Uuid::new_v4(), "iat": now,
            "exp": now + exp_offset, "iss": "issuer-a", "aud": aud,
        })
    }

    #[test]
    fn issued_tokens_verify_and_carry_every_claim() {
        let user = Uuid::new_v4();
        let issued = keys().issue(user, Uuid::new_v4()).expect("signing works");
        let claims = keys().verify(&issued.token).expect("own token verifies");
        assert_eq!(claims.sub, user);
        assert_eq!(claims, issued.claims);
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn other_hmac_algorithms_are_refused() {
        let token = sign(
            &Header::new(Algorithm::HS512),
            &claims_json(60, "audience-a"),
            SECRET,
        );
        assert_eq!(keys().verify(&token), Err(AccessTokenRejection::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims_json(60, "audience-a").to_string());
        let token = format!("{header}.{payload}.");
        assert_eq!(keys().verify(&token), Err(AccessTokenRejection::Invalid));
    }

    #[test]
    fn wrong_secret_audience_and_expiry_are_refused() {
        let header = Header::new(Algorithm::HS256);
        let wrong_key = sign(
            &header,
            &claims_json(60, "audience-a"),
            b"another-secret-of-32-bytes-or-more!!",
        );
        assert_eq!(
            keys().verify(&wrong_key),
            Err(AccessTokenRejection::Invalid)
        );
        let wrong_audience = sign(&header, &claims_json(60, "audience-b"), SECRET);
        assert_eq!(
            keys().verify(&wrong_audience),
            Err(AccessTokenRejection::Invalid)
        );
        let expired = sign(&header, &claims_json(-60, "audience-a"), SECRET);
        assert_eq!(keys().verify(&expired), Err(AccessTokenRejection::Expired));
    }

    #[test]
    fn garbage_is_refused() {
        for token in ["", "abc", "a.b.c", "..."] {
            assert_eq!(keys().verify(token), Err(AccessTokenRejection::Invalid));
        }
    }
}
