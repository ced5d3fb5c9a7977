//! The authorization request (`GET /oauth2/authorize`, docs/protocol.md
//! §17): which refusals are an error page (an unknown client, a redirect
//! URI that is not registered: never a redirect, RFC 6749 §4.1.2.1) and
//! which are redirected back with `error`, `state` and `iss`; and the
//! request sigil goes on with when it is valid.

use crate::client::{GrantType, RegisteredClient};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::pkce;
use crate::redirect;
use crate::scope::Scopes;
use sigil_core::quoted;

/// The longest value of any one parameter, bytes.
pub const MAX_PARAM_LEN: usize = 2048;

/// `prompt` (OIDC Core §3.1.2.1), the values sigil serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown; `login_required` or
    /// `consent_required` instead.
    pub none: bool,
    /// `login`: sign again even with a session.
    pub login: bool,
    /// `consent`: ask again even with a remembered consent.
    pub consent: bool,
}

/// A valid authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The client.
    pub client_id: String,
    /// The redirect URI, exactly as sent (it matched a registered one).
    pub redirect_uri: String,
    /// The scopes asked for.
    pub scopes: Scopes,
    /// `state`, returned as sent.
    pub state: Option<String>,
    /// `nonce`, put in the id_token.
    pub nonce: Option<String>,
    /// The S256 `code_challenge`.
    pub code_challenge: String,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age`, seconds: an older login signs again.
    pub max_age_s: Option<u64>,
    /// `resource` (RFC 8707): the access token's `aud`.
    pub resource: Option<String>,
    /// Sigma's `bap_id` / `bapId`: used only when the registry links it to
    /// the key that signs in.
    pub bap_id: Option<String>,
}

/// Why an authorization request was refused, and how to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    /// Show an error page on sigil's origin; never redirect (the client or
    /// its redirect URI cannot be trusted).
    Page(OAuthError),
    /// Redirect to the (matched) `redirect_uri` with the error, `state` and
    /// `iss` in the query.
    Redirect {
        /// The redirect URI.
        redirect_uri: String,
        /// The error.
        error: OAuthError,
        /// `state` as sent, if any.
        state: Option<String>,
    },
}

impl AuthorizeRefusal {
    /// The error.
    #[must_use]
    pub fn error(&self) -> &OAuthError {
        match self {
            Self::Page(error) | Self::Redirect { error, .. } => error,
        }
    }

    /// The URL to redirect to, for [`AuthorizeRefusal::Redirect`].
    #[must_use]
    pub fn redirect_url(&self, issuer: &str) -> Option<String> {
        match self {
            Self::Page(_) => None,
            Self::Redirect {
                redirect_uri,
                error,
                state,
            } => {
                let mut params = vec![
                    ("error", error.error.as_str()),
                    ("error_description", error.error_description.as_str()),
                ];
                if let Some(state) = state {
                    params.push(("state", state.as_str()));
                }
                redirect::response_url(redirect_uri, &params, issuer).ok()
            }
        }
    }
}

/// Reads an authorization request from its query parameters (already
/// percent-decoded, in order), looking the client up with `client`.
///
/// Order of checks: every parameter at most once (RFC 6749 §3.1) and not
/// too long; `client_id` known and `redirect_uri` registered (else an
/// error page); then, redirected: `response_type=code`, PKCE S256,
/// scopes, `prompt`, `max_age`, `resource`, `nonce`.
///
/// # Errors
/// [`AuthorizeRefusal`] as above.
pub fn parse(
    params: &[(String, String)],
    client: impl FnOnce(&str) -> Option<RegisteredClient>,
) -> Result<(AuthorizeRequest, RegisteredClient), AuthorizeRefusal> {
    let page =
        |description: String| AuthorizeRefusal::Page(OAuthError::invalid_request(description));
    for (i, (name, value)) in params.iter().enumerate() {
        if params[..i].iter().any(|(other, _)| other == name) {
            return Err(page(format!(
                "parameter {} is given more than once (RFC 6749 section 3.1)",
                quoted(name)
            )));
        }
        if value.len() > MAX_PARAM_LEN {
            return Err(page(format!(
                "parameter {} is too long ({} bytes, at most {MAX_PARAM_LEN})",
                quoted(name),
                value.len()
            )));
        }
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let client_id = get("client_id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            page("client_id is missing: the app's link to sign in is incomplete".into())
        })?;
    let client = client(client_id).ok_or_else(|| {
        page(format!(
            "unknown client {}: the app is not registered with this server",
            quoted(client_id)
        ))
    })?;
    let redirect_uri = get("redirect_uri").ok_or_else(|| {
        page("redirect_uri is missing: it is required, and must be one the app registered".into())
    })?;
    if !redirect::matches(&client.redirect_uris, redirect_uri) {
        return Err(page(format!(
            "redirect_uri {} is not registered for {}; nothing was sent to it",
            quoted(redirect_uri),
            quoted(&client.client_name)
        )));
    }
    let state = get("state").map(str::to_owned);
    let back = |error: OAuthError| AuthorizeRefusal::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        error,
        state: state.clone(),
    };
    match get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(back(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                format!("response_type {} is not served; use code", quoted(other)),
            )));
        }
        None => {
            return Err(back(OAuthError::invalid_request(
                "response_type is missing; use code",
            )));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(back(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this client is not registered for the authorization code flow",
        )));
    }
    let code_challenge = get("code_challenge").ok_or_else(|| {
        back(OAuthError::invalid_request(
            "code_challenge is missing: PKCE with S256 is required of every client",
        ))
    })?;
    match get("code_challenge_method") {
        Some("S256") => {}
        Some(other) => {
            return Err(back(OAuthError::invalid_request(format!(
                "code_challenge_method {} is not allowed; use S256",
                quoted(other)
            ))));
        }
        None => {
            return Err(back(OAuthError::invalid_request(
                "code_challenge_method is missing; it must be S256 (plain is not allowed)",
            )));
        }
    }
    pkce::check_challenge(code_challenge).map_err(back)?;
    let scopes = Scopes::parse(get("scope")).map_err(back)?;
    check_client_scope(&client, &scopes).map_err(back)?;
    let prompt = parse_prompt(get("prompt")).map_err(back)?;
    let max_age_s = get("max_age")
        .map(|text| {
            sigil_core::timestamp::parse_ms(text).map_err(|_| {
                OAuthError::invalid_request(format!(
                    "max_age must be a non-negative integer number of seconds, got {}",
                    quoted(text)
                ))
            })
        })
        .transpose()
        .map_err(back)?;
    let resource = get("resource")
        .map(|text| check_resource(text).map(|()| text.to_owned()))
        .transpose()
        .map_err(back)?;
    let nonce = get("nonce").map(str::to_owned);
    let bap_id = get("bap_id")
        .or_else(|| get("bapId"))
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    Ok((
        AuthorizeRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state,
            nonce,
            code_challenge: code_challenge.to_owned(),
            prompt,
            max_age_s,
            resource,
            bap_id,
        },
        client,
    ))
}

/// A client registered with a `scope` may ask only for those scopes.
fn check_client_scope(client: &RegisteredClient, asked: &Scopes) -> Result<(), OAuthError> {
    let Some(text) = client.scope.as_deref() else {
        return Ok(());
    };
    let allowed = Scopes::parse(Some(text))?;
    if allowed.covers(asked) {
        return Ok(());
    }
    Err(OAuthError::new(
        OAuthErrorCode::InvalidScope,
        format!("this client may ask only for the scopes {allowed}, not {asked}"),
    ))
}

fn parse_prompt(text: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::default();
    for value in text.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "prompt value {} is not served (none, login, consent)",
                    quoted(other)
                )));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values (OIDC Core section 3.1.2.1)",
        ));
    }
    Ok(prompt)
}

/// RFC 8707 §2: an absolute URI without a fragment.
fn check_resource(text: &str) -> Result<(), OAuthError> {
    match url::Url::parse(text) {
        Ok(url) if url.fragment().is_none() && matches!(url.scheme(), "https" | "http") => Ok(()),
        _ => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            format!(
                "resource {} must be an absolute http(s) URI without a fragment (RFC 8707)",
                quoted(text)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::AuthMethod;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> RegisteredClient {
        RegisteredClient {
            client_id: "app".into(),
            client_name: "The App".into(),
            redirect_uris: vec![
                "https://app.example/cb".into(),
                "http://127.0.0.1/cb".into(),
            ],
            grant_types: vec![GrantType::AuthorizationCode],
            auth_method: AuthMethod::None,
            secret_hash: None,
            jwks: None,
            bitcoin_pubkey: None,
            scope: None,
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid profile"),
            ("state", "st"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    fn run(
        pairs: &[(&str, &str)],
    ) -> Result<(AuthorizeRequest, RegisteredClient), AuthorizeRefusal> {
        parse(&params(pairs), |id| (id == "app").then(client))
    }

    fn with(change: (&'static str, Option<&'static str>)) -> Vec<(&'static str, &'static str)> {
        let mut pairs: Vec<_> = good().into_iter().filter(|(n, _)| *n != change.0).collect();
        if let Some(value) = change.1 {
            pairs.push((change.0, value));
        }
        pairs
    }

    #[test]
    fn a_good_request() {
        let (request, client) = run(&good()).unwrap();
        assert_eq!(client.client_id, "app");
        assert_eq!(request.scopes.to_string(), "openid profile");
        assert_eq!(request.state.as_deref(), Some("st"));
        assert_eq!(request.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert_eq!(request.prompt, Prompt::default());
        let (loopback, _) =
            run(&with(("redirect_uri", Some("http://127.0.0.1:49152/cb")))).unwrap();
        assert_eq!(loopback.redirect_uri, "http://127.0.0.1:49152/cb");
        let (sigma, _) = run(&with(("bapId", Some("bap-1")))).unwrap();
        assert_eq!(sigma.bap_id.as_deref(), Some("bap-1"));
        let (extra, _) = run(&with(("ui_locales", Some("de")))).unwrap();
        assert_eq!(extra.client_id, "app", "other parameters are ignored");
    }

    /// An unknown client or an unregistered redirect URI never redirects:
    /// that would be an open redirector (RFC 9700 §4.11).
    #[test]
    fn untrusted_targets_get_a_page() {
        for (pairs, phrase) in [
            (with(("client_id", Some("nope"))), "unknown client"),
            (with(("client_id", None)), "client_id is missing"),
            (
                with(("redirect_uri", Some("https://evil.example/cb"))),
                "not registered",
            ),
            (
                with(("redirect_uri", Some("https://app.example/cb/../x"))),
                "not registered",
            ),
            (with(("redirect_uri", None)), "redirect_uri is missing"),
        ] {
            match run(&pairs) {
                Err(AuthorizeRefusal::Page(error)) => {
                    assert!(error.error_description.contains(phrase), "{error}");
                }
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
        let mut twice = good();
        twice.push(("redirect_uri", "https://evil.example/cb"));
        assert!(matches!(run(&twice), Err(AuthorizeRefusal::Page(_))));
    }

    #[test]
    fn parameters_past_the_length_limit_get_a_page() {
        let with_state = |state: &str| {
            let mut pairs: Vec<(String, String)> = good()
                .into_iter()
                .filter(|(name, _)| *name != "state")
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            pairs.push(("state".into(), state.to_owned()));
            parse(&pairs, |id| (id == "app").then(client))
        };
        assert!(with_state(&"s".repeat(MAX_PARAM_LEN)).is_ok());
        match with_state(&"s".repeat(MAX_PARAM_LEN + 1)) {
            Err(AuthorizeRefusal::Page(error)) => {
                assert!(error.error_description.contains("too long"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_errors_redirect_with_state_and_iss() {
        for (pairs, code) in [
            (
                with(("response_type", Some("token"))),
                OAuthErrorCode::UnsupportedResponseType,
            ),
            (
                with(("response_type", None)),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                with(("code_challenge", None)),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                with(("code_challenge_method", None)),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                with(("code_challenge_method", Some("plain"))),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                with(("code_challenge", Some("short"))),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                with(("scope", Some("openid email"))),
                OAuthErrorCode::InvalidScope,
            ),
            (
                with(("prompt", Some("none login"))),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                with(("prompt", Some("select_account"))),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                with(("max_age", Some("-1"))),
                OAuthErrorCode::InvalidRequest,
            ),
            (
                with(("resource", Some("https://api.example/#x"))),
                OAuthErrorCode::InvalidTarget,
            ),
            (
                with(("resource", Some("api"))),
                OAuthErrorCode::InvalidTarget,
            ),
        ] {
            let refusal = run(&pairs).unwrap_err();
            assert_eq!(refusal.error().error, code, "{pairs:?}");
            let url = refusal
                .redirect_url("https://sigil.example")
                .unwrap_or_else(|| panic!("{pairs:?}"));
            assert!(url.starts_with("https://app.example/cb?error="), "{url}");
            assert!(
                url.contains("&state=st&iss=https%3A%2F%2Fsigil.example"),
                "{url}"
            );
        }
    }

    #[test]
    fn a_client_with_a_scope_may_ask_only_for_it() {
        let limited = || {
            let mut c = client();
            c.scope = Some("openid".into());
            c
        };
        let asked = params(&with(("scope", Some("openid profile"))));
        let refusal = parse(&asked, |_| Some(limited())).unwrap_err();
        assert_eq!(refusal.error().error, OAuthErrorCode::InvalidScope);
        assert!(
            refusal
                .redirect_url("https://sigil.example")
                .is_some_and(|url| url.starts_with("https://app.example/cb?error=invalid_scope")),
            "{refusal:?}"
        );
        let (r, _) = parse(&params(&with(("scope", None))), |_| Some(limited())).unwrap();
        assert_eq!(r.scopes.to_string(), "openid");
    }

    #[test]
    fn prompt_max_age_and_resource_are_read() {
        let (r, _) = run(&with(("prompt", Some("login consent")))).unwrap();
        assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
        let (r, _) = run(&with(("max_age", Some("0")))).unwrap();
        assert_eq!(r.max_age_s, Some(0));
        let (r, _) = run(&with(("resource", Some("https://api.example/v1")))).unwrap();
        assert_eq!(r.resource.as_deref(), Some("https://api.example/v1"));
        let (r, _) = run(&with(("scope", None))).unwrap();
        assert_eq!(r.scopes.to_string(), "openid");
    }
}
