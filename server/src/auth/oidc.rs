//! Sign-in through an OpenID Connect provider: authorization code flow with PKCE, `state`
//! and `nonce`; the ID token's signature, issuer, audience, expiry and nonce are checked by
//! `openidconnect`. The HTTP client never follows redirects.

use std::time::Duration;

use app::db::{Db, now};
use app::session::Role;
use app::session::server::repo::{hash, random_token};
use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use sqlx::Row;
use tokio::sync::RwLock;

use crate::error_chain;

type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// How long a started sign-in may take at the provider.
const ATTEMPT_SECS: i64 = 600;

/// What an admin configures.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where attest is reached, e.g. `https://attest.example.com`; the callback is below it.
    pub public_url: String,
    /// Scopes asked for, `openid` included.
    pub scopes: Vec<String>,
    /// The claim holding group names, e.g. `groups`.
    pub roles_claim: String,
    /// Group name → role.
    pub role_map: Vec<(String, Role)>,
}

impl OidcSettings {
    pub fn redirect_url(&self) -> String {
        format!("{}/auth/callback", self.public_url.trim_end_matches('/'))
    }

    /// `group=role,group=role`, e.g. `attest-admins=admin,attest-auditors=auditor`.
    pub fn parse_role_map(text: &str) -> Result<Vec<(String, Role)>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (group, role) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not group=role"))?;
                Ok((group.trim().to_string(), Role::parse(role)?))
            })
            .collect()
    }
}

/// Why a sign-in did not complete; each is logged and the person sees a sentence.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown, used or expired `state`, or a `state` from another browser.
    #[error("the sign-in state is unknown, used, expired or from another browser")]
    State,
    #[error("the provider refused: {0}")]
    Provider(String),
    #[error("the ID token was refused: {0}")]
    Token(String),
    #[error("the provider could not be reached: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Database(#[from] app::db::DbError),
}

impl SignInError {
    /// The `error` parameter of the sign-in page.
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::State => "state",
            SignInError::Provider(_) => "provider",
            SignInError::Token(_) => "token",
            SignInError::Unavailable(_) | SignInError::Database(_) => "unavailable",
        }
    }
}

impl From<sqlx::Error> for SignInError {
    fn from(e: sqlx::Error) -> Self {
        SignInError::Database(e.into())
    }
}

/// The person the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: String,
    pub roles: Vec<Role>,
    /// Where to go after signing in.
    pub return_to: String,
}

/// A code and the secrets its sign-in started with, before the ID token is checked.
pub struct Exchanged {
    pub id_token: CoreIdToken,
    pub nonce: String,
    pub return_to: String,
}

pub struct Oidc {
    pub settings: OidcSettings,
    http: reqwest::Client,
    metadata: RwLock<CoreProviderMetadata>,
    /// Seconds added to the clock when checking ID token times (tests move the clock).
    pub clock_offset_secs: i64,
}

impl Oidc {
    /// Reads the provider's `.well-known/openid-configuration` and its keys.
    pub async fn discover(settings: OidcSettings) -> Result<Oidc, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let metadata = Self::fetch_metadata(&settings.issuer, &http).await?;
        Ok(Oidc { settings, http, metadata: RwLock::new(metadata), clock_offset_secs: 0 })
    }

    async fn fetch_metadata(issuer: &str, http: &reqwest::Client) -> Result<CoreProviderMetadata, String> {
        let issuer_url = IssuerUrl::new(issuer.to_string()).map_err(|e| format!("ATTEST_OIDC_ISSUER `{issuer}` is not a URL: {e}"))?;
        CoreProviderMetadata::discover_async(issuer_url, http)
            .await
            .map_err(|e| format!("cannot read {issuer}/.well-known/openid-configuration: {}", error_chain(&e)))
    }

    fn client(&self, metadata: &CoreProviderMetadata) -> Result<Client, String> {
        let redirect = RedirectUrl::new(self.settings.redirect_url()).map_err(|e| format!("ATTEST_PUBLIC_URL is not a URL: {e}"))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: remembers the PKCE verifier and nonce under the hash of a fresh
    /// `state`, and returns the provider's URL and the state for the browser's cookie.
    pub async fn start(&self, db: &Db, return_to: &str) -> Result<(String, String), SignInError> {
        let metadata = self.metadata.read().await;
        let client = self.client(&metadata).map_err(SignInError::Unavailable)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token();
        let state_for_url = state.clone();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, move || CsrfToken::new(state_for_url), Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, nonce) = request.url();
        let now = now();
        sqlx::query(
            "insert into login_attempt (state_hash, nonce, pkce_verifier, return_to, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash(&state))
        .bind(nonce.secret())
        .bind(verifier.secret())
        .bind(return_to)
        .bind(now)
        .bind(now + ATTEMPT_SECS)
        .execute(&db.pool)
        .await?;
        sqlx::query("delete from login_attempt where expires_at < $1").bind(now).execute(&db.pool).await?;
        Ok((url.to_string(), state))
    }

    /// Takes the attempt for `state` (once: a second callback with it finds nothing) and
    /// exchanges the code at the provider.
    pub async fn exchange(&self, db: &Db, code: &str, state: &str) -> Result<Exchanged, SignInError> {
        let row =
            sqlx::query("delete from login_attempt where state_hash = $1 and expires_at > $2 returning nonce, pkce_verifier, return_to")
                .bind(hash(state))
                .bind(now())
                .fetch_optional(&db.pool)
                .await?
                .ok_or(SignInError::State)?;
        let nonce: String = row.try_get("nonce")?;
        let verifier: String = row.try_get("pkce_verifier")?;
        let return_to: String = row.try_get("return_to")?;
        let metadata = self.metadata.read().await.clone();
        let client = self.client(&metadata).map_err(SignInError::Unavailable)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SignInError::Provider(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Provider(error_chain(&e)))?;
        let id_token = response.id_token().ok_or_else(|| SignInError::Token("the provider sent no ID token".into()))?.clone();
        Ok(Exchanged { id_token, nonce, return_to })
    }

    /// Checks the ID token's signature, issuer, audience, expiry and nonce, and reads who it
    /// names. When the key is unknown, the provider's keys are read again once (key rotation).
    pub async fn verify(&self, exchanged: &Exchanged) -> Result<Verified, SignInError> {
        let first = self.verify_with(&*self.metadata.read().await, exchanged);
        let claims = match first {
            Err(SignInError::Token(message)) if message.contains("key") || message.contains("signature") => {
                let fresh = Self::fetch_metadata(&self.settings.issuer, &self.http).await.map_err(SignInError::Unavailable)?;
                let result = self.verify_with(&fresh, exchanged);
                *self.metadata.write().await = fresh;
                result?
            }
            other => other?,
        };
        Ok(claims)
    }

    fn verify_with(&self, metadata: &CoreProviderMetadata, exchanged: &Exchanged) -> Result<Verified, SignInError> {
        let client = self.client(metadata).map_err(SignInError::Unavailable)?;
        let offset = chrono::Duration::seconds(self.clock_offset_secs);
        let verifier = client.id_token_verifier().set_time_fn(move || chrono::Utc::now() + offset);
        let claims =
            exchanged.id_token.claims(&verifier, &Nonce::new(exchanged.nonce.clone())).map_err(|e| SignInError::Token(error_chain(&e)))?;
        let subject = claims.subject().as_str().to_string();
        let email = claims.email().map(|e| e.as_str().to_string());
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_string()))
            .or_else(|| email.clone())
            .unwrap_or_else(|| subject.clone());
        let groups = self.groups(&exchanged.id_token);
        let roles = map_roles(&groups, &self.settings.role_map);
        Ok(Verified { issuer: claims.issuer().as_str().to_string(), subject, email, name, roles, return_to: exchanged.return_to.clone() })
    }

    /// The configured claim of a token whose signature was already checked: a list of
    /// strings, or one string.
    fn groups(&self, id_token: &CoreIdToken) -> Vec<String> {
        let Ok(serde_json::Value::String(jwt)) = serde_json::to_value(id_token) else { return Vec::new() };
        let Some(payload) = jwt.split('.').nth(1) else { return Vec::new() };
        let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else { return Vec::new() };
        let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Vec::new() };
        match claims.get(&self.settings.roles_claim) {
            Some(serde_json::Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        }
    }
}

/// Roles for the groups a person is in, each once, in a stable order.
pub fn map_roles(groups: &[String], role_map: &[(String, Role)]) -> Vec<Role> {
    let mut roles: Vec<Role> = role_map.iter().filter(|(group, _)| groups.iter().any(|g| g == group)).map(|(_, role)| *role).collect();
    roles.sort();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_map_reads_pairs_and_names_the_bad_one() {
        let map = OidcSettings::parse_role_map("attest-admins=admin, auditors = auditor").expect("parses");
        assert_eq!(map, vec![("attest-admins".to_string(), Role::Admin), ("auditors".to_string(), Role::Auditor)]);
        assert!(OidcSettings::parse_role_map("admins").unwrap_err().contains("`admins` is not group=role"));
        assert!(OidcSettings::parse_role_map("admins=root").unwrap_err().contains("unknown role `root`"));
    }

    #[test]
    fn groups_map_to_roles_once_each() {
        let map = OidcSettings::parse_role_map("a=admin,b=reviewer,c=reviewer").expect("parses");
        let groups = vec!["c".to_string(), "b".to_string(), "x".to_string()];
        assert_eq!(map_roles(&groups, &map), vec![Role::Reviewer]);
        assert_eq!(map_roles(&[], &map), Vec::<Role>::new());
    }
}
