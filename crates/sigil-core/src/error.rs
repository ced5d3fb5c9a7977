//! The one error type of sigil-core.

use crate::address::AddressKind;
use crate::keys::Network;

/// How a caller should treat an [`Error`]: it maps onto docs/protocol.md §8 and
/// onto the CLI's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The input could not be decoded or is not of the expected form
    /// (HTTP 400 `invalid_request`, exit code 2).
    Malformed,
    /// The input is well-formed but the signature does not prove what it
    /// claims (HTTP 401 `invalid_signature`, exit code 1).
    Verification,
    /// The signed timestamp is outside the accepted window
    /// (HTTP 401 `timestamp_expired`, exit code 1).
    Timestamp,
    /// An access token is malformed, expired, for another audience or
    /// issuer, or its signature does not verify
    /// (HTTP 401 `invalid_token`, exit code 1).
    Token,
    /// The input is well-formed and its signature verifies, but a configured
    /// policy refuses it: a signed payload's `requestedBy` is not among the
    /// allowed hosts (HTTP 403 `access_denied`, exit code 1).
    Policy,
}

/// Everything that can go wrong in sigil-core.
///
/// Messages are lower case, name the field or item that was wrong, and never
/// contain secret material. Verification failures contain
/// `signature verification failed` and window failures `timestamp too old` or
/// `timestamp in the future`: clients written for the reference systems match
/// on those phrases (docs/protocol.md §8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A WIF private key could not be decoded.
    #[error("wif: {0}")]
    Wif(String),
    /// A private key is 0 or not below the curve order n.
    #[error("private key: out of range [1, n-1]")]
    PrivateKeyRange,
    /// A public key is not a valid SEC1 point.
    #[error("public key: {0}")]
    PublicKey(String),
    /// An address could not be decoded, or is of a kind sigil cannot use.
    #[error("address: {0}")]
    Address(String),
    /// A signature could not be decoded: bad text encoding, wrong length,
    /// unknown BSM header or BRC-77 version.
    #[error("signature: {0}")]
    SignatureEncoding(String),
    /// A decodable signature does not verify for the claimed key or address.
    #[error("signature verification failed: {0}")]
    SignatureInvalid(String),
    /// The BRC-77 envelope was made by another key than the one claimed.
    #[error(
        "signature verification failed: the BRC-77 envelope was signed by {sender}, not by the claimed key {claimed}"
    )]
    SignerMismatch {
        /// The sender public key written in the envelope (hex).
        sender: String,
        /// The public key the request claims (hex).
        claimed: String,
    },
    /// The BRC-77 envelope is addressed to a specific recipient.
    #[error(
        "signature verification failed: envelope addressed to a specific recipient ({recipient}); only envelopes for \"anyone\" are accepted"
    )]
    RecipientEnvelope {
        /// The recipient public key written in the envelope (hex).
        recipient: String,
    },
    /// The address is of another network than the verifier expects.
    #[error(
        "signature verification failed: network mismatch: the address is a {found} address, {expected} was expected"
    )]
    NetworkMismatch {
        /// The network the verifier is configured for.
        expected: Network,
        /// The network of the address.
        found: Network,
    },
    /// The signature's header denotes another kind of address than the one given.
    #[error(
        "signature verification failed: address kind mismatch: the signature header denotes a {signature} address but the address is {address}"
    )]
    KindMismatch {
        /// The kind the signature header (BIP-137) denotes.
        signature: AddressKind,
        /// The kind of the claimed address.
        address: AddressKind,
    },
    /// A timestamp could not be parsed: the text, and the form expected.
    #[error("timestamp: {}", .form.describe(.text))]
    TimestampFormat {
        /// The text as received (cut to 64 characters when rendered).
        text: String,
        /// What was wrong with it, and so which form was expected.
        form: TimestampForm,
    },
    /// The signed timestamp is older than the window allows.
    #[error("timestamp too old: {}", too_old(*.timestamp_ms, *.now_ms, *.max_age_ms))]
    TimestampTooOld {
        /// The signed timestamp, milliseconds since the Unix epoch.
        timestamp_ms: u64,
        /// The verifier's clock, milliseconds since the Unix epoch.
        now_ms: u64,
        /// The oldest age accepted, milliseconds.
        max_age_ms: u64,
    },
    /// The signed timestamp is further in the future than the window allows.
    #[error(
        "timestamp in the future: {} s ahead of the server clock, at most {} s are accepted",
        .timestamp_ms.saturating_sub(*.now_ms) / 1000,
        .max_future_ms / 1000
    )]
    TimestampInFuture {
        /// The signed timestamp, milliseconds since the Unix epoch.
        timestamp_ms: u64,
        /// The verifier's clock, milliseconds since the Unix epoch.
        now_ms: u64,
        /// The furthest distance into the future accepted, milliseconds.
        max_future_ms: u64,
    },
    /// An `X-Auth-Token` header value is not of the bitcoin-auth form;
    /// [`AuthTokenFault`] says which field, as data.
    #[error("x-auth-token: {0}")]
    AuthToken(AuthTokenFault),
    /// A signed statement does not match the request it came with
    /// (path, body hash, message fields).
    #[error("signature verification failed: {0}")]
    StatementMismatch(String),
    /// A token-request `message` is neither the compat nor the bound form;
    /// [`MessageFault`] says how, as data.
    #[error("message: {0}")]
    Message(MessageFault),
    /// A token-request `endpoint` is not an acceptable absolute URL.
    #[error("endpoint: {0}")]
    Endpoint(String),
    /// An access token was refused; [`TokenRefusal`] says why, as data
    /// (malformed, wrong `alg`/`typ`/`iss`/`aud`, `crit` present, expired,
    /// not yet valid, an unknown `kid`, a signature that does not verify).
    #[error(transparent)]
    Token(TokenRefusal),
    /// A JWKS document or one of its keys was refused (security catalogue
    /// T12); the caller keeps its previous key set.
    #[error("jwks: {0}")]
    Jwks(String),
    /// A signing key could not be parsed or made, or signing failed.
    #[error("signing key: {0}")]
    SigningKey(String),
    /// A signed payload (docs/protocol.md §11) is not a JSON object of exactly
    /// `signedBy`, `requestedBy`, `data` and `timestamp` with the right
    /// types, or a JSON text could not be parsed as `JSON.parse` would.
    #[error("payload: {0}")]
    Payload(PayloadFault),
    /// A verified statement that a configured policy refuses, e.g. a payload
    /// whose `requestedBy` is not an allowed host (docs/protocol.md §8
    /// `access_denied`; the message contains `not allowed`).
    #[error("not allowed: {0}")]
    NotAllowed(String),
}

impl Error {
    /// The class of this error: malformed input, failed verification, a
    /// timestamp outside the window, a refused access token, or a policy
    /// refusal.
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::SignatureInvalid(_)
            | Self::SignerMismatch { .. }
            | Self::RecipientEnvelope { .. }
            | Self::NetworkMismatch { .. }
            | Self::KindMismatch { .. }
            | Self::StatementMismatch(_) => ErrorClass::Verification,
            Self::TimestampTooOld { .. } | Self::TimestampInFuture { .. } => ErrorClass::Timestamp,
            Self::Token(_) => ErrorClass::Token,
            Self::NotAllowed(_) => ErrorClass::Policy,
            Self::Wif(_)
            | Self::PrivateKeyRange
            | Self::PublicKey(_)
            | Self::Address(_)
            | Self::SignatureEncoding(_)
            | Self::TimestampFormat { .. }
            | Self::AuthToken(_)
            | Self::Message(_)
            | Self::Endpoint(_)
            | Self::Jwks(_)
            | Self::SigningKey(_)
            | Self::Payload(_) => ErrorClass::Malformed,
        }
    }

    /// One example of every variant (tests enumerate the edges' mapping
    /// through it; [`Error::index`] checks it is complete).
    #[must_use]
    pub fn examples() -> Vec<Self> {
        vec![
            Self::Wif("checksum".into()),
            Self::PrivateKeyRange,
            Self::PublicKey("not a point".into()),
            Self::Address("checksum".into()),
            Self::SignatureEncoding("not base64".into()),
            Self::SignatureInvalid("other key".into()),
            Self::SignerMismatch {
                sender: "02aa".into(),
                claimed: "02bb".into(),
            },
            Self::RecipientEnvelope {
                recipient: "02cc".into(),
            },
            Self::NetworkMismatch {
                expected: Network::Mainnet,
                found: Network::Testnet,
            },
            Self::KindMismatch {
                signature: AddressKind::P2sh,
                address: AddressKind::P2pkh,
            },
            Self::TimestampFormat {
                text: "12a".into(),
                form: TimestampForm::Digits,
            },
            Self::TimestampTooOld {
                timestamp_ms: 1_700_000_000_000,
                now_ms: 1_700_000_400_000,
                max_age_ms: 300_000,
            },
            Self::TimestampInFuture {
                timestamp_ms: 1_700_000_090_000,
                now_ms: 1_700_000_000_000,
                max_future_ms: 60_000,
            },
            Self::AuthToken(AuthTokenFault::Fields { count: 4 }),
            Self::StatementMismatch("path mismatch".into()),
            Self::Message(MessageFault::NeitherForm),
            Self::Endpoint("not absolute".into()),
            Self::Token(TokenRefusal::Expired {
                exp: 1,
                now: 10,
                leeway: 5,
            }),
            Self::Jwks("no keys".into()),
            Self::SigningKey("bad pkcs8".into()),
            Self::Payload(PayloadFault::MissingKey { key: "data" }),
            Self::NotAllowed("requestedBy".into()),
        ]
    }

    /// The number of variants: [`Error::index`] is below it.
    pub const VARIANTS: usize = 22;

    /// This error's variant as a number in `0..VARIANTS` (an exhaustive
    /// match: a new variant does not compile until it has one).
    #[must_use]
    pub fn index(&self) -> usize {
        match self {
            Self::Wif(_) => 0,
            Self::PrivateKeyRange => 1,
            Self::PublicKey(_) => 2,
            Self::Address(_) => 3,
            Self::SignatureEncoding(_) => 4,
            Self::SignatureInvalid(_) => 5,
            Self::SignerMismatch { .. } => 6,
            Self::RecipientEnvelope { .. } => 7,
            Self::NetworkMismatch { .. } => 8,
            Self::KindMismatch { .. } => 9,
            Self::TimestampFormat { .. } => 10,
            Self::TimestampTooOld { .. } => 11,
            Self::TimestampInFuture { .. } => 12,
            Self::AuthToken(_) => 13,
            Self::StatementMismatch(_) => 14,
            Self::Message(_) => 15,
            Self::Endpoint(_) => 16,
            Self::Token(_) => 17,
            Self::Jwks(_) => 18,
            Self::SigningKey(_) => 19,
            Self::Payload(_) => 20,
            Self::NotAllowed(_) => 21,
        }
    }

    pub(crate) fn address(reason: impl Into<String>) -> Self {
        Self::Address(reason.into())
    }

    pub(crate) fn encoding(reason: impl Into<String>) -> Self {
        Self::SignatureEncoding(reason.into())
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::SignatureInvalid(reason.into())
    }
}

/// What is wrong with a token request's `message` (docs/protocol.md §3),
/// as data. `Display` renders the description after `message: `.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageFault {
    /// Neither `endpoint + ":" + timestamp` nor the bound form for this
    /// issuer, endpoint and timestamp.
    NeitherForm,
    /// The bound form names another issuer.
    OtherIssuer {
        /// The issuer the message names (cut to 64 characters when rendered).
        got: String,
        /// This server's issuer.
        expected: String,
    },
    /// A line of the bound form is absent or not where it belongs.
    BoundLine {
        /// `issuer:`, `endpoint:` or `timestamp:`.
        name: &'static str,
    },
    /// The bound form has lines after `timestamp:`.
    BoundExtraLines,
    /// The bound form's issuer is not an `http(s)` URL.
    BoundIssuer,
    /// The compat form has no `:` between endpoint and timestamp.
    CompatSeparator,
}

impl std::fmt::Display for MessageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NeitherForm => f.write_str(
                "message must equal endpoint + \":\" + timestamp exactly, or the bound form sigil-token-request:v1 with this issuer, endpoint and timestamp",
            ),
            Self::OtherIssuer { got, expected } => write!(
                f,
                "message is bound to another issuer ({}); this issuer is {expected}",
                crate::json::quoted(got)
            ),
            Self::BoundLine { name } => {
                write!(f, "bound form line {name:?} missing or out of order")
            }
            Self::BoundExtraLines => f.write_str("bound form has more than four lines"),
            Self::BoundIssuer => f.write_str("bound form issuer is not an http(s) URL"),
            Self::CompatSeparator => f.write_str("compat form needs endpoint:timestamp"),
        }
    }
}

impl From<MessageFault> for Error {
    fn from(fault: MessageFault) -> Self {
        Self::Message(fault)
    }
}

/// What is wrong with an `X-Auth-Token` (docs/protocol.md §7), as data:
/// which field, what was seen, what is expected. `Display` renders the
/// description after `x-auth-token: `.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthTokenFault {
    /// Not five `|`-separated fields.
    Fields {
        /// How many there were.
        count: usize,
    },
    /// The scheme field is neither `bsm` nor `brc77`.
    UnknownScheme {
        /// The field as sent (cut to 64 characters when rendered).
        scheme: String,
    },
    /// The scheme field and the signature bytes disagree.
    SchemeMismatch {
        /// What the scheme field says.
        field: crate::Scheme,
        /// What the signature is.
        signature: crate::Scheme,
    },
    /// `requestPath` is neither a path starting with `/` nor an absolute
    /// `http(s)` URL with a path; the reason.
    RequestPath {
        /// Why, e.g. `user information is not allowed`.
        reason: &'static str,
    },
    /// A `requestPath` to sign contains `|`.
    PipeInPath,
    /// A body encoding other than `utf8`, `hex` or `base64`.
    UnknownBodyEncoding {
        /// The name given (cut to 64 characters when rendered).
        name: String,
    },
    /// The body is not valid in the encoding the token says it has.
    BodyNotInEncoding {
        /// `hex` or `standard base64`.
        encoding: &'static str,
    },
    /// A URL that should name an origin is not an absolute `http(s)` URL,
    /// or its authority is malformed (`reason`).
    Url {
        /// The URL as given (cut to 64 characters when rendered).
        url: String,
        /// What is wrong with its authority; `None`: not absolute.
        reason: Option<&'static str>,
    },
}

impl std::fmt::Display for AuthTokenFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::json::quoted;
        match self {
            Self::Fields { count } => write!(
                f,
                "malformed token: {count} '|'-separated fields, expected 5 (pubkey|scheme|timestamp|requestPath|signature; a '|' in the path is not allowed)"
            ),
            Self::UnknownScheme { scheme } => write!(
                f,
                "malformed token: unknown scheme {} (bsm or brc77)",
                quoted(scheme)
            ),
            Self::SchemeMismatch { field, signature } => write!(
                f,
                "malformed token: scheme field says {field} but the signature is {signature}"
            ),
            Self::RequestPath { reason } => write!(f, "malformed token: {reason}"),
            Self::PipeInPath => f.write_str("requestPath must contain no '|'"),
            Self::UnknownBodyEncoding { name } => write!(
                f,
                "unknown body encoding {} (utf8, hex or base64)",
                quoted(name)
            ),
            Self::BodyNotInEncoding { encoding } => {
                write!(f, "body is not {encoding}, as its body encoding says")
            }
            Self::Url { url, reason: None } => {
                write!(f, "{} is not an absolute http or https URL", quoted(url))
            }
            Self::Url {
                url,
                reason: Some(reason),
            } => write!(f, "{}: {reason}", quoted(url)),
        }
    }
}

impl From<AuthTokenFault> for Error {
    fn from(fault: AuthTokenFault) -> Self {
        Self::AuthToken(fault)
    }
}

/// What is wrong with a signed payload's text (docs/protocol.md §11), as
/// data: which key, which type was found where which was expected.
/// `Display` renders the description after `payload: `.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadFault {
    /// Not JSON as `JSON.parse` reads it (or a key repeated where that is
    /// refused); the parser's reason, with its byte offset.
    NotJson {
        /// The parser's reason.
        reason: String,
    },
    /// The payload is not a JSON object.
    NotObject {
        /// The JSON type found (`an array`, `a string`, …).
        found: &'static str,
    },
    /// A key besides `signedBy`, `requestedBy`, `data` and `timestamp`.
    UnexpectedKey {
        /// The key (cut to 64 characters when rendered).
        key: String,
    },
    /// One of the four keys is absent.
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// `signedBy` or `requestedBy` is not a string.
    NotAString {
        /// The key.
        key: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A string holds a lone surrogate (`\ud800`–`\udfff`), which has no
    /// UTF-8 form.
    LoneSurrogate {
        /// The key whose value it is; `None` for the payload text itself.
        key: Option<&'static str>,
    },
    /// `timestamp` is not a number.
    TimestampNotANumber {
        /// The JSON type found.
        found: &'static str,
    },
    /// `timestamp` is a number but not written as decimal digits only.
    TimestampNotAnInteger {
        /// The number as written.
        raw: String,
    },
    /// The request's `payload` member is neither the signed text (a
    /// string) nor the payload object.
    NeitherTextNorObject {
        /// The JSON type found.
        found: &'static str,
    },
}

impl std::fmt::Display for PayloadFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::json::quoted;
        match self {
            Self::NotJson { reason } => write!(f, "not valid JSON: {reason}"),
            Self::NotObject { found } => write!(f, "must be a JSON object, not {found}"),
            Self::UnexpectedKey { key } => write!(
                f,
                "unexpected key {}: a payload has exactly the keys signedBy, requestedBy, data and timestamp",
                quoted(key)
            ),
            Self::MissingKey { key } => write!(f, "missing key \"{key}\""),
            Self::NotAString { key, found } => {
                write!(f, "\"{key}\" must be a string, not {found}")
            }
            Self::LoneSurrogate { key: Some(key) } => {
                write!(f, "\"{key}\" contains a lone surrogate (\\ud800-\\udfff)")
            }
            Self::LoneSurrogate { key: None } => {
                f.write_str("the payload text contains a lone surrogate")
            }
            Self::TimestampNotANumber { found } => write!(
                f,
                "\"timestamp\" must be a number of milliseconds since the Unix epoch, not {found}"
            ),
            Self::TimestampNotAnInteger { raw } => write!(
                f,
                "\"timestamp\" must be an integer of milliseconds since the Unix epoch (decimal digits only), got {}",
                quoted(raw)
            ),
            Self::NeitherTextNorObject { found } => write!(
                f,
                "must be the signed text (a string) or the payload object, not {found}"
            ),
        }
    }
}

impl From<PayloadFault> for Error {
    fn from(fault: PayloadFault) -> Self {
        Self::Payload(fault)
    }
}

/// Which timestamp form a text failed to be, as data: the description of
/// [`Error::TimestampFormat`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampForm {
    /// Not decimal digits only (milliseconds since the Unix epoch).
    Digits,
    /// Digits with a leading zero: another text for the same number.
    LeadingZero,
    /// More than fits in 64 bits.
    TooLarge,
    /// Not `YYYY-MM-DDTHH:MM:SS.mmmZ`, or an impossible date.
    Iso,
}

impl TimestampForm {
    fn describe(self, text: &str) -> String {
        let text = crate::json::quoted(text);
        match self {
            Self::Digits => {
                format!("{text} is not milliseconds since the Unix epoch (decimal digits only)")
            }
            Self::LeadingZero => format!("{text} has a leading zero"),
            Self::TooLarge => format!("{text} is too large for milliseconds since the Unix epoch"),
            Self::Iso => format!("unparseable timestamp {text}: expected YYYY-MM-DDTHH:MM:SS.mmmZ"),
        }
    }
}

/// `timestamp too old: …`'s text: how old, the bound, and "milliseconds are
/// expected" when the value looks like seconds.
fn too_old(timestamp_ms: u64, now_ms: u64, max_age_ms: u64) -> String {
    // Seconds since the epoch stay below 10^11 until the year 5138;
    // milliseconds passed it in 1973.
    if timestamp_ms < 100_000_000_000 {
        return format!(
            "{timestamp_ms} looks like seconds since the Unix epoch; milliseconds are expected"
        );
    }
    format!(
        "signed {} s ago, at most {} s are accepted",
        now_ms.saturating_sub(timestamp_ms) / 1000,
        max_age_ms / 1000
    )
}

/// Why an access token was refused (docs/protocol.md §8 `invalid_token`),
/// as data: which claim or header member, which bound, what was expected.
/// `Display` renders the description: `token expired: …` for
/// [`TokenRefusal::Expired`], `invalid token: …` for everything else, each
/// saying what was expected beside what was seen. Values from the token
/// are quoted and cut to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRefusal {
    /// The compact JWS is longer than the limit.
    TooLong {
        /// Its length, bytes.
        len: usize,
        /// The limit, bytes.
        max: usize,
    },
    /// Not three dot-separated segments.
    Segments {
        /// How many there were.
        got: usize,
    },
    /// A segment is not unpadded base64url.
    Segment {
        /// `header`, `payload` or `signature`.
        segment: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The header or the claims are not one JSON object without duplicate
    /// members.
    Json {
        /// `header` or `claims`.
        part: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// The header's `alg` is not `ES256`.
    Alg,
    /// The header has `crit`.
    Crit,
    /// The header's `typ` is not the expected one.
    Typ {
        /// The expected `typ`.
        expected: &'static str,
    },
    /// A required header member or claim is absent.
    Missing {
        /// Its name.
        name: &'static str,
    },
    /// A header member or claim that must be a string is not.
    NotAString {
        /// Its name.
        name: &'static str,
    },
    /// A time claim is not an integer in [0, 2⁵³ − 1].
    BadTime {
        /// `iat`, `nbf` or `exp`.
        name: &'static str,
    },
    /// `sub` is not 66 lower-case hex characters of a compressed key.
    BadSubject,
    /// `aud` is not a string or a non-empty array of strings.
    BadAudience,
    /// The `kid` names no key of the key set searched: refresh it once,
    /// then refuse.
    UnknownKid {
        /// The token's `kid`.
        kid: String,
        /// The issuer whose key set was searched, when the caller knows it.
        issuer: Option<String>,
    },
    /// The ES256 signature is not 64 bytes.
    SignatureLength {
        /// Its length.
        len: usize,
    },
    /// r or s is 0 or not below the group order.
    SignatureRange,
    /// The signature does not verify with the `kid`'s key.
    Signature,
    /// `iss` is not the configured issuer.
    WrongIssuer {
        /// The token's `iss`.
        got: String,
        /// The configured issuer.
        expected: String,
    },
    /// No `aud` value is accepted.
    WrongAudience {
        /// The token's `aud` values.
        got: Vec<String>,
        /// The accepted audiences, described.
        accepted: String,
    },
    /// `exp` is not after `iat`.
    ExpNotAfterIat {
        /// `exp`.
        exp: u64,
        /// `iat`.
        iat: u64,
    },
    /// `exp - iat` is over the longest accepted lifetime.
    LifetimeTooLong {
        /// `exp - iat`, seconds.
        lifetime_s: u64,
        /// The maximum, seconds.
        max_s: u64,
    },
    /// `now ≥ exp + leeway`.
    Expired {
        /// `exp`.
        exp: u64,
        /// The clock, Unix seconds.
        now: u64,
        /// The leeway, seconds.
        leeway: u64,
    },
    /// `nbf > now + leeway`.
    NotYetValid {
        /// `nbf`.
        nbf: u64,
        /// The clock, Unix seconds.
        now: u64,
        /// The leeway, seconds.
        leeway: u64,
    },
    /// `iat > now + leeway`.
    IssuedInFuture {
        /// `iat`.
        iat: u64,
        /// The clock, Unix seconds.
        now: u64,
        /// The leeway, seconds.
        leeway: u64,
    },
}

impl std::fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::json::quoted;
        if let Self::Expired { exp, now, leeway } = self {
            return write!(
                f,
                "token expired: exp {exp} is {} s before now {now} (leeway {leeway} s)",
                now.saturating_sub(*exp)
            );
        }
        f.write_str("invalid token: ")?;
        match self {
            Self::TooLong { len, max } => write!(f, "token too long ({len} bytes, at most {max})"),
            Self::Segments { got } => write!(
                f,
                "token must have 3 segments (header.payload.signature), got {got}"
            ),
            Self::Segment { segment, reason } => write!(f, "{segment} segment: {reason}"),
            Self::Json { part, reason } => write!(f, "{part}: {reason}"),
            Self::Alg => f.write_str("alg must be ES256"),
            Self::Crit => f.write_str("crit header not supported"),
            Self::Typ { expected } => write!(f, "typ must be {expected}"),
            Self::Missing { name } => write!(f, "{name} missing"),
            Self::NotAString { name } => write!(f, "{name} must be a string"),
            Self::BadTime { name } => write!(
                f,
                "{name} must be an integer number of seconds in [0, 2^53 - 1]"
            ),
            Self::BadSubject => {
                f.write_str("sub must be a compressed public key (66 lower-case hex characters)")
            }
            Self::BadAudience => {
                f.write_str("aud must be a string or a non-empty array of strings")
            }
            Self::UnknownKid { kid, issuer } => {
                write!(f, "unknown kid {}", quoted(kid))?;
                match issuer {
                    Some(issuer) => write!(f, " (not in the key set of {})", quoted(issuer)),
                    None => f.write_str(" (not in the key set)"),
                }
            }
            Self::SignatureLength { len } => {
                write!(f, "signature must be 64 bytes (r ‖ s), got {len}")
            }
            Self::SignatureRange => f.write_str("signature r and s must be in [1, n-1]"),
            Self::Signature => f.write_str("signature verification failed"),
            Self::WrongIssuer { got, expected } => write!(
                f,
                "wrong issuer: the token's iss is {}, {} was expected",
                quoted(got),
                quoted(expected)
            ),
            Self::WrongAudience { got, accepted } => write!(
                f,
                "wrong audience: {} is not accepted here; accepted: {accepted}",
                quoted(&got.join(" "))
            ),
            Self::ExpNotAfterIat { exp, iat } => write!(f, "exp {exp} is not after iat {iat}"),
            Self::LifetimeTooLong { lifetime_s, max_s } => write!(
                f,
                "token lifetime exp - iat = {lifetime_s} s exceeds the maximum {max_s} s"
            ),
            Self::NotYetValid { nbf, now, leeway } => write!(
                f,
                "token not yet valid: nbf {nbf} is {} s after now {now} (leeway {leeway} s)",
                nbf.saturating_sub(*now)
            ),
            Self::IssuedInFuture { iat, now, leeway } => write!(
                f,
                "iat {iat} is in the future: {} s after now {now} (leeway {leeway} s)",
                iat.saturating_sub(*now)
            ),
            Self::Expired { .. } => Ok(()),
        }
    }
}

impl std::error::Error for TokenRefusal {}

impl From<TokenRefusal> for Error {
    fn from(refusal: TokenRefusal) -> Self {
        Self::Token(refusal)
    }
}

/// `Result` with sigil-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_cover_every_variant_once() {
        let mut seen = [0_usize; Error::VARIANTS];
        for error in Error::examples() {
            seen[error.index()] += 1;
        }
        assert_eq!(seen, [1; Error::VARIANTS], "one example of each variant");
    }
}
