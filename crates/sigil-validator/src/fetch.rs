//! Fetching the issuer's discovery document and JWKS (security catalogue
//! T13): https only (http for `localhost`, `127.0.0.1` and `[::1]`), the
//! JWKS on the issuer's origin, a timeout, a size limit, no redirects, and
//! the `Cache-Control: max-age` of the answer.

use std::time::Duration;

use http::header;
use reqwest::Url;
use serde_json::Value;
use sigil_core::JwkSet;
use sigil_core::api::paths;

use crate::error::Error;

/// Where the keys come from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// `<issuer>/.well-known/openid-configuration`, then its `jwks_uri`,
    /// which must be on the issuer's origin.
    Discovery {
        /// The discovery document's URL.
        document: Url,
        /// The issuer URL, for the origin check.
        issuer: Url,
    },
    /// A configured JWKS URL (no discovery).
    Direct(Url),
}

/// A fetched and checked key set, and how long the issuer lets us cache it.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) keys: JwkSet,
    /// `Cache-Control: max-age` in seconds (0 for `no-store`/`no-cache`),
    /// `None` when absent.
    pub(crate) max_age_s: Option<u64>,
}

/// The HTTP side of the key cache.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    issuer: String,
    source: KeySource,
    timeout: Duration,
    max_bytes: usize,
}

impl Fetcher {
    pub(crate) fn new(
        client: reqwest::Client,
        issuer: String,
        source: KeySource,
        timeout: Duration,
        max_bytes: usize,
    ) -> Self {
        Self {
            client,
            issuer,
            source,
            timeout,
            max_bytes,
        }
    }

    /// Fetches the JWKS, discovering its URL first when needed (the
    /// discovered URL is kept in `jwks_uri` for the next refresh, and
    /// forgotten when a fetch fails so that the next one discovers again).
    ///
    /// # Errors
    /// [`Error::Discovery`], [`Error::Fetch`] or [`Error::Jwks`].
    pub(crate) async fn fetch(&self, jwks_uri: &mut Option<Url>) -> Result<Fetched, Error> {
        let url = match (&self.source, jwks_uri.as_ref()) {
            (KeySource::Direct(url), _) => url.clone(),
            (KeySource::Discovery { .. }, Some(url)) => url.clone(),
            (KeySource::Discovery { document, issuer }, None) => {
                let url = self.discover(document, issuer).await?;
                *jwks_uri = Some(url.clone());
                url
            }
        };
        let result = self.fetch_jwks(&url).await;
        if result.is_err() {
            *jwks_uri = None;
        }
        result
    }

    async fn fetch_jwks(&self, url: &Url) -> Result<Fetched, Error> {
        let (body, max_age_s) = self.get(url).await.map_err(Error::Fetch)?;
        let keys = JwkSet::from_json(&body).map_err(|e| Error::Jwks(e.to_string()))?;
        Ok(Fetched { keys, max_age_s })
    }

    /// The `jwks_uri` of the discovery document, after checking its
    /// `issuer` (OpenID Connect Discovery section 4.3) and its origin.
    async fn discover(&self, document: &Url, issuer: &Url) -> Result<Url, Error> {
        let (body, _) = self.get(document).await.map_err(Error::Discovery)?;
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::Discovery(format!("{document}: not JSON: {e}")))?;
        match doc.get("issuer") {
            Some(Value::String(got)) if *got == self.issuer => {}
            Some(Value::String(got)) => {
                return Err(Error::Discovery(format!(
                    "{document}: the document names issuer {got:?}, but this validator was configured with {:?}; they must be exactly equal (pass --issuer {got:?} if that is the server you mean)",
                    self.issuer
                )));
            }
            _ => {
                return Err(Error::Discovery(format!(
                    "{document}: issuer missing or not a string; expected exactly {:?}",
                    self.issuer
                )));
            }
        }
        let Some(Value::String(text)) = doc.get("jwks_uri") else {
            return Err(Error::Discovery(format!(
                "{document}: jwks_uri missing or not a string"
            )));
        };
        let url =
            Url::parse(text).map_err(|e| Error::Discovery(format!("jwks_uri {text:?}: {e}")))?;
        check_fetch_url(&url).map_err(|e| Error::Discovery(format!("jwks_uri: {e}")))?;
        if url.origin() != issuer.origin() {
            return Err(Error::Discovery(format!(
                "jwks_uri {url} is not on the issuer's origin {}",
                issuer.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    /// One bounded GET: a 2xx answer from exactly `url` (no redirect, even
    /// with a caller's client that follows them), at most `max_bytes`,
    /// within `timeout`. Returns the body and the `max-age`.
    async fn get(&self, url: &Url) -> Result<(Vec<u8>, Option<u64>), String> {
        let mut response = self
            .client
            .get(url.clone())
            .header(header::ACCEPT, "application/json")
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if response.url() != url {
            return Err(format!("GET {url}: redirected, redirects are not followed"));
        }
        let status = response.status();
        if status.is_redirection() {
            return Err(format!("GET {url}: {status}, redirects are not followed"));
        }
        if !status.is_success() {
            return Err(format!("GET {url}: {status}"));
        }
        let too_large = || format!("GET {url}: body over {} bytes", self.max_bytes);
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let max_age_s = response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
        {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age_s))
    }
}

/// The discovery document URL of `issuer`: `<issuer>/.well-known/openid-configuration`.
///
/// # Errors
/// [`Error::Config`] when the issuer is not an acceptable fetch URL.
pub(crate) fn discovery_source(issuer: &str) -> Result<KeySource, Error> {
    let issuer_url = parse_fetch_url(issuer, "issuer")?;
    let document = parse_fetch_url(
        &format!(
            "{}{}",
            issuer.trim_end_matches('/'),
            paths::OPENID_CONFIGURATION
        ),
        "issuer",
    )?;
    Ok(KeySource::Discovery {
        document,
        issuer: issuer_url,
    })
}

/// Parses a URL the validator will fetch and applies [`check_fetch_url`].
///
/// # Errors
/// [`Error::Config`] naming `what`.
pub(crate) fn parse_fetch_url(text: &str, what: &str) -> Result<Url, Error> {
    let url = Url::parse(text).map_err(|e| Error::Config(format!("{what} {text:?}: {e}")))?;
    check_fetch_url(&url).map_err(|e| Error::Config(format!("{what}: {e}")))?;
    Ok(url)
}

/// T13: https, or http to a loopback name (`localhost`, `127.0.0.1`,
/// `[::1]`) for development; no user info, no fragment.
fn check_fetch_url(url: &Url) -> Result<(), String> {
    // The URL parser lower-cases names and normalises IP literals
    // (`127.1` is `127.0.0.1`, `[0::1]` is `[::1]`).
    let loopback = match url.host_str() {
        Some(host) => matches!(host, "localhost" | "127.0.0.1" | "[::1]"),
        None => return Err(format!("{url} has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "{url} must be https (http is allowed only for localhost, 127.0.0.1 and [::1])"
            ));
        }
        other => return Err(format!("{url}: scheme {other:?} is not https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{url} must not contain user info"));
    }
    if url.fragment().is_some() {
        return Err(format!("{url} must not contain a fragment"));
    }
    Ok(())
}

/// The `max-age` of a `Cache-Control` value, in seconds; `no-store` and
/// `no-cache` count as 0. `None` when neither is present.
fn max_age(value: &str) -> Option<u64> {
    let mut found = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(0);
        }
        if let Some((name, seconds)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
        {
            let seconds = seconds.trim().trim_matches('"');
            if !seconds.is_empty() && seconds.bytes().all(|b| b.is_ascii_digit()) {
                // A value too large for u64 is "very long": clamped later.
                found = Some(seconds.parse().unwrap_or(u64::MAX));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_urls_are_https_or_loopback_http() {
        for ok in [
            "https://auth.example.com",
            "https://auth.example.com:8443/tenant",
            "http://localhost:1911",
            "http://LOCALHOST:1911",
            "http://127.0.0.1:8080",
            "http://[::1]:8080/x",
            "http://[0::1]:8080/x",
            "http://127.1:8080",
        ] {
            assert!(parse_fetch_url(ok, "issuer").is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("http://auth.example.com", "must be https"),
            ("http://127.0.0.2", "must be https"),
            ("http://localhost.evil.com", "must be https"),
            ("http://10.0.0.1", "must be https"),
            ("ftp://localhost/x", "is not https"),
            ("file:///etc/passwd", "no host"),
            ("https://user:pw@auth.example.com", "user info"),
            ("https://auth.example.com/#x", "fragment"),
            ("not a url", "issuer \"not a url\""),
        ] {
            let err = parse_fetch_url(bad, "issuer").unwrap_err().to_string();
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn discovery_document_url() {
        for issuer in ["https://a.example/tenant", "https://a.example/tenant/"] {
            let KeySource::Discovery { document, .. } = discovery_source(issuer).unwrap() else {
                panic!("discovery");
            };
            assert_eq!(
                document.as_str(),
                "https://a.example/tenant/.well-known/openid-configuration"
            );
        }
    }

    #[test]
    fn cache_control_max_age() {
        for (value, want) in [
            ("public, max-age=300", Some(300)),
            ("max-age=\"60\"", Some(60)),
            ("MAX-AGE = 7", Some(7)),
            ("no-store", Some(0)),
            ("public, no-cache, max-age=300", Some(0)),
            ("max-age=99999999999999999999999", Some(u64::MAX)),
            ("max-age=-1", None),
            ("max-age=", None),
            ("public", None),
            ("s-maxage=100", None),
        ] {
            assert_eq!(max_age(value), want, "{value}");
        }
    }
}
