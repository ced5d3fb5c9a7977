#![allow(unreachable_pub, dead_code)] // test helpers shared by the modules of one binary

//! A tiny issuer (discovery + JWKS with controllable contents and fetch
//! counters), resource servers protected by the validator (through the
//! layer or through the `AuthenticatedRequest` extractor), a manual clock,
//! token forging, and answer checks.

pub mod issuer;
pub mod pipeline;
pub mod resource;
pub mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

pub use issuer::Issuer;
pub use resource::{Answer, Mode, Resource};

/// The issuer and audience the es256_jwt.json tokens were made for.
pub const ISSUER: &str = "http://localhost:1911";
pub const AUDIENCE: &str = "https://api.yourservice.com";
/// The tokens' subject: the public key of [`SIGNER_WIF`].
pub const SUB: &str = "0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
/// The signer of signed_requests.json.
pub const SIGNER_WIF: &str = "L5oLkpV3aqBjhki6LmvChTCV6odsp4SXM6FfU2Gppt5kFLaHLuZ9";
/// es256_jwt.json's `validate_at`, in ms.
pub const VECTOR_NOW_MS: u64 = 1_700_000_100_000;
/// The `iat` of tokens made by [`tokens::claims`].
pub const IAT: u64 = 1_700_000_000;

/// Parses one vector file of the repository's `tests/vectors/`.
pub fn load(file: &str) -> Value {
    sigil_testkit::vector_file(file)
}

/// The cases of a vector file, by name.
pub fn cases(file: &str) -> Vec<(String, Value)> {
    load(file)["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| (c["name"].as_str().expect("name").to_owned(), c.clone()))
        .collect()
}

/// A manual clock in ms, shared with the validators it is given to.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    pub fn at(ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(ms)))
    }

    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }

    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// The closure a `ValidatorBuilder::clock` takes.
    pub fn source(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let shared = Arc::clone(&self.0);
        move || shared.load(Ordering::SeqCst)
    }
}

/// Collects failures of a table of cases and fails once with all of them.
#[derive(Debug, Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn check(&mut self, name: &str, result: Result<(), String>) {
        if let Err(why) = result {
            self.0.push(format!("  {name}: {why}"));
        }
    }

    pub fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{what}: {} failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// The usual validator for the es256_jwt.json tokens: issuer [`ISSUER`]
/// (what the tokens' `iss` says), audience [`AUDIENCE`], keys fetched
/// straight from `issuer`'s `/jwks.json`, the given clock.
pub fn builder(issuer: &Issuer, clock: &TestClock) -> sigil_validator::ValidatorBuilder {
    sigil_validator::Validator::builder(ISSUER, AUDIENCE)
        .jwks_uri(issuer.jwks_url())
        .clock(clock.source())
}

/// An issuer serving the fixed key, a clock at [`VECTOR_NOW_MS`], and a
/// resource server in `mode` whose validator is [`builder`] changed by
/// `configure`.
pub struct Setup {
    pub issuer: Issuer,
    pub clock: TestClock,
    pub resource: Resource,
}

pub async fn setup(
    mode: Mode,
    configure: impl FnOnce(sigil_validator::ValidatorBuilder) -> sigil_validator::ValidatorBuilder,
) -> Setup {
    let issuer = Issuer::start(&[&tokens::fixed_key()]).await;
    let clock = TestClock::at(VECTOR_NOW_MS);
    let validator = configure(builder(&issuer, &clock)).build().unwrap();
    let resource = Resource::start(validator, mode).await;
    Setup {
        issuer,
        clock,
        resource,
    }
}

/// What a bearer request must get.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// 200 for [`SUB`] by `bearer`.
    Ok,
    /// 401 `invalid_token` whose description contains the phrase.
    Refused(&'static str),
}

/// Sends each token as `Authorization: Bearer` at [`VECTOR_NOW_MS`] to a
/// fresh [`setup`] in both modes and checks each answer; fails once with
/// every failing case.
pub async fn bearer_table(what: &str, cases: &[(&str, String, Expect)]) {
    assert!(!cases.is_empty());
    let mut failures = Failures::default();
    for mode in Mode::ALL {
        let s = setup(mode, |b| b).await;
        for (name, token, expect) in cases {
            let answer = s.resource.bearer(token).await;
            let result = match expect {
                Expect::Ok => answer.check_ok(SUB, "bearer"),
                Expect::Refused(phrase) => answer.check_refused(401, "invalid_token", phrase),
            };
            failures.check(&format!("{mode:?} {name}"), result);
        }
    }
    failures.assert_none(what);
}
