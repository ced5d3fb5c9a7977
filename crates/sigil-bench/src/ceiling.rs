//! The per-core ceiling: the CPU cost of exactly what the server computes
//! for one token request, without HTTP and without the store.
//!
//! [`ServerWork`] repeats the steps of
//! `sigil-server/src/handlers/token.rs` with the handler's own body parse
//! (`sigil_core::token_request::ParsedTokenRequest`) and sigil-core's functions, so the
//! ceiling follows the code: parse the JSON body (each field read as raw
//! JSON, the public key parsed, the signature decoded),
//! validate the endpoint, compare the message, check the time window,
//! verify the signature (BSM: magic hash, recover, compare; BRC-77: child
//! key, verify), compute the replay key, draw the `jti`, build the claims,
//! issue the ES256 JWT with the key parsed once, and serialise the response.
//! What a request costs above this is HTTP, the store, logging and the
//! runtime.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::Serialize;
use sigil_core::api::TokenResponse;
use sigil_core::jwt::{self, AccessClaims, DEFAULT_LIFETIME_S};
use sigil_core::token_request::ParsedTokenRequest;
use sigil_core::{Es256SigningKey, ReplayKey, TokenMessage, Window, es256, validate_endpoint};

use crate::measure::{BatchPlan, Timing, measure};
use crate::requests::{self, FormArg, RequestSpec, SchemeArg};

/// Distinct requests the ceiling loop rotates through.
const INPUTS: usize = 64;

/// The issuer and endpoint shapes of the load runs, so messages have the
/// same length.
pub(crate) const ENDPOINT_HOST: &str = "https://bench.sigil.invalid";

/// What the server holds for the token route: its signing key (parsed
/// once), issuer, window and token lifetime.
pub(crate) struct ServerWork {
    key: Es256SigningKey,
    issuer: String,
    window: Window,
    lifetime_s: u64,
}

/// A request whose fields passed the checks before the signature: the
/// handler's own parse (`sigil_core::token_request::ParsedTokenRequest`).
pub(crate) type Parsed<'a> = ParsedTokenRequest<'a>;

/// What one request produced.
pub(crate) struct Handled {
    /// The response body.
    pub(crate) response: Vec<u8>,
    /// The replay key the server would store.
    pub(crate) replay_key: ReplayKey,
}

/// Milliseconds since the epoch, as the server's clock reads them.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A fresh P-256 signing key, parsed once, as the server holds its own.
///
/// # Errors
/// When the operating system gives no randomness.
pub(crate) fn fresh_signing_key() -> anyhow::Result<Es256SigningKey> {
    let pkcs8 = loop {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        if let Ok(document) = es256::generate_pkcs8(&random) {
            break document;
        }
    };
    Es256SigningKey::from_pkcs8(&pkcs8).context("parsing the P-256 key")
}

impl ServerWork {
    /// A server for `issuer` with a fresh P-256 key.
    ///
    /// # Errors
    /// When the operating system gives no randomness.
    pub(crate) fn new(issuer: &str) -> anyhow::Result<Self> {
        Ok(Self {
            key: fresh_signing_key()?,
            issuer: issuer.to_owned(),
            window: Window::TOKEN_REQUEST,
            lifetime_s: DEFAULT_LIFETIME_S,
        })
    }

    /// Steps 2-5 of the handler: parse, endpoint, message, window.
    ///
    /// # Errors
    /// The handler's refusal, as text.
    pub(crate) fn parse<'a>(&self, body: &'a [u8], now_ms: u64) -> Result<Parsed<'a>, String> {
        let request = ParsedTokenRequest::parse(body).map_err(|e| e.to_string())?;
        validate_endpoint(&request.endpoint).map_err(|e| e.to_string())?;
        TokenMessage::check(
            &request.message,
            &request.endpoint,
            &request.timestamp_text,
            &self.issuer,
        )
        .map_err(|e| e.to_string())?;
        self.window
            .check(request.timestamp_ms, now_ms)
            .map_err(|e| e.to_string())?;
        Ok(request)
    }

    /// Step 6: the signature.
    ///
    /// # Errors
    /// When it does not verify.
    pub(crate) fn verify(&self, request: &Parsed) -> Result<(), String> {
        request
            .signature
            .verify(request.message.as_bytes(), &request.pubkey)
            .map_err(|e| e.to_string())
    }

    /// Step 10: claims and the signed JWT.
    ///
    /// # Errors
    /// If AWS-LC fails to sign.
    pub(crate) fn token(
        &self,
        request: &Parsed,
        now_ms: u64,
        jti: [u8; 16],
    ) -> Result<String, String> {
        let claims = AccessClaims::new(
            &self.issuer,
            &request.pubkey,
            &request.endpoint,
            now_ms / 1000,
            self.lifetime_s,
            jti,
        );
        jwt::issue(&self.key, &claims).map_err(|e| e.to_string())
    }

    /// The response body.
    pub(crate) fn response(&self, access_token: String) -> Vec<u8> {
        let response = TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: self.lifetime_s,
        };
        serde_json::to_vec(&response).unwrap_or_default()
    }

    /// Everything the handler computes for one request, in its order.
    ///
    /// # Errors
    /// The handler's refusal, as text.
    pub(crate) fn handle(&self, body: &[u8]) -> Result<Handled, String> {
        let now = now_ms();
        let request = self.parse(body, now)?;
        self.verify(&request)?;
        let replay_key = ReplayKey::for_statement(&request.pubkey, request.message.as_bytes());
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).map_err(|_| "no randomness".to_owned())?;
        let token = self.token(&request, now, jti)?;
        Ok(Handled {
            response: self.response(token),
            replay_key,
        })
    }
}

/// One step of the request and what it costs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Component {
    /// What was measured.
    pub(crate) name: &'static str,
    /// Its cost.
    pub(crate) timing: Timing,
}

/// The ceiling of one scheme and message form.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ceiling {
    /// Signature scheme.
    pub(crate) scheme: SchemeArg,
    /// Message form.
    pub(crate) form: FormArg,
    /// One whole request ([`ServerWork::handle`]): the ceiling.
    pub(crate) request: Timing,
    /// The steps measured one by one (empty unless asked for).
    pub(crate) components: Vec<Component>,
}

impl Ceiling {
    /// Microseconds of CPU per request.
    pub(crate) fn us_per_request(&self) -> f64 {
        self.request.ns_per_op / 1000.0
    }

    /// Requests per second on one core.
    pub(crate) fn per_core(&self) -> f64 {
        self.request.per_second()
    }
}

/// Measures the ceiling of `scheme` and `form` for `issuer` (the bound form
/// names it), and with `components` each step on its own.
///
/// # Errors
/// When the inputs cannot be made or the server work refuses them (a bug).
pub(crate) fn measure_ceiling(
    scheme: SchemeArg,
    form: FormArg,
    issuer: &str,
    plan: BatchPlan,
    components: bool,
) -> anyhow::Result<Ceiling> {
    let work = ServerWork::new(issuer)?;
    let keys = requests::random_keys(INPUTS)?;
    let spec = RequestSpec {
        scheme,
        form,
        issuer: issuer.to_owned(),
        endpoint_prefix: format!("{ENDPOINT_HOST}/ceiling-00000000"),
        timestamp_ms: now_ms(),
        spacing_ns: 0,
    };
    let bodies: Vec<Vec<u8>> = (0..INPUTS)
        .map(|i| requests::body(&spec, &keys[i], i as u64))
        .collect::<anyhow::Result<_>>()?;
    let mut replay_keys = HashSet::new();
    for body in &bodies {
        let handled = work
            .handle(body)
            .map_err(|e| anyhow::anyhow!("the ceiling's own request was refused: {e}"))?;
        anyhow::ensure!(
            !handled.response.is_empty() && replay_keys.insert(handled.replay_key),
            "the ceiling's requests are not distinct statements"
        );
    }
    let pick = |i: u64| &bodies[(i % INPUTS as u64) as usize];
    let request = measure(plan, |i| {
        let _ = black_box(work.handle(black_box(pick(i))));
    });
    let components = if components {
        measure_components(&work, &bodies, plan)?
    } else {
        Vec::new()
    };
    Ok(Ceiling {
        scheme,
        form,
        request,
        components,
    })
}

fn measure_components(
    work: &ServerWork,
    bodies: &[Vec<u8>],
    plan: BatchPlan,
) -> anyhow::Result<Vec<Component>> {
    let now = now_ms();
    let parsed: Vec<Parsed> = bodies
        .iter()
        .map(|b| work.parse(b, now).map_err(|e| anyhow::anyhow!(e)))
        .collect::<anyhow::Result<_>>()?;
    let n = bodies.len() as u64;
    let at = |i: u64| (i % n) as usize;
    let token = work
        .token(&parsed[0], now, [7; 16])
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut out = Vec::new();
    let mut add = |name, timing| out.push(Component { name, timing });
    add(
        "parse JSON, fields, pubkey, signature decode; endpoint, message, window checks",
        measure(plan, |i| {
            let _ = black_box(work.parse(black_box(&bodies[at(i)]), now));
        }),
    );
    add(
        "signature verification",
        measure(plan, |i| {
            let _ = black_box(work.verify(black_box(&parsed[at(i)])));
        }),
    );
    add(
        "replay key (SHA-256 of key and message)",
        measure(plan, |i| {
            let p = &parsed[at(i)];
            black_box(ReplayKey::for_statement(&p.pubkey, p.message.as_bytes()));
        }),
    );
    add(
        "jti: 16 bytes from AWS-LC's generator",
        measure(plan, |_| {
            let mut jti = [0u8; 16];
            let _ = aws_lc_rs::rand::fill(&mut jti);
            black_box(jti);
        }),
    );
    add(
        "claims + ES256 JWT issue (key parsed once)",
        measure(plan, |i| {
            let _ = black_box(work.token(black_box(&parsed[at(i)]), now, [7; 16]));
        }),
    );
    add(
        "response JSON",
        measure(plan, |_| {
            black_box(work.response(black_box(token.clone())));
        }),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_work_refuses_what_the_server_refuses() {
        let issuer = "http://127.0.0.1:1911";
        let work = ServerWork::new(issuer).unwrap();
        let key = &requests::random_keys(1).unwrap()[0];
        for (scheme, form) in [
            (SchemeArg::Bsm, FormArg::Compat),
            (SchemeArg::Brc77, FormArg::Bound),
        ] {
            let spec = RequestSpec {
                scheme,
                form,
                issuer: issuer.into(),
                endpoint_prefix: format!("{ENDPOINT_HOST}/t"),
                timestamp_ms: now_ms(),
                spacing_ns: 0,
            };
            let body = requests::body(&spec, key, 1).unwrap();
            let handled = work.handle(&body).unwrap();
            let response: TokenResponse = serde_json::from_slice(&handled.response).unwrap();
            assert_eq!(response.access_token.split('.').count(), 3);

            // Another message under the same signature.
            let text = String::from_utf8(body.clone()).unwrap();
            let tampered = text.replace("/t/1", "/t/2");
            assert!(work.handle(tampered.as_bytes()).is_err(), "{scheme:?}");
            // A timestamp outside the window.
            let old = RequestSpec {
                timestamp_ms: spec.timestamp_ms - 400_000,
                ..spec.clone()
            };
            let stale = requests::body(&old, key, 1).unwrap();
            assert!(work.handle(&stale).is_err());
        }
        // A bound message for another issuer.
        let other = RequestSpec {
            scheme: SchemeArg::Bsm,
            form: FormArg::Bound,
            issuer: "http://elsewhere.example".into(),
            endpoint_prefix: format!("{ENDPOINT_HOST}/t"),
            timestamp_ms: now_ms(),
            spacing_ns: 0,
        };
        let body = requests::body(&other, key, 1).unwrap();
        assert!(work.handle(&body).is_err());
    }
}
