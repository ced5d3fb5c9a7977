//! The token endpoint's request (RFC 6749 §3.2, §4.1.3, §6): the
//! `application/x-www-form-urlencoded` body read strictly (every parameter
//! at most once), the grant it asks for and the client credentials it
//! carries.

use crate::error::{OAuthError, OAuthErrorCode, Result};
use sigil_core::quoted;

/// The `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest value of any one form parameter, bytes.
pub const MAX_FORM_PARAM_LEN: usize = 8 * 1024;

/// Reads a form body into its parameters, in order.
///
/// # Errors
/// `invalid_request` for a body that is not UTF-8, a repeated parameter
/// (RFC 6749 §3.2) or an over-long one.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>> {
    if std::str::from_utf8(body).is_err() {
        return Err(OAuthError::invalid_request(
            "the request body is not UTF-8 application/x-www-form-urlencoded",
        ));
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (i, (name, value)) in params.iter().enumerate() {
        if params[..i].iter().any(|(other, _)| other == name) {
            return Err(OAuthError::invalid_request(format!(
                "parameter {} is given more than once (RFC 6749 section 3.2)",
                quoted(name)
            )));
        }
        if value.len() > MAX_FORM_PARAM_LEN {
            return Err(OAuthError::invalid_request(format!(
                "parameter {} is too long",
                quoted(name)
            )));
        }
    }
    Ok(params)
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// What a token request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenGrant {
    /// `grant_type=authorization_code`.
    AuthorizationCode {
        /// `code`.
        code: String,
        /// `redirect_uri`.
        redirect_uri: Option<String>,
        /// `code_verifier`.
        code_verifier: Option<String>,
    },
    /// `grant_type=refresh_token`.
    RefreshToken {
        /// `refresh_token`.
        refresh_token: String,
        /// `scope`: at most the scopes of the grant.
        scope: Option<String>,
    },
}

/// Reads the grant of a token request.
///
/// # Errors
/// `invalid_request` for a missing `grant_type`, `code` or
/// `refresh_token`; `unsupported_grant_type` for any other grant type.
pub fn parse_grant(params: &[(String, String)]) -> Result<TokenGrant> {
    match get(params, "grant_type") {
        Some("authorization_code") => Ok(TokenGrant::AuthorizationCode {
            code: get(params, "code")
                .ok_or_else(|| OAuthError::invalid_request("code is missing"))?
                .to_owned(),
            redirect_uri: get(params, "redirect_uri").map(str::to_owned),
            code_verifier: get(params, "code_verifier").map(str::to_owned),
        }),
        Some("refresh_token") => Ok(TokenGrant::RefreshToken {
            refresh_token: get(params, "refresh_token")
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?
                .to_owned(),
            scope: get(params, "scope").map(str::to_owned),
        }),
        Some(other) => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!(
                "grant_type {} is not served (authorization_code, refresh_token)",
                quoted(other)
            ),
        )),
        None => Err(OAuthError::invalid_request(
            "grant_type is missing (authorization_code or refresh_token)",
        )),
    }
}

/// The client credentials a token (or revocation) request carries, from
/// its `Authorization` and `X-Auth-Token` headers and its form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `Authorization: Basic` id and secret (RFC 6749 §2.3.1), decoded.
    pub basic: Option<(String, String)>,
    /// The form's `client_id`.
    pub client_id: Option<String>,
    /// The form's `client_secret`.
    pub client_secret: Option<String>,
    /// The form's `client_assertion` (with the jwt-bearer type).
    pub client_assertion: Option<String>,
    /// The `X-Auth-Token` header.
    pub x_auth_token: Option<String>,
}

impl ClientCredentials {
    /// The credentials of a request: `authorization` is the
    /// `Authorization` header's value, `x_auth_token` the `X-Auth-Token`
    /// header's.
    ///
    /// # Errors
    /// `invalid_request` for a malformed Basic header or a
    /// `client_assertion` of another type; `invalid_client` when the Basic
    /// id and the form's `client_id` differ.
    pub fn from_request(
        authorization: Option<&str>,
        x_auth_token: Option<&str>,
        params: &[(String, String)],
    ) -> Result<Self> {
        let basic = authorization
            .and_then(|value| {
                let (scheme, rest) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
            })
            .map(decode_basic)
            .transpose()?;
        let client_assertion = match (
            get(params, "client_assertion_type"),
            get(params, "client_assertion"),
        ) {
            (Some(JWT_BEARER_ASSERTION), Some(assertion)) => Some(assertion.to_owned()),
            (None, None) => None,
            (Some(JWT_BEARER_ASSERTION), None) => {
                return Err(OAuthError::invalid_request("client_assertion is missing"));
            }
            (Some(other), _) => {
                return Err(OAuthError::invalid_request(format!(
                    "client_assertion_type {} is not served; use {JWT_BEARER_ASSERTION}",
                    quoted(other)
                )));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(format!(
                    "client_assertion_type is missing; use {JWT_BEARER_ASSERTION}"
                )));
            }
        };
        let credentials = Self {
            basic,
            client_id: get(params, "client_id").map(str::to_owned),
            client_secret: get(params, "client_secret").map(str::to_owned),
            client_assertion,
            x_auth_token: x_auth_token.map(str::to_owned),
        };
        if let (Some((id, _)), Some(form)) = (&credentials.basic, &credentials.client_id)
            && id != form
        {
            return Err(OAuthError::invalid_client(
                "client_id differs from the client of the Authorization header",
            ));
        }
        Ok(credentials)
    }

    /// The client these credentials claim to be: the Basic id, the form's
    /// `client_id`, or the assertion's `iss` (read unverified, only to
    /// find the keys to verify it with).
    ///
    /// # Errors
    /// `invalid_client` when none names a client.
    pub fn claimed_client_id(&self) -> Result<String> {
        if let Some((id, _)) = &self.basic {
            return Ok(id.clone());
        }
        if let Some(id) = &self.client_id {
            return Ok(id.clone());
        }
        if let Some(id) = self
            .client_assertion
            .as_deref()
            .and_then(crate::client_auth::assertion_issuer)
        {
            return Ok(id);
        }
        Err(OAuthError::invalid_client(
            "no client authentication: send client_id (and the credentials of the client's registered method)",
        ))
    }
}

/// `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn decode_basic(value: &str) -> Result<(String, String)> {
    use base64::Engine as _;
    let bad = || OAuthError::invalid_client("the Authorization Basic header is malformed");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((decode(id), decode(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str) -> Vec<(String, String)> {
        parse_form(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        let err = parse_form(b"code=a&code=b").unwrap_err();
        assert_eq!(err.error, OAuthErrorCode::InvalidRequest);
        assert!(err.error_description.contains("\"code\""), "{err}");
    }

    #[test]
    fn grants() {
        assert_eq!(
            parse_grant(&form(
                "grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Fa.example%2F&code_verifier=v"
            )),
            Ok(TokenGrant::AuthorizationCode {
                code: "c".into(),
                redirect_uri: Some("https://a.example/".into()),
                code_verifier: Some("v".into()),
            })
        );
        for (text, code) in [
            ("grant_type=password", OAuthErrorCode::UnsupportedGrantType),
            (
                "grant_type=client_credentials",
                OAuthErrorCode::UnsupportedGrantType,
            ),
            ("code=c", OAuthErrorCode::InvalidRequest),
            ("grant_type=refresh_token", OAuthErrorCode::InvalidRequest),
        ] {
            assert_eq!(parse_grant(&form(text)).unwrap_err().error, code, "{text}");
        }
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        use base64::Engine as _;
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret")
        );
        let creds = ClientCredentials::from_request(Some(&header), None, &[]).unwrap();
        assert_eq!(creds.basic, Some(("my app".into(), "s:cret".into())));
        assert_eq!(creds.claimed_client_id().unwrap(), "my app");
        let mismatch =
            ClientCredentials::from_request(Some(&header), None, &form("client_id=other"));
        assert_eq!(mismatch.unwrap_err().error, OAuthErrorCode::InvalidClient);
        assert_eq!(
            ClientCredentials::default()
                .claimed_client_id()
                .unwrap_err()
                .error,
            OAuthErrorCode::InvalidClient
        );
    }
}
