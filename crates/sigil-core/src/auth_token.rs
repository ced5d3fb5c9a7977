//! bitcoin-auth `X-Auth-Token` (docs/protocol.md §7).
//!
//! Value: `pubkey|scheme|timestamp|requestPath|signature`; signed string:
//! `requestPath|timestamp|bodyHash`, where bodyHash is the lower-case hex
//! SHA-256 of the body bytes or empty when there is no body. Unlike the
//! reference verifier, [`verify`] binds a BRC-77 sender to `pubkey`, checks
//! a two-sided window, refuses unparseable timestamps, requires the path to
//! match and returns a [`ReplayKey`] for the caller's replay store.
//!
//! The signed string names a path but no host, so one token would be good
//! once at every server with that path. A server can therefore also take
//! (or, with [`PathBinding::Url`], require) `requestPath` as the absolute
//! URL of the request on its own [`Origin`]: [`verify_bound`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::brc77;
use crate::bsm;
use crate::error::{AuthTokenFault, Error, Result};
use crate::hash::{from_hex, sha256, to_hex};
use crate::keys::{PrivateKey, PublicKey};
use crate::replay::ReplayKey;
use crate::signature::{Scheme, Signature};
use crate::timestamp::{Window, format_iso_ms, parse_iso_ms};

/// How the client turned its body text into the bytes it hashed
/// (bitcoin-auth's `bodyEncoding` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyEncoding {
    /// The body text's UTF-8 bytes (the default).
    #[default]
    Utf8,
    /// The body text is hex; its decoded bytes are hashed.
    Hex,
    /// The body text is standard base64; its decoded bytes are hashed.
    Base64,
}

impl std::str::FromStr for BodyEncoding {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "utf8" | "utf-8" => Ok(Self::Utf8),
            "hex" => Ok(Self::Hex),
            "base64" => Ok(Self::Base64),
            other => Err(AuthTokenFault::UnknownBodyEncoding {
                name: other.to_owned(),
            }
            .into()),
        }
    }
}

impl BodyEncoding {
    /// The bytes hashed for `body` (the body exactly as sent).
    ///
    /// # Errors
    /// [`Error::AuthToken`] when the body is not valid in this encoding.
    pub fn decode(self, body: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Utf8 => Ok(body.to_vec()),
            Self::Hex => std::str::from_utf8(body)
                .ok()
                .and_then(from_hex)
                .ok_or_else(|| AuthTokenFault::BodyNotInEncoding { encoding: "hex" }.into()),
            Self::Base64 => STANDARD.decode(body).map_err(|_| {
                AuthTokenFault::BodyNotInEncoding {
                    encoding: "standard base64",
                }
                .into()
            }),
        }
    }
}

/// The body-hash field: lower-case hex SHA-256 of the body bytes, or empty
/// when there is no body or it is empty.
#[must_use]
pub fn body_hash(body: Option<&[u8]>) -> String {
    match body {
        Some(bytes) if !bytes.is_empty() => to_hex(&sha256(bytes)),
        _ => String::new(),
    }
}

/// The signed string `requestPath|timestamp|bodyHash`.
#[must_use]
pub fn signed_string(request_path: &str, timestamp_iso: &str, body_hash: &str) -> String {
    format!("{request_path}|{timestamp_iso}|{body_hash}")
}

/// A parsed `X-Auth-Token` (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthToken {
    /// The key the token claims.
    pub pubkey: PublicKey,
    /// The scheme field.
    pub scheme: Scheme,
    /// The timestamp text exactly as sent.
    pub timestamp: String,
    /// The timestamp in ms since the epoch.
    pub timestamp_ms: u64,
    /// The request path (and query) the client signed.
    pub request_path: String,
    /// The decoded signature.
    pub signature: Signature,
}

impl AuthToken {
    /// Parses a header value: exactly five `|`-separated fields, a valid
    /// compressed public key, scheme `bsm` or `brc77` matching the
    /// signature bytes, the 24-character ISO timestamp, base64 signature.
    ///
    /// # Errors
    /// [`Error::AuthToken`], [`Error::PublicKey`], [`Error::TimestampFormat`]
    /// or [`Error::SignatureEncoding`], naming what is wrong.
    pub fn parse(value: &str) -> Result<Self> {
        let fields: Vec<&str> = value.split('|').collect();
        let [pubkey, scheme, timestamp, request_path, signature] = fields[..] else {
            return Err(AuthTokenFault::Fields {
                count: fields.len(),
            }
            .into());
        };
        let scheme: Scheme = scheme.parse().map_err(|_| AuthTokenFault::UnknownScheme {
            scheme: scheme.to_owned(),
        })?;
        let pubkey = PublicKey::from_hex(pubkey)?;
        let timestamp_ms = parse_iso_ms(timestamp)?;
        check_request_path(request_path)
            .map_err(|reason| AuthTokenFault::RequestPath { reason })?;
        let bytes = STANDARD
            .decode(signature)
            .map_err(|_| Error::encoding("malformed signature: not standard base64"))?;
        let signature = Signature::from_bytes(&bytes)?;
        if signature.scheme() != scheme {
            return Err(AuthTokenFault::SchemeMismatch {
                field: scheme,
                signature: signature.scheme(),
            }
            .into());
        }
        Ok(Self {
            pubkey,
            scheme,
            timestamp: timestamp.into(),
            timestamp_ms,
            request_path: request_path.into(),
            signature,
        })
    }

    /// The signed string for the body bytes the server received.
    #[must_use]
    pub fn signed_string(&self, body: Option<&[u8]>) -> String {
        signed_string(&self.request_path, &self.timestamp, &body_hash(body))
    }

    /// The origin named by an absolute-URL `requestPath`, `None` for the
    /// path form.
    #[must_use]
    pub fn url_origin(&self) -> Option<Origin> {
        split_absolute(&self.request_path)
            .and_then(Result::ok)
            .map(|(origin, _)| origin)
    }
}

/// The origin of an absolute `http` or `https` URL (RFC 6454): scheme,
/// host and port. Scheme and host compare case-insensitively (they are kept
/// in lower case) and a default port equals no port, so
/// `HTTPS://API.example.com:443` and `https://api.example.com` are one
/// origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: &'static str,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of `url`, an absolute `http` or `https` URL (anything
    /// after the authority is ignored).
    ///
    /// # Errors
    /// [`Error::AuthToken`] when `url` is not an absolute `http(s)` URL with
    /// a host, or has user information or a malformed port.
    pub fn of_url(url: &str) -> Result<Self> {
        match split_absolute(url) {
            Some(Ok((origin, _))) => Ok(origin),
            Some(Err(reason)) => Err(AuthTokenFault::Url {
                url: url.to_owned(),
                reason: Some(reason),
            }
            .into()),
            None => Err(AuthTokenFault::Url {
                url: url.to_owned(),
                reason: None,
            }
            .into()),
        }
    }

    /// `http` or `https`.
    #[must_use]
    pub fn scheme(&self) -> &str {
        self.scheme
    }

    /// The host in lower case (an IPv6 address keeps its brackets).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    fn default_port(scheme: &str) -> u16 {
        if scheme == "https" { 443 } else { 80 }
    }
}

impl std::fmt::Display for Origin {
    /// `scheme://host`, and `:port` unless it is the scheme's default.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if self.port != Self::default_port(self.scheme) {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// `Some` when `text` starts with `http://` or `https://` (any case): the
/// origin and the rest (path and query), or why it is malformed.
fn split_absolute(text: &str) -> Option<std::result::Result<(Origin, &str), &'static str>> {
    let (scheme, after) = text.split_once("://")?;
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        "https"
    } else if scheme.eq_ignore_ascii_case("http") {
        "http"
    } else {
        return None;
    };
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(authority_end);
    Some(parse_authority(authority).map(|(host, port)| {
        let origin = Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or_else(|| Origin::default_port(scheme)),
        };
        (origin, rest)
    }))
}

/// `host[:port]` (`[v6]:port` for IPv6): the host and the explicit port.
fn parse_authority(authority: &str) -> std::result::Result<(&str, Option<u16>), &'static str> {
    if authority.contains('@') {
        return Err("user information is not allowed in the URL");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let close = v6.find(']').ok_or("unclosed '[' in the URL's host")?;
            let host = &authority[..close + 2];
            (host, &v6[close + 1..])
        }
        None => match authority.rfind(':') {
            Some(colon) => (&authority[..colon], &authority[colon..]),
            None => (authority, ""),
        },
    };
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~[]:%".contains(&b));
    if !valid_host {
        return Err("the URL has no valid host");
    }
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => Some(
            digits
                .parse::<u16>()
                .map_err(|_| "the URL's port is over 65535")?,
        ),
        _ => return Err("the URL's port is not decimal digits"),
    };
    Ok((host, port))
}

/// A `requestPath` is a path (and query) starting with `/`, or the
/// absolute `http(s)` URL of one.
fn check_request_path(request_path: &str) -> std::result::Result<(), &'static str> {
    if request_path.starts_with('/') {
        return Ok(());
    }
    match split_absolute(request_path) {
        Some(Ok((_, rest))) if rest.starts_with('/') => Ok(()),
        Some(Ok(_)) => {
            Err("an absolute-URL requestPath needs a path starting with '/' after the host")
        }
        Some(Err(why)) => Err(why),
        None => Err("requestPath must start with '/' or be an absolute http or https URL"),
    }
}

/// Which forms of `requestPath` a verifier accepts (docs/protocol.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathBinding<'a> {
    /// Only the path and query, as bitcoin-auth sends it: the token would
    /// be good at every server with that path.
    Path,
    /// The path and query, or the absolute URL of the request on one of
    /// these origins (`origin` + path and query).
    PathOrUrl(&'a [Origin]),
    /// Only the absolute URL of the request on one of these origins: a
    /// token names the one server it is good at.
    Url(&'a [Origin]),
}

impl PathBinding<'_> {
    /// Checks the token's `requestPath` (`signed`) against the received
    /// path and query.
    fn check(self, signed: &str, received: &str) -> Result<()> {
        let (origins, url_only) = match self {
            Self::Path => (&[][..], false),
            Self::PathOrUrl(origins) => (origins, false),
            Self::Url(origins) => (origins, true),
        };
        let Some(absolute) = split_absolute(signed) else {
            if url_only {
                return Err(Error::StatementMismatch(format!(
                    "path mismatch: this server takes only the absolute URL form of requestPath ({}{received}), the token was signed for the path {signed:?}",
                    origins.first().map(ToString::to_string).unwrap_or_default()
                )));
            }
            return same_path(signed, received);
        };
        let (origin, rest) = absolute.map_err(|reason| AuthTokenFault::RequestPath { reason })?;
        if origins.is_empty() {
            return Err(Error::StatementMismatch(format!(
                "path mismatch: the token was signed for the absolute URL {signed:?}, this server takes only the path form {received:?}"
            )));
        }
        if !origins.contains(&origin) {
            let expected = origins
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(Error::StatementMismatch(format!(
                "origin mismatch: the token was signed for {origin}, this server is {expected}"
            )));
        }
        same_path(rest, received)
    }
}

fn same_path(signed: &str, received: &str) -> Result<()> {
    if signed == received {
        Ok(())
    } else {
        Err(Error::StatementMismatch(format!(
            "path mismatch: the token was signed for {signed:?}, the request is for {received:?}"
        )))
    }
}

/// What a verifier knows about the request the token came with.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The path and query of the received request.
    pub request_path: &'a str,
    /// The received body bytes, `None` when there is none.
    pub body: Option<&'a [u8]>,
    /// How the client encoded its body text.
    pub body_encoding: BodyEncoding,
    /// The verifier's clock, ms since the epoch.
    pub now_ms: u64,
    /// The accepted window (docs/protocol.md §7: ±300 s).
    pub window: Window,
}

/// A verified token: who signed, and the replay key the caller must insert
/// into its store (and refuse the request if the key was already there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAuthToken {
    /// The signer, equal to the token's `pubkey` field.
    pub signer: PublicKey,
    /// SHA-256(signer ‖ signed string).
    pub replay_key: ReplayKey,
    /// When it was signed, ms since the epoch.
    pub timestamp_ms: u64,
}

/// Verifies an `X-Auth-Token` header value against the received request.
///
/// # Errors
/// Malformed tokens ([`crate::ErrorClass::Malformed`]); a path that differs
/// from the request's or a signature that does not verify
/// ([`crate::ErrorClass::Verification`]); a timestamp outside the window
/// ([`crate::ErrorClass::Timestamp`]).
pub fn verify(value: &str, facts: &RequestFacts<'_>) -> Result<VerifiedAuthToken> {
    verify_bound(value, facts, PathBinding::Path)
}

/// [`verify`] with the forms of `requestPath` that `binding` accepts: the
/// path and query, and/or the absolute URL of the request on the server's
/// own origin.
///
/// # Errors
/// As [`verify`]; an absolute URL on another origin is a verification
/// error (`origin mismatch`) naming the expected origin, a form the
/// binding does not take is a `path mismatch`.
pub fn verify_bound(
    value: &str,
    facts: &RequestFacts<'_>,
    binding: PathBinding<'_>,
) -> Result<VerifiedAuthToken> {
    let token = AuthToken::parse(value)?;
    binding.check(&token.request_path, facts.request_path)?;
    facts.window.check(token.timestamp_ms, facts.now_ms)?;
    let body = facts
        .body
        .map(|b| facts.body_encoding.decode(b))
        .transpose()?;
    let statement = token.signed_string(body.as_deref());
    token
        .signature
        .verify(statement.as_bytes(), &token.pubkey)?;
    Ok(VerifiedAuthToken {
        signer: token.pubkey,
        replay_key: ReplayKey::for_statement(&token.pubkey, statement.as_bytes()),
        timestamp_ms: token.timestamp_ms,
    })
}

/// What to sign into a new token.
#[derive(Debug, Clone, Copy)]
pub struct NewAuthToken<'a> {
    /// Path and query of the request, or its absolute URL (bound to the
    /// server's origin, docs/protocol.md §7).
    pub request_path: &'a str,
    /// The body bytes to hash (already decoded per the body encoding).
    pub body: Option<&'a [u8]>,
    /// Signing time, ms since the epoch.
    pub timestamp_ms: u64,
    /// Signature scheme.
    pub scheme: Scheme,
    /// keyID for BRC-77 (random in real use; ignored for BSM).
    pub key_id: [u8; 32],
}

/// Builds an `X-Auth-Token` header value as bitcoin-auth's `getAuthToken` does.
///
/// # Errors
/// [`Error::AuthToken`] for a path containing `|`, or neither starting with
/// `/` nor an absolute `http(s)` URL with a path.
pub fn build(key: &PrivateKey, new: &NewAuthToken<'_>) -> Result<String> {
    if new.request_path.contains('|') {
        return Err(AuthTokenFault::PipeInPath.into());
    }
    check_request_path(new.request_path)
        .map_err(|reason| AuthTokenFault::RequestPath { reason })?;
    let timestamp = format_iso_ms(new.timestamp_ms);
    let statement = signed_string(new.request_path, &timestamp, &body_hash(new.body));
    let signature = match new.scheme {
        Scheme::Bsm => bsm::sign(statement.as_bytes(), key).to_bytes().to_vec(),
        Scheme::Brc77 => brc77::sign(statement.as_bytes(), key, new.key_id)?,
    };
    Ok(format!(
        "{}|{}|{timestamp}|{}|{}",
        key.public_key().to_hex(),
        new.scheme,
        new.request_path,
        STANDARD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Network;

    const NOW_MS: u64 = 1_700_000_000_000;

    /// Refusals are data (which field, what was seen); the description
    /// renders from it with the phrases clients match on.
    #[test]
    fn refusals_say_which_field_as_data() {
        let key = PrivateKey::from_bytes([7; 32], Network::Mainnet, true).unwrap();
        let pubkey = key.public_key().to_hex();
        let err = AuthToken::parse("a|b").unwrap_err();
        assert_eq!(err, Error::AuthToken(AuthTokenFault::Fields { count: 2 }));
        assert!(
            err.to_string()
                .starts_with("x-auth-token: malformed token: 2 '|'-separated fields, expected 5")
        );
        let err = AuthToken::parse(&format!("{pubkey}|ecdsa|2023-10-27T11:00:00.000Z|/x|AAAA"))
            .unwrap_err();
        assert_eq!(
            err,
            Error::AuthToken(AuthTokenFault::UnknownScheme {
                scheme: "ecdsa".into()
            })
        );
        assert_eq!(
            err.to_string(),
            "x-auth-token: malformed token: unknown scheme \"ecdsa\" (bsm or brc77)"
        );
        assert_eq!(
            "utf16".parse::<BodyEncoding>(),
            Err(Error::AuthToken(AuthTokenFault::UnknownBodyEncoding {
                name: "utf16".into()
            }))
        );
        assert_eq!(
            BodyEncoding::Hex.decode(b"zz"),
            Err(Error::AuthToken(AuthTokenFault::BodyNotInEncoding {
                encoding: "hex"
            }))
        );
        assert_eq!(
            Origin::of_url("ftp://x").unwrap_err().to_string(),
            "x-auth-token: \"ftp://x\" is not an absolute http or https URL"
        );
    }

    fn origins(urls: &[&str]) -> Vec<Origin> {
        urls.iter().map(|u| Origin::of_url(u).unwrap()).collect()
    }

    fn token(request_path: &str) -> String {
        let key = PrivateKey::from_bytes([7; 32], Network::Mainnet, true).unwrap();
        build(
            &key,
            &NewAuthToken {
                request_path,
                body: None,
                timestamp_ms: NOW_MS,
                scheme: Scheme::Bsm,
                key_id: [0; 32],
            },
        )
        .unwrap()
    }

    fn check(request_path: &str, received: &str, binding: PathBinding<'_>) -> Result<()> {
        let facts = RequestFacts {
            request_path: received,
            body: None,
            body_encoding: BodyEncoding::Utf8,
            now_ms: NOW_MS,
            window: Window::SYMMETRIC_300S,
        };
        verify_bound(&token(request_path), &facts, binding).map(|_| ())
    }

    #[test]
    fn origins_normalise_case_and_default_ports() {
        let cases = [
            ("https://api.example.com", "https://api.example.com"),
            (
                "HTTPS://API.Example.com:443/v1?x=1",
                "https://api.example.com",
            ),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("http://localhost:80/", "http://localhost"),
            ("https://[::1]:8443/a", "https://[::1]:8443"),
            ("https://[::1]", "https://[::1]"),
        ];
        for (url, want) in cases {
            assert_eq!(Origin::of_url(url).unwrap().to_string(), want, "{url}");
        }
        assert_eq!(
            Origin::of_url("https://a.example").unwrap(),
            Origin::of_url("https://A.EXAMPLE:443").unwrap()
        );
        assert_ne!(
            Origin::of_url("https://a.example").unwrap(),
            Origin::of_url("http://a.example").unwrap()
        );
        for (bad, why) in [
            ("api.example.com", "not an absolute"),
            ("ftp://a.example", "not an absolute"),
            ("/api/x", "not an absolute"),
            ("https://", "no valid host"),
            ("https://user@a.example/", "user information"),
            ("https://a.example:/", "port is not decimal"),
            ("https://a.example:+80/", "port is not decimal"),
            ("https://a.example:70000/", "over 65535"),
            ("https://[::1/", "unclosed"),
            ("https://a b/", "no valid host"),
        ] {
            let err = Origin::of_url(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn bindings_accept_their_forms_only() {
        let ours = origins(&["http://127.0.0.1:3000"]);
        let path = "/api/protected?a=1";
        let url = "http://127.0.0.1:3000/api/protected?a=1";
        let ok: [(&str, PathBinding<'_>); 5] = [
            (path, PathBinding::Path),
            (path, PathBinding::PathOrUrl(&ours)),
            (url, PathBinding::PathOrUrl(&ours)),
            (url, PathBinding::Url(&ours)),
            (
                "HTTP://127.0.0.1:3000/api/protected?a=1",
                PathBinding::Url(&ours),
            ),
        ];
        for (signed, binding) in ok {
            check(signed, path, binding).unwrap_or_else(|e| panic!("{signed} {binding:?}: {e}"));
        }
        let refused: [(&str, &str, PathBinding<'_>, &str); 6] = [
            (
                path,
                path,
                PathBinding::Url(&ours),
                "only the absolute URL form",
            ),
            (url, path, PathBinding::Path, "only the path form"),
            (
                "http://127.0.0.2:3000/api/protected?a=1",
                path,
                PathBinding::PathOrUrl(&ours),
                "origin mismatch: the token was signed for http://127.0.0.2:3000, this server is http://127.0.0.1:3000",
            ),
            (
                "https://127.0.0.1:3000/api/protected?a=1",
                path,
                PathBinding::Url(&ours),
                "origin mismatch",
            ),
            (
                url,
                "/api/protected?a=2",
                PathBinding::Url(&ours),
                "path mismatch",
            ),
            (
                path,
                "/api/protected",
                PathBinding::PathOrUrl(&ours),
                "path mismatch",
            ),
        ];
        for (signed, received, binding, phrase) in refused {
            let err = check(signed, received, binding).unwrap_err();
            assert_eq!(err.class(), crate::ErrorClass::Verification, "{err}");
            let text = err.to_string();
            assert!(
                text.starts_with("signature verification failed: ") && text.contains(phrase),
                "{signed} {binding:?}: {text}"
            );
        }
    }

    #[test]
    fn request_path_forms_when_building_and_parsing() {
        let key = PrivateKey::from_bytes([7; 32], Network::Mainnet, true).unwrap();
        for bad in [
            "api/x",
            "https://a.example",
            "https://a.example?x=1",
            "ftp://a/x",
            "/a|b",
        ] {
            let new = NewAuthToken {
                request_path: bad,
                body: None,
                timestamp_ms: NOW_MS,
                scheme: Scheme::Bsm,
                key_id: [0; 32],
            };
            assert!(build(&key, &new).is_err(), "{bad}");
        }
        let parsed = AuthToken::parse(&token("https://A.example/x")).unwrap();
        assert_eq!(parsed.request_path, "https://A.example/x");
        assert_eq!(
            parsed.url_origin(),
            Some(Origin::of_url("https://a.example").unwrap())
        );
        assert_eq!(AuthToken::parse(&token("/x")).unwrap().url_origin(), None);
        // A token whose URL has no path is malformed (a request target always has one).
        let forged = token("/x").replacen("|/x|", "|https://a.example|", 1);
        let err = AuthToken::parse(&forged).unwrap_err().to_string();
        assert!(err.contains("malformed token"), "{err}");
    }
}
