//! Reading credentials from request headers, strictly: a header given twice
//! or not visible ASCII is refused, never guessed at.

use http::{HeaderMap, header};
use sigil_core::signed_request::{BODY_HASH_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use crate::error::Rejection;

/// The bitcoin-auth header (read case-insensitively, as every header).
pub const X_AUTH_TOKEN_HEADER: &str = "x-auth-token";

/// The three signed-request headers of docs/protocol.md §6, as sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedHeaders<'a> {
    pub(crate) timestamp: &'a str,
    pub(crate) body_hash: &'a str,
    pub(crate) signature: &'a str,
}

/// The one value of header `name`, if present.
///
/// # Errors
/// [`Rejection::InvalidRequest`] when it is given more than once or is not
/// visible ASCII.
pub(crate) fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::InvalidRequest(format!(
            "the {name} header is given more than once"
        )));
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| Rejection::InvalidRequest(format!("the {name} header is not visible ASCII")))
}

/// The token of `Authorization: Bearer <token>`, if an `Authorization`
/// header is present.
///
/// # Errors
/// [`Rejection::InvalidToken`] for another scheme, an empty token or a
/// header that is not ASCII; [`Rejection::InvalidRequest`] when it is given
/// twice.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Rejection> {
    let name = header::AUTHORIZATION.as_str();
    if headers.get_all(name).iter().count() > 1 {
        return Err(Rejection::InvalidRequest(
            "the authorization header is given more than once".into(),
        ));
    }
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        Rejection::InvalidToken("the Authorization header is not visible ASCII".into())
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(Rejection::InvalidToken(
            "the Authorization header must be \"Bearer <token>\"".into(),
        )),
    }
}

/// Whether any signed-request header is present.
pub(crate) fn has_signed_headers(headers: &HeaderMap) -> bool {
    [TIMESTAMP_HEADER, BODY_HASH_HEADER, SIGNATURE_HEADER]
        .iter()
        .any(|name| headers.contains_key(*name))
}

/// The signed-request headers: `None` when none is present, all three when
/// all are.
///
/// # Errors
/// [`Rejection::InvalidRequest`] naming the missing header when only some
/// are present, or a header that [`single`] refuses.
pub(crate) fn signed_headers(headers: &HeaderMap) -> Result<Option<SignedHeaders<'_>>, Rejection> {
    let timestamp = single(headers, TIMESTAMP_HEADER)?;
    let body_hash = single(headers, BODY_HASH_HEADER)?;
    let signature = single(headers, SIGNATURE_HEADER)?;
    match (timestamp, body_hash, signature) {
        (None, None, None) => Ok(None),
        (Some(timestamp), Some(body_hash), Some(signature)) => Ok(Some(SignedHeaders {
            timestamp,
            body_hash,
            signature,
        })),
        (t, b, _) => {
            let missing = if t.is_none() {
                "X-Timestamp"
            } else if b.is_none() {
                "X-Body-Hash"
            } else {
                "X-Signature"
            };
            Err(Rejection::InvalidRequest(format!(
                "signed request: the {missing} header is missing (X-Timestamp, X-Body-Hash and X-Signature go together)"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn bearer_forms() {
        assert_eq!(bearer(&headers(&[])).unwrap(), None);
        assert_eq!(
            bearer(&headers(&[("authorization", b"Bearer abc")])).unwrap(),
            Some("abc")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", b"bearer  abc ")])).unwrap(),
            Some("abc")
        );
        for bad in [
            &b"Basic abc"[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer \xff",
            b"abc",
        ] {
            let err = bearer(&headers(&[("authorization", bad)])).unwrap_err();
            assert!(
                matches!(err, Rejection::InvalidToken(_)),
                "{bad:?}: {err:?}"
            );
        }
        let twice = headers(&[
            ("authorization", b"Bearer a"),
            ("authorization", b"Bearer b"),
        ]);
        assert!(matches!(bearer(&twice), Err(Rejection::InvalidRequest(_))));
    }

    #[test]
    fn signed_headers_go_together() {
        assert!(signed_headers(&headers(&[])).unwrap().is_none());
        let all = headers(&[
            ("x-timestamp", b"1"),
            ("x-body-hash", b"h"),
            ("x-signature", b"s"),
        ]);
        let got = signed_headers(&all).unwrap().unwrap();
        assert_eq!(
            (got.timestamp, got.body_hash, got.signature),
            ("1", "h", "s")
        );
        let err =
            signed_headers(&headers(&[("x-signature", b"s"), ("x-timestamp", b"1")])).unwrap_err();
        assert!(matches!(err, Rejection::InvalidRequest(ref m) if m.contains("X-Body-Hash")));
        let err = signed_headers(&headers(&[("x-body-hash", b"h")])).unwrap_err();
        assert!(matches!(err, Rejection::InvalidRequest(ref m) if m.contains("X-Timestamp")));
        let twice = headers(&[
            ("x-timestamp", b"1"),
            ("x-timestamp", b"2"),
            ("x-body-hash", b"h"),
            ("x-signature", b"s"),
        ]);
        assert!(matches!(
            signed_headers(&twice),
            Err(Rejection::InvalidRequest(ref m)) if m.contains("more than once")
        ));
    }
}
