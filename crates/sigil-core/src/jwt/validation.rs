//! Checking an access token: the JWS layer ([`crate::jws`]) with
//! `typ: "at+jwt"`, then every claim (security catalogue T6–T9, T15).

use serde_json::{Map, Value};

use crate::error::{Error, Result, TokenRefusal};
use crate::json::{parse_object, quoted};
use crate::jwks::JwkSet;
use crate::jws::verify_typed;
use crate::keys::PublicKey;

use super::{ACCESS_TOKEN_TYP, DEFAULT_LIFETIME_S};

/// The largest clock leeway allowed (security catalogue T7).
pub const MAX_LEEWAY_S: u64 = 30;

/// The default clock leeway for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY_S: u64 = 5;

/// The default longest accepted `exp - iat`: the issuer's default lifetime.
pub const DEFAULT_MAX_LIFETIME_S: u64 = DEFAULT_LIFETIME_S;

/// The largest accepted time claim: 2⁵³ − 1, the largest integer every JSON
/// parser (JavaScript's included) reads exactly.
pub const MAX_TIME: u64 = (1 << 53) - 1;

/// Which `aud` values a validator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Exactly this string.
    Exact(String),
    /// Exactly one of these strings (the userinfo route accepts the issuer,
    /// `<issuer>/userinfo` and `<issuer>/api/auth/oauth2/userinfo`, docs/protocol.md
    /// §5).
    AnyOf(Vec<String>),
    /// This string or a continuation of it at a path boundary (docs/protocol.md
    /// §15); see [`matches_at_path_boundary`].
    PathPrefix(String),
}

impl Audience {
    /// Whether one `aud` value is accepted.
    #[must_use]
    pub fn matches(&self, aud: &str) -> bool {
        match self {
            Self::Exact(want) => aud == want,
            Self::AnyOf(wanted) => wanted.iter().any(|want| aud == want),
            Self::PathPrefix(prefix) => matches_at_path_boundary(prefix, aud),
        }
    }
}

impl std::fmt::Display for Audience {
    /// The accepted audiences, for a refusal's description.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(want) => write!(f, "exactly {}", quoted(want)),
            Self::AnyOf(wanted) => {
                let list: Vec<String> = wanted.iter().map(|w| quoted(w)).collect();
                write!(f, "one of {}", list.join(", "))
            }
            Self::PathPrefix(prefix) => write!(f, "{} or a path under it", quoted(prefix)),
        }
    }
}

/// docs/protocol.md §15: `aud` equals `configured`, or continues it at a path
/// boundary: `configured/…` or `configured?…` (or anything after a
/// `configured` that itself ends in `/`). `https://api.example` therefore
/// accepts `https://api.example/v1/x` but not `https://api.example.evil.com`
/// or `https://api.example@evil.com`.
#[must_use]
pub fn matches_at_path_boundary(configured: &str, aud: &str) -> bool {
    match aud.strip_prefix(configured) {
        None => false,
        Some("") => true,
        Some(rest) => configured.ends_with('/') || rest.starts_with(['/', '?']),
    }
}

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRules {
    issuer: String,
    audience: Audience,
    leeway_s: u64,
    max_lifetime_s: u64,
}

impl ValidationRules {
    /// Rules for tokens of `issuer` (compared exactly) meant for
    /// `audience`, with [`DEFAULT_LEEWAY_S`] and [`DEFAULT_MAX_LIFETIME_S`].
    #[must_use]
    pub fn new(issuer: impl Into<String>, audience: Audience) -> Self {
        Self {
            issuer: issuer.into(),
            audience,
            leeway_s: DEFAULT_LEEWAY_S,
            max_lifetime_s: DEFAULT_MAX_LIFETIME_S,
        }
    }

    /// Sets the clock leeway applied to `exp`, `nbf` and `iat`; values above
    /// [`MAX_LEEWAY_S`] are clamped to it.
    #[must_use]
    pub fn with_leeway_s(mut self, leeway_s: u64) -> Self {
        self.leeway_s = leeway_s.min(MAX_LEEWAY_S);
        self
    }

    /// Sets the longest accepted `exp - iat` (raise it when the issuer
    /// issues longer-lived tokens than the default 1800 s).
    #[must_use]
    pub fn with_max_lifetime_s(mut self, max_lifetime_s: u64) -> Self {
        self.max_lifetime_s = max_lifetime_s;
        self
    }

    /// The expected `iss`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The accepted audiences.
    #[must_use]
    pub fn audience(&self) -> &Audience {
        &self.audience
    }

    /// The clock leeway in seconds (at most [`MAX_LEEWAY_S`]).
    #[must_use]
    pub fn leeway_s(&self) -> u64 {
        self.leeway_s
    }

    /// The longest accepted `exp - iat` in seconds.
    #[must_use]
    pub fn max_lifetime_s(&self) -> u64 {
        self.max_lifetime_s
    }
}

/// The claims of a token that passed [`validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    /// The `kid` of the key that verified the signature.
    pub kid: String,
    /// `iss`: equal to the configured issuer.
    pub iss: String,
    /// `sub`: the subject's compressed public key.
    pub sub: PublicKey,
    /// `aud`, as one or more strings (at least one matched).
    pub aud: Vec<String>,
    /// `client_id`.
    pub client_id: String,
    /// `iat`, Unix seconds.
    pub iat: u64,
    /// `nbf`, Unix seconds.
    pub nbf: u64,
    /// `exp`, Unix seconds.
    pub exp: u64,
    /// `jti`.
    pub jti: String,
    /// `address`, when present.
    pub address: Option<String>,
    /// `bap_id`, when present.
    pub bap_id: Option<String>,
    /// `name`, when present.
    pub name: Option<String>,
}

/// Checks an access token at time `now` (Unix seconds) against `keys` and
/// `rules`.
///
/// On top of [`crate::jws::verify`] (length, segments, base64url, header
/// JSON, `alg`, `crit`, `kid`, signature): `typ` exactly `at+jwt`; claims
/// valid UTF-8 JSON without duplicate members; `iss`, `sub`, `aud`,
/// `client_id`, `iat`, `nbf`, `exp`, `jti` present; times non-negative
/// integers ≤ [`MAX_TIME`]; `sub` 66 lower-case hex of a compressed key;
/// `iss` equal to the rules' issuer; `aud` a string or non-empty array of
/// strings with one accepted value; `exp > iat` and `exp - iat ≤` the
/// maximum lifetime; then, with `leeway = rules.leeway_s()`:
///
/// - expired when `now ≥ exp + leeway` (at `now == exp` with no leeway the
///   token is expired, RFC 7519 section 4.1.4);
/// - not yet valid when `nbf > now + leeway`;
/// - refused when `iat > now + leeway`.
///
/// # Errors
/// [`Error::Token`] with [`TokenRefusal::UnknownKid`] when the `kid` is not
/// in `keys` (refresh the set once and retry; it names the issuer whose set
/// was searched), [`TokenRefusal::Expired`] (`token expired: …`) past
/// `exp`, and the other [`TokenRefusal`]s naming the reason for everything else
/// (`alg must be ES256`, `typ must be at+jwt`, `crit header not supported`,
/// `wrong issuer`, `wrong audience`, `signature verification failed`, …).
pub fn validate(
    token: &str,
    keys: &JwkSet,
    rules: &ValidationRules,
    now: u64,
) -> Result<VerifiedClaims> {
    let jws = verify_typed(token, keys, Some(ACCESS_TOKEN_TYP)).map_err(|e| match e {
        // Which issuer's key set was searched.
        Error::Token(TokenRefusal::UnknownKid { kid, issuer: None }) => {
            Error::Token(TokenRefusal::UnknownKid {
                kid,
                issuer: Some(rules.issuer.clone()),
            })
        }
        other => other,
    })?;
    let claims = parse_object(&jws.payload).map_err(|reason| {
        Error::from(TokenRefusal::Json {
            part: "claims",
            reason,
        })
    })?;
    let verified = VerifiedClaims {
        kid: jws.kid,
        iss: string_claim(&claims, "iss")?,
        sub: subject(&claims)?,
        aud: audience(&claims)?,
        client_id: string_claim(&claims, "client_id")?,
        iat: time_claim(&claims, "iat")?,
        nbf: time_claim(&claims, "nbf")?,
        exp: time_claim(&claims, "exp")?,
        jti: string_claim(&claims, "jti")?,
        address: optional_string_claim(&claims, "address")?,
        bap_id: optional_string_claim(&claims, "bap_id")?,
        name: optional_string_claim(&claims, "name")?,
    };
    check(&verified, rules, now)?;
    Ok(verified)
}

/// The rules that compare claims with the configuration and the clock.
fn check(claims: &VerifiedClaims, rules: &ValidationRules, now: u64) -> Result<()> {
    if claims.iss != rules.issuer {
        return Err(TokenRefusal::WrongIssuer {
            got: claims.iss.clone(),
            expected: rules.issuer.clone(),
        }
        .into());
    }
    if !claims.aud.iter().any(|aud| rules.audience.matches(aud)) {
        return Err(TokenRefusal::WrongAudience {
            got: claims.aud.clone(),
            accepted: rules.audience.to_string(),
        }
        .into());
    }
    let (iat, nbf, exp, leeway) = (claims.iat, claims.nbf, claims.exp, rules.leeway_s);
    if exp <= iat {
        return Err(TokenRefusal::ExpNotAfterIat { exp, iat }.into());
    }
    if exp - iat > rules.max_lifetime_s {
        return Err(TokenRefusal::LifetimeTooLong {
            lifetime_s: exp - iat,
            max_s: rules.max_lifetime_s,
        }
        .into());
    }
    if now >= exp + leeway {
        return Err(TokenRefusal::Expired { exp, now, leeway }.into());
    }
    if nbf > now.saturating_add(leeway) {
        return Err(TokenRefusal::NotYetValid { nbf, now, leeway }.into());
    }
    if iat > now.saturating_add(leeway) {
        return Err(TokenRefusal::IssuedInFuture { iat, now, leeway }.into());
    }
    Ok(())
}

fn string_claim(claims: &Map<String, Value>, name: &'static str) -> Result<String> {
    optional_string_claim(claims, name)?.ok_or_else(|| TokenRefusal::Missing { name }.into())
}

fn optional_string_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(TokenRefusal::NotAString { name }.into()),
    }
}

/// `exp`, `nbf`, `iat`: a JSON integer in [0, 2⁵³ − 1]; strings, floats
/// (even `1.0`), negatives and larger values are refused.
fn time_claim(claims: &Map<String, Value>, name: &'static str) -> Result<u64> {
    let value = claims.get(name).ok_or(TokenRefusal::Missing { name })?;
    value
        .as_u64()
        .filter(|&t| t <= MAX_TIME)
        .ok_or_else(|| TokenRefusal::BadTime { name }.into())
}

/// `sub`: 66 lower-case hex characters of a compressed secp256k1 key.
fn subject(claims: &Map<String, Value>) -> Result<PublicKey> {
    let sub = string_claim(claims, "sub")?;
    let well_formed = sub.len() == 66
        && (sub.starts_with("02") || sub.starts_with("03"))
        && sub.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !well_formed {
        return Err(TokenRefusal::BadSubject.into());
    }
    PublicKey::from_hex(&sub).map_err(|_| TokenRefusal::BadSubject.into())
}

/// `aud`: a string, or a non-empty array of strings.
fn audience(claims: &Map<String, Value>) -> Result<Vec<String>> {
    let refused = || Error::from(TokenRefusal::BadAudience);
    match claims.get("aud") {
        None => Err(TokenRefusal::Missing { name: "aud" }.into()),
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(refused))
            .collect(),
        Some(_) => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_boundary_audiences() {
        let a = "https://api.example.com";
        for (aud, want) in [
            ("https://api.example.com", true),
            ("https://api.example.com/", true),
            ("https://api.example.com/v1/items?id=1", true),
            ("https://api.example.com?x=1", true),
            ("https://api.example.com.evil.com", false),
            ("https://api.example.com@evil.com", false),
            ("https://api.example.co", false),
            ("https://api.example.comx", false),
            ("http://api.example.com", false),
            ("", false),
        ] {
            assert_eq!(matches_at_path_boundary(a, aud), want, "{aud}");
        }
        assert!(matches_at_path_boundary(
            "https://x/api/",
            "https://x/api/v1"
        ));
        assert!(!matches_at_path_boundary("https://x/api/", "https://x/api"));
    }

    #[test]
    fn audience_kinds() {
        assert!(Audience::Exact("a".into()).matches("a"));
        assert!(!Audience::Exact("a".into()).matches("a/b"));
        let any = Audience::AnyOf(vec!["i".into(), "i/userinfo".into()]);
        assert!(any.matches("i/userinfo") && !any.matches("i/other"));
        assert!(Audience::PathPrefix("a".into()).matches("a/b"));
    }

    /// Refusals are typed, and their descriptions say what was expected
    /// beside what was seen.
    #[test]
    fn refusals_name_what_was_expected() {
        let g = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
        let claims = VerifiedClaims {
            kid: "k".into(),
            iss: "https://evil.example".into(),
            sub: PublicKey::from_hex(g).unwrap(),
            aud: vec!["https://other.example".into()],
            client_id: g.into(),
            iat: 1000,
            nbf: 1000,
            exp: 2800,
            jti: "j".into(),
            address: None,
            bap_id: None,
            name: None,
        };
        let rules = ValidationRules::new(
            "http://localhost:1911",
            Audience::PathPrefix("https://api.example".into()),
        );
        let err = check(&claims, &rules, 1500).unwrap_err();
        assert_eq!(
            err,
            Error::Token(TokenRefusal::WrongIssuer {
                got: "https://evil.example".into(),
                expected: "http://localhost:1911".into(),
            })
        );
        assert_eq!(
            err.to_string(),
            "invalid token: wrong issuer: the token's iss is \"https://evil.example\", \"http://localhost:1911\" was expected"
        );
        let claims = VerifiedClaims {
            iss: "http://localhost:1911".into(),
            ..claims
        };
        let err = check(&claims, &rules, 1500).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid token: wrong audience: \"https://other.example\" is not accepted here; accepted: \"https://api.example\" or a path under it"
        );
        let claims = VerifiedClaims {
            aud: vec!["https://api.example/v1".into()],
            ..claims
        };
        let err = check(&claims, &rules.clone().with_leeway_s(0), 2801).unwrap_err();
        assert_eq!(
            err,
            Error::Token(TokenRefusal::Expired {
                exp: 2800,
                now: 2801,
                leeway: 0
            })
        );
        assert!(
            err.to_string()
                .starts_with("token expired: exp 2800 is 1 s before now 2801")
        );
        let unknown = TokenRefusal::UnknownKid {
            kid: "k2".into(),
            issuer: Some("http://localhost:1911".into()),
        };
        assert_eq!(
            unknown.to_string(),
            "invalid token: unknown kid \"k2\" (not in the key set of \"http://localhost:1911\")"
        );
        let any = Audience::AnyOf(vec!["i".into(), "i/userinfo".into()]);
        assert_eq!(any.to_string(), "one of \"i\", \"i/userinfo\"");
    }

    #[test]
    fn leeway_is_clamped() {
        let rules = ValidationRules::new("i", Audience::Exact("a".into()));
        assert_eq!(rules.leeway_s(), DEFAULT_LEEWAY_S);
        assert_eq!(rules.clone().with_leeway_s(600).leeway_s(), MAX_LEEWAY_S);
        assert_eq!(rules.with_leeway_s(0).leeway_s(), 0);
    }

    #[test]
    fn time_claims_are_strict_integers() {
        let claims = parse_object(
            br#"{"a":1700000000,"b":"1700000000","c":1700000000.0,"d":-1,"e":9007199254740992,"f":9007199254740991,"g":1e9,"h":null}"#,
        )
        .unwrap();
        assert_eq!(time_claim(&claims, "a").unwrap(), 1_700_000_000);
        assert_eq!(time_claim(&claims, "f").unwrap(), MAX_TIME);
        for name in ["b", "c", "d", "e", "g", "h"] {
            assert!(time_claim(&claims, name).is_err(), "{name}");
        }
        assert_eq!(
            time_claim(&claims, "z").unwrap_err(),
            Error::Token(TokenRefusal::Missing { name: "z" })
        );
    }

    #[test]
    fn subject_and_audience_shapes() {
        let g = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
        let sub =
            |s: &str| subject(&parse_object(format!(r#"{{"sub":"{s}"}}"#).as_bytes()).unwrap());
        assert!(sub(g).is_ok());
        assert!(sub(&g.to_uppercase()).is_err());
        assert!(sub(&format!("04{}", &g[2..])).is_err());
        assert!(sub(&g[..64]).is_err());
        let aud = |json: &str| audience(&parse_object(json.as_bytes()).unwrap());
        assert_eq!(aud(r#"{"aud":"a"}"#).unwrap(), vec!["a"]);
        assert_eq!(aud(r#"{"aud":["a","b"]}"#).unwrap(), vec!["a", "b"]);
        assert!(aud(r#"{"aud":[]}"#).is_err());
        assert!(aud(r#"{"aud":["a",1]}"#).is_err());
        assert!(aud(r#"{"aud":5}"#).is_err());
        assert!(aud("{}").is_err());
    }
}
