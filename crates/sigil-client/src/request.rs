//! [`RequestBuilder`]: a request to a resource server that carries a sigil
//! token, optionally signed per docs/protocol.md §6, retried once when the resource
//! server says the token is invalid.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE,
};
use reqwest::{Method, ResponseBuilderExt as _, StatusCode, Url};
use serde::Serialize;
use sigil_core::Scheme;
use sigil_core::signed_request::{
    BODY_HASH_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, body_hash, statement,
};

use crate::client::Client;
use crate::error::{Error, Result, parse_error_body};
use crate::signature::sign;
use crate::token::AccessToken;

/// A request being built; see [`Client::request`]. Mirrors the parts of
/// `reqwest::RequestBuilder` that keep the body re-sendable (it is held as
/// bytes, so the request can be retried with a fresh token).
pub struct RequestBuilder {
    client: Client,
    method: Method,
    url: Option<Url>,
    audience: Option<String>,
    headers: HeaderMap,
    body: Option<Bytes>,
    signed: Option<Scheme>,
    error: Option<Error>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: reqwest::Result<Url>) -> Self {
        let (url, error) = match url {
            Ok(url) => (Some(url), None),
            Err(e) => (
                None,
                Some(Error::InvalidUrl {
                    what: "url",
                    reason: e.to_string(),
                }),
            ),
        };
        Self {
            client,
            method,
            url,
            audience: None,
            headers: HeaderMap::new(),
            body: None,
            signed: None,
            error,
        }
    }

    /// Asks for the token with this audience instead of the request URL
    /// without query and fragment: e.g. the API's base URL, so that calls to
    /// many paths share one token.
    #[must_use]
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }

    /// Adds a header. `Authorization` and the signed-request headers are
    /// the client's own and are replaced when the request is sent.
    #[must_use]
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            (Err(e), _) => self.fail(Error::InvalidHeader(format!("name: {e}"))),
            (_, Err(e)) => self.fail(Error::InvalidHeader(format!("value: {e}"))),
        }
        self
    }

    /// Sets the body to these exact bytes (hashed as they are for
    /// `X-Body-Hash`).
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the body to `value` as JSON, and `Content-Type:
    /// application/json` unless a content type was set.
    #[must_use]
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                if !self.headers.contains_key(CONTENT_TYPE) {
                    self.headers
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                self.body = Some(bytes.into());
            }
            Err(e) => self.fail(Error::Json(e)),
        }
        self
    }

    /// Signs the request (docs/protocol.md §6: `X-Timestamp`, `X-Body-Hash`,
    /// `X-Signature`) with the client's scheme.
    #[must_use]
    pub fn signed(self) -> Self {
        let scheme = self.client.config().scheme;
        self.signed_with(scheme)
    }

    /// Signs the request with `scheme`.
    #[must_use]
    pub fn signed_with(mut self, scheme: Scheme) -> Self {
        self.signed = Some(scheme);
        self
    }

    /// Obtains a token (cached per audience), sends the request, and
    /// returns the answer whatever its status, with one exception: when the
    /// resource server answers 401 `invalid_token` (RFC 6750; an expired or
    /// revoked token), the token is dropped, a fresh one obtained and the
    /// request sent once more; a second such answer is an error.
    ///
    /// # Errors
    /// Those of [`Client::token`]; [`Error::Server`] with `invalid_token`
    /// when the fresh token is refused too; [`Error::Http`] for transport
    /// failures; the first error of the builder methods.
    pub async fn send(mut self) -> Result<reqwest::Response> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let url = self.url.take().ok_or_else(|| Error::InvalidUrl {
            what: "url",
            reason: "missing".into(),
        })?;
        let audience = match &self.audience {
            Some(audience) => audience.clone(),
            None => default_audience(&url),
        };
        let mut stale: Option<AccessToken> = None;
        let mut signed_at: Option<u64> = None;
        loop {
            let token = self
                .client
                .token_replacing(&audience, stale.as_ref())
                .await?;
            // A retry signs a later timestamp than the first attempt, so the
            // resource server does not take it for a replay.
            let now_ms = self.client.config().now_ms();
            let timestamp = signed_at.map_or(now_ms, |t| now_ms.max(t.saturating_add(1)));
            signed_at = Some(timestamp);
            let headers = self.final_headers(&url, &token, timestamp)?;
            let mut request = self
                .client
                .config()
                .http
                .request(self.method.clone(), url.clone())
                .headers(headers);
            if let Some(body) = &self.body {
                request = request.body(body.clone());
            }
            let response = request.send().await?;
            match refusal_of_token(response).await? {
                Answer::Other(response) => return Ok(response),
                Answer::InvalidToken(error) if stale.is_some() => return Err(error),
                Answer::InvalidToken(_) => {
                    tracing::debug!(audience = %audience, "token refused by the resource server; retrying once");
                    stale = Some(token);
                }
            }
        }
    }

    fn final_headers(&self, url: &Url, token: &AccessToken, timestamp: u64) -> Result<HeaderMap> {
        let mut headers = self.headers.clone();
        let mut bearer = header_value(&format!("Bearer {}", token.as_str()))?;
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
        for name in [SIGNATURE_HEADER, TIMESTAMP_HEADER, BODY_HASH_HEADER] {
            headers.remove(name);
        }
        if let Some(scheme) = self.signed {
            let config = self.client.config();
            let hash = body_hash(self.body.as_deref().unwrap_or_default());
            let signed = statement(self.method.as_str(), &target(url), &hash, timestamp);
            let signature = STANDARD.encode(sign(scheme, &signed, &config.key)?);
            headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
            headers.insert(BODY_HASH_HEADER, header_value(&hash)?);
            headers.insert(SIGNATURE_HEADER, header_value(&signature)?);
        }
        Ok(headers)
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url.as_ref().map(Url::as_str))
            .field("audience", &self.audience)
            .field("signed", &self.signed)
            .field("body_len", &self.body.as_ref().map(Bytes::len))
            .finish_non_exhaustive()
    }
}

/// The default audience of a request: its URL without user information,
/// query and fragment (docs/decisions/0008-sigil-client.md).
pub(crate) fn default_audience(url: &Url) -> String {
    let mut audience = url.clone();
    audience.set_query(None);
    audience.set_fragment(None);
    // Cannot fail for http(s) URLs; a URL of another scheme is refused
    // later by the audience check anyway.
    let _ = audience.set_username("");
    let _ = audience.set_password(None);
    audience.into()
}

/// The request target as sent: path and query.
pub(crate) fn target(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

fn header_value(text: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(text).map_err(|e| Error::InvalidHeader(e.to_string()))
}

enum Answer {
    /// Anything but a refusal of the token: handed to the caller.
    Other(reqwest::Response),
    /// 401 `invalid_token`, as a typed error.
    InvalidToken(Error),
}

/// Recognises 401 `invalid_token` by its RFC 6750 challenge
/// (`WWW-Authenticate: Bearer error="invalid_token"`) or its docs/protocol.md §8 body.
/// A 401 without the challenge is read to look at its body, then rebuilt
/// for the caller if it is something else.
async fn refusal_of_token(response: reqwest::Response) -> Result<Answer> {
    if response.status() != StatusCode::UNAUTHORIZED {
        return Ok(Answer::Other(response));
    }
    let challenged = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.contains("error=\"invalid_token\""))
        });
    let status = response.status();
    let version = response.version();
    let url = response.url().clone();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    let parsed = parse_error_body(&body);
    if challenged || parsed.as_ref().is_some_and(|p| p.error == "invalid_token") {
        return Ok(Answer::InvalidToken(Error::Server {
            status: status.as_u16(),
            error: "invalid_token".into(),
            description: parsed.and_then(|p| p.error_description).unwrap_or_default(),
        }));
    }
    let mut rebuilt = http::Response::builder()
        .status(status)
        .version(version)
        .url(url)
        .body(body)
        .map_err(|e| Error::InvalidResponse {
            status: status.as_u16(),
            reason: e.to_string(),
        })?;
    *rebuilt.headers_mut() = headers;
    Ok(Answer::Other(reqwest::Response::from(rebuilt)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_and_target_of_urls() {
        for (url, audience, target_) in [
            (
                "https://api.example.com/data?x=1#frag",
                "https://api.example.com/data",
                "/data?x=1",
            ),
            ("http://h:8080", "http://h:8080/", "/"),
            (
                "https://user:pw@api.example.com/a/b?",
                "https://api.example.com/a/b",
                "/a/b?",
            ),
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(default_audience(&url), audience);
            assert_eq!(target(&url), target_);
        }
    }
}
