//! Redirect URIs: which ones a client may register, how a requested one is
//! matched against them (exact string, RFC 9700 §4.1.3; any port for a
//! loopback IP literal, RFC 8252 §7.3), and the authorization response
//! built on one (`iss` always, RFC 9207; parameters in the query).

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::{OAuthError, OAuthErrorCode, Result};
use sigil_core::quoted;

/// The longest redirect URI accepted, bytes.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;

fn invalid(description: String) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRedirectUri, description)
}

/// Whether `host` is a loopback IP literal (`127.0.0.1` or `[::1]`), the
/// hosts whose port a native app picks at run time (RFC 8252 §7.3).
fn is_loopback_literal(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip) == IpAddr::from([127, 0, 0, 1]),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// Checks a redirect URI a client registers: an absolute `https` URL, or
/// `http` on a loopback host (`localhost`, `127.0.0.1`, `[::1]`); no
/// fragment, no user information; written in its canonical form (what a
/// WHATWG URL parser serialises it as), so that exact matching compares
/// like with like.
///
/// # Errors
/// `invalid_redirect_uri` saying which rule failed and, for a
/// non-canonical spelling, the canonical one.
pub fn check_registered(uri: &str) -> Result<()> {
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err(invalid(format!(
            "redirect URI too long ({} bytes, at most {MAX_REDIRECT_URI_LEN})",
            uri.len()
        )));
    }
    let url = Url::parse(uri).map_err(|e| {
        invalid(format!(
            "redirect URI {} is not an absolute URL: {e}",
            quoted(uri)
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_literal(&url) || url.host_str() == Some("localhost") => {}
        "http" => {
            return Err(invalid(format!(
                "redirect URI {} must use https (http only on localhost, 127.0.0.1 or [::1])",
                quoted(uri)
            )));
        }
        other => {
            return Err(invalid(format!(
                "redirect URI {} has scheme {other:?}; https (or http on loopback) is required",
                quoted(uri)
            )));
        }
    }
    if url.fragment().is_some() {
        return Err(invalid(format!(
            "redirect URI {} must not have a fragment (RFC 6749 section 3.1.2)",
            quoted(uri)
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(format!(
            "redirect URI {} must not contain user information",
            quoted(uri)
        )));
    }
    if url.as_str() != uri {
        return Err(invalid(format!(
            "redirect URI {} is not in canonical form; register it as {}",
            quoted(uri),
            quoted(url.as_str())
        )));
    }
    Ok(())
}

/// Whether `requested` is one of the `registered` URIs: the same string,
/// or, for a registered `http://127.0.0.1…` or `http://[::1]…` URI, the
/// same URL with any port (RFC 8252 §7.3). Nothing else is normalised:
/// no case folding, no trailing-slash or default-port equivalence.
#[must_use]
pub fn matches(registered: &[String], requested: &str) -> bool {
    registered.iter().any(|one| matches_one(one, requested))
}

fn matches_one(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(mut reg), Ok(mut req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    // Only a canonically written request may differ, and only by its port.
    if req.as_str() != requested
        || reg.scheme() != "http"
        || !is_loopback_literal(&reg)
        || reg.host() != req.host()
    {
        return false;
    }
    if reg.set_port(None).is_err() || req.set_port(None).is_err() {
        return false;
    }
    reg == req
}

/// The authorization response on `redirect_uri` (already matched): the
/// parameters appended to its query, after any query it has, with `iss`
/// always last (RFC 9207 §2).
///
/// # Errors
/// `invalid_redirect_uri` when `redirect_uri` is not a URL (it was
/// matched against a registered one, so this is a caller's bug).
pub fn response_url(redirect_uri: &str, params: &[(&str, &str)], issuer: &str) -> Result<String> {
    let mut url = Url::parse(redirect_uri).map_err(|e| {
        invalid(format!(
            "redirect URI {} is not a URL: {e}",
            quoted(redirect_uri)
        ))
    })?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", issuer);
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_matching_with_loopback_ports() {
        let registered = list(&[
            "https://app.example/cb",
            "http://127.0.0.1/native",
            "http://[::1]:8080/native",
            "http://localhost:3000/cb",
        ]);
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1/native",
            "http://127.0.0.1:51234/native",
            "http://[::1]/native",
            "http://[::1]:1/native",
            "http://localhost:3000/cb",
        ] {
            assert!(matches(&registered, ok), "{ok}");
        }
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://APP.example/cb",
            "https://app.example:443/cb",
            "https://app.example/cb#f",
            "https://app.example.evil/cb",
            "http://app.example/cb",
            "http://127.0.0.1:5000/native/x",
            "http://127.0.0.2:5000/native",
            "https://127.0.0.1:5000/native",
            // localhost is not an IP literal: its port is exact.
            "http://localhost:3001/cb",
            "http://127.0.0.1:051234/native",
        ] {
            assert!(!matches(&registered, bad), "{bad}");
        }
    }

    #[test]
    fn registration_rules() {
        for ok in [
            "https://app.example/cb",
            "https://app.example/cb?tenant=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:9/cb",
        ] {
            check_registered(ok).unwrap();
        }
        for (bad, phrase) in [
            ("http://app.example/cb", "must use https"),
            ("https://app.example/cb#x", "fragment"),
            ("https://user@app.example/cb", "user information"),
            ("javascript:alert(1)", "scheme"),
            ("com.example.app:/cb", "scheme"),
            ("/cb", "not an absolute URL"),
            (
                "https://app.example",
                "register it as \"https://app.example/\"",
            ),
            ("HTTPS://app.example/cb", "canonical"),
        ] {
            let err = check_registered(bad).unwrap_err();
            assert_eq!(err.error, OAuthErrorCode::InvalidRedirectUri, "{bad}");
            assert!(err.error_description.contains(phrase), "{bad}: {err}");
        }
    }

    #[test]
    fn responses_keep_the_query_and_end_with_iss() {
        let url = response_url(
            "https://app.example/cb?tenant=1",
            &[("code", "abc"), ("state", "s p&")],
            "https://sigil.example",
        )
        .unwrap();
        assert_eq!(
            url,
            "https://app.example/cb?tenant=1&code=abc&state=s+p%26&iss=https%3A%2F%2Fsigil.example"
        );
    }
}
