//! The `session` scheme: a JWT from the platform's identity provider, verified with an HS256
//! secret or an RS256/ES256/EdDSA public key, `exp` always and `iss`/`aud` when configured.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{SessionKey, Settings};
use crate::error::ApiError;

/// The claims tokend reads from a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the identity provider verified it.
    #[serde(default)]
    pub email_verified: bool,
    /// When the user signed in (Unix seconds).
    #[serde(default)]
    pub auth_time: Option<i64>,
    /// Organizations signed into with SSO in this session.
    #[serde(default)]
    pub sso_orgs: Vec<String>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at (Unix seconds).
    #[serde(default)]
    pub iat: Option<i64>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Verifies session JWTs; built once at start-up from the settings.
pub struct SessionVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl SessionVerifier {
    /// Reads the key (and for a PEM file, its algorithm) and sets the checks.
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        let (key, algorithm) = match &settings.session_key {
            SessionKey::Hs256(secret) => {
                (DecodingKey::from_secret(secret.expose()), Algorithm::HS256)
            }
            SessionKey::PublicKeyFile(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    format!(
                        "TOKEND_SESSION_JWT_PUBLIC_KEY_FILE: {}: {e}",
                        path.display()
                    )
                })?;
                public_key(&pem).ok_or_else(|| {
                    format!(
                        "TOKEND_SESSION_JWT_PUBLIC_KEY_FILE: {} is not an RSA, EC (P-256) or Ed25519 public key in PEM",
                        path.display()
                    )
                })?
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        validation.validate_nbf = true;
        match &settings.session_issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                validation.required_spec_claims.insert("iss".into());
            }
            None => validation.iss = None,
        }
        match &settings.session_audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        Ok(Self { key, validation })
    }

    /// The claims of a valid session; 401 otherwise (the reason is logged, not returned).
    pub fn verify(&self, jwt: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(jwt, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| {
                tracing::debug!(kind = ?error.kind(), "session rejected");
                ApiError::Unauthenticated("invalid or expired session")
            })
    }
}

fn public_key(pem: &[u8]) -> Option<(DecodingKey, Algorithm)> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Some((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Some((key, Algorithm::ES256));
    }
    DecodingKey::from_ed_pem(pem)
        .ok()
        .map(|key| (key, Algorithm::EdDSA))
}

/// A development session for `user` (`tokend dev-session`, the console's `/console/login`):
/// refused in production; the email defaults to `USER@example.test`.
pub fn dev_session(
    settings: &Settings,
    user: &str,
    email: Option<&str>,
    email_verified: bool,
    sso_orgs: Vec<String>,
    ttl_seconds: i64,
) -> Result<String, String> {
    if settings.environment == crate::config::Environment::Production {
        return Err("dev-session is refused when TOKEND_ENV=production".into());
    }
    if ttl_seconds <= 0 {
        return Err("--ttl must be a positive number of seconds".into());
    }
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        email: Some(email.map_or_else(|| format!("{user}@example.test"), str::to_owned)),
        sub: user.to_owned(),
        email_verified,
        auth_time: Some(now),
        sso_orgs,
        exp: now + ttl_seconds,
        iat: Some(now),
        iss: settings.session_issuer.clone(),
        aud: settings.session_audience.clone(),
    };
    sign_dev_session(settings, &claims)
}

/// Signs a development session with the HS256 secret (`tokend dev-session`).
pub fn sign_dev_session(settings: &Settings, claims: &Claims) -> Result<String, String> {
    let SessionKey::Hs256(secret) = &settings.session_key else {
        return Err(
            "dev-session needs TOKEND_SESSION_JWT_SECRET (HS256); a public key cannot sign".into(),
        );
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.expose()),
    )
    .map_err(|e| format!("could not sign the session: {e}"))
}
