//! Token validation in process: the ceiling (one ES256 verify with the key
//! parsed once, over a real access token's signing input) and what
//! sigil-validator spends per token, over a set of distinct valid tokens.
//!
//! [`TokenSet`] issues the tokens with sigil-core's own
//! [`jwt::issue`], each for a distinct `sub` with a
//! distinct `jti`, as the token endpoint does. sigil-validator caches no
//! checked token, so every check below does the whole work; the set is
//! distinct anyway, so that a cache added later could not flatter the
//! figure.

use std::cell::Cell;
use std::hint::black_box;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sigil_core::jwt::{self, AccessClaims, Audience, DEFAULT_LIFETIME_S, ValidationRules};
use sigil_core::{Es256SigningKey, JwkSet, PublicKey, jws};
use sigil_validator::Validator;

use crate::ceiling::{Component, ENDPOINT_HOST, fresh_signing_key, now_ms};
use crate::measure::{BatchPlan, Timing, measure, measure_interleaved, round_ratio_range};
use crate::requests;

/// The audience of the validator (and of the resource server with
/// `--http`): every token is for `<AUDIENCE>/…`.
pub(crate) const AUDIENCE: &str = ENDPOINT_HOST;

/// How far into a token's life the fixed clock stands, in seconds.
const CLOCK_AFTER_IAT_S: u64 = 60;

/// Throughput ÷ (ceiling per core × cores); NaN when there is no ceiling.
pub(crate) fn ratio(per_second: f64, ceiling_per_core: f64, cores: usize) -> f64 {
    let capacity = ceiling_per_core * cores as f64;
    if capacity > 0.0 {
        per_second / capacity
    } else {
        f64::NAN
    }
}

/// Distinct valid access tokens of one issuer key, and the fixed key set
/// and clock that accept them.
pub(crate) struct TokenSet {
    key: Es256SigningKey,
    issuer: String,
    tokens: Vec<String>,
    now_ms: u64,
}

/// A token's signing input and decoded signature: what the ceiling verifies.
struct Signed {
    input: String,
    signature: Vec<u8>,
}

impl TokenSet {
    /// `count` tokens of `issuer` signed by a fresh key: token `i` for the
    /// `i`-th of `count` random subjects, audience `<AUDIENCE>/<prefix>/<i>`,
    /// issued now with the default lifetime (1800 s).
    ///
    /// # Errors
    /// When the operating system gives no randomness, or signing fails.
    pub(crate) fn new(issuer: &str, prefix: &str, count: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(count > 0, "at least one token is needed");
        let key = fresh_signing_key()?;
        let subjects = requests::random_keys(count)?;
        let iat = now_ms() / 1000;
        let tokens = subjects
            .iter()
            .enumerate()
            .map(|(i, subject)| {
                let mut jti = [0u8; 16];
                getrandom::fill(&mut jti).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
                let claims = AccessClaims::new(
                    issuer,
                    &subject.public_key(),
                    &format!("{AUDIENCE}/{prefix}/{i}"),
                    iat,
                    DEFAULT_LIFETIME_S,
                    jti,
                );
                jwt::issue(&key, &claims).context("issuing a token")
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            key,
            issuer: issuer.to_owned(),
            tokens,
            now_ms: (iat + CLOCK_AFTER_IAT_S) * 1000,
        })
    }

    /// The tokens.
    pub(crate) fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Mean token length in bytes.
    pub(crate) fn mean_len(&self) -> f64 {
        let total: usize = self.tokens.iter().map(String::len).sum();
        total as f64 / self.tokens.len().max(1) as f64
    }

    /// The issuer's key set: its one key.
    ///
    /// # Errors
    /// Never in practice (one key cannot repeat its `kid`).
    pub(crate) fn keys(&self) -> anyhow::Result<JwkSet> {
        JwkSet::from_keys([(self.key.kid().to_owned(), self.key.verifying_key().clone())])
            .context("the issuer's key set")
    }

    /// The rules of [`validator`](Self::validator): the issuer, the
    /// audience as a path prefix, default leeway and lifetime.
    pub(crate) fn rules(&self) -> ValidationRules {
        ValidationRules::new(&self.issuer, Audience::PathPrefix(AUDIENCE.to_owned()))
    }

    /// The fixed clock, ms since the epoch: a minute after the tokens' `iat`.
    pub(crate) fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// A validator as a resource server builds one, but with the key set
    /// fixed (nothing is fetched) and the clock fixed (the tokens stay
    /// valid however long the run).
    ///
    /// # Errors
    /// When the builder refuses the settings (a bug).
    pub(crate) fn validator(&self) -> anyhow::Result<Validator> {
        let now = self.now_ms;
        Validator::builder(self.issuer.as_str(), AUDIENCE)
            .keys(self.keys()?)
            .clock(move || now)
            .build()
            .context("building the validator")
    }

    /// Each token's signing input and signature bytes.
    fn signed(&self) -> anyhow::Result<Vec<Signed>> {
        self.tokens
            .iter()
            .map(|token| {
                let (input, signature) = token
                    .rsplit_once('.')
                    .context("a token without a signature segment")?;
                Ok(Signed {
                    input: input.to_owned(),
                    signature: URL_SAFE_NO_PAD
                        .decode(signature)
                        .context("a signature that is not base64url")?,
                })
            })
            .collect()
    }
}

/// What [`measure_validation`] found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ValidationFigures {
    /// Distinct tokens checked in turn.
    pub(crate) tokens: usize,
    /// Their mean length, bytes.
    pub(crate) mean_token_bytes: f64,
    /// One ES256 verify over a token's signing input: the ceiling.
    pub(crate) verify: Timing,
    /// One `Validator::validate_token`, driven by a tokio current-thread
    /// runtime's `block_on`.
    pub(crate) validator: Timing,
    /// Validations per second ÷ verifies per second (one core), from the
    /// medians.
    pub(crate) ratio: f64,
    /// The smallest and largest ratio of one round of batches (verify
    /// batch ÷ the validator batch right after it): the spread of the ratio.
    pub(crate) round_ratios: Option<(f64, f64)>,
    /// The steps measured one by one (empty unless asked for).
    pub(crate) components: Vec<Component>,
}

/// The ceiling alone: one ES256 verify, key parsed once, rotating through
/// the signing inputs of `set`.
///
/// # Errors
/// When a token does not verify (a bug).
pub(crate) fn measure_verify(set: &TokenSet, plan: BatchPlan) -> anyhow::Result<Timing> {
    let signed = set.signed()?;
    let key = set.key.verifying_key();
    let n = signed.len() as u64;
    let mut refused = 0u64;
    let timing = measure(plan, |i| {
        let s = &signed[(i % n) as usize];
        if black_box(key.verify(black_box(s.input.as_bytes()), black_box(&s.signature))).is_err() {
            refused += 1;
        }
    });
    anyhow::ensure!(refused == 0, "ES256 verify: {refused} signatures refused");
    Ok(timing)
}

/// The ceiling, the validator's figure, and with `components` the steps
/// between them, all with interleaved batches
/// ([`measure_interleaved`]), so that their ratios do not depend on when
/// each was measured.
///
/// # Errors
/// When the runtime cannot be built or a token is refused (a bug): every
/// check is counted, and a refused one fails the measurement instead of
/// flattering it.
pub(crate) fn measure_validation(
    set: &TokenSet,
    plan: BatchPlan,
    components: bool,
) -> anyhow::Result<ValidationFigures> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let validator = set.validator()?;
    let (keys, rules, now_s) = (set.keys()?, set.rules(), set.now_ms() / 1000);
    let tokens = set.tokens();
    let signed = set.signed()?;
    let subjects: Vec<String> = tokens
        .iter()
        .map(|token| {
            runtime
                .block_on(validator.validate_token(token))
                .map(|claims| claims.sub.to_hex())
                .context("a token of the set is refused")
        })
        .collect::<anyhow::Result<_>>()?;
    let key = set.key.verifying_key();
    let n = tokens.len() as u64;
    let at = |i: u64| (i % n) as usize;
    let refused = Cell::new(0u64);
    let count = |accepted: bool| {
        if !accepted {
            refused.set(refused.get() + 1);
        }
    };
    let mut verify = |i: u64| {
        let s = &signed[at(i)];
        count(black_box(key.verify(black_box(s.input.as_bytes()), &s.signature)).is_ok());
    };
    let mut through_validator = |i: u64| {
        let token = black_box(tokens[at(i)].as_str());
        count(black_box(runtime.block_on(validator.validate_token(token))).is_ok());
    };
    let mut jws_only = |i: u64| {
        count(black_box(jws::verify(black_box(&tokens[at(i)]), &keys)).is_ok());
    };
    let mut jwt_only = |i: u64| {
        let token = black_box(tokens[at(i)].as_str());
        count(black_box(jwt::validate(token, &keys, &rules, now_s)).is_ok());
    };
    let mut sub = |i: u64| {
        count(black_box(PublicKey::from_hex(black_box(&subjects[at(i)]))).is_ok());
    };
    let mut ready = |i: u64| {
        black_box(runtime.block_on(async { black_box(i) }));
    };
    let timings = if components {
        measure_interleaved(
            plan,
            &mut [
                &mut verify,
                &mut through_validator,
                &mut jws_only,
                &mut jwt_only,
                &mut sub,
                &mut ready,
            ],
        )
    } else {
        measure_interleaved(plan, &mut [&mut verify, &mut through_validator])
    };
    anyhow::ensure!(
        refused.get() == 0,
        "{} checks refused a valid token",
        refused.get()
    );
    let round_ratios = round_ratio_range(&timings[0], &timings[1]);
    let (verify, through_validator) = (timings[0].timing, timings[1].timing);
    let names = [
        "jws::verify: split, base64url, header JSON, alg/crit/kid, ES256 verify",
        "jwt::validate: jws::verify + typ, claims JSON, sub, iss/aud/time checks",
        "  of which sub: PublicKey::from_hex (secp256k1 point decompression)",
        "tokio current-thread block_on of a ready future",
    ];
    let components = names
        .into_iter()
        .zip(timings.into_iter().skip(2))
        .map(|(name, measured)| Component {
            name,
            timing: measured.timing,
        })
        .collect();
    Ok(ValidationFigures {
        tokens: tokens.len(),
        mean_token_bytes: set.mean_len(),
        ratio: ratio(through_validator.per_second(), verify.per_second(), 1),
        round_ratios,
        verify,
        validator: through_validator,
        components,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const ISSUER: &str = "http://127.0.0.1:1911";

    #[test]
    fn the_set_is_distinct_and_every_token_validates() {
        let set = TokenSet::new(ISSUER, "t", 20).unwrap();
        let keys = set.keys().unwrap();
        let now_s = set.now_ms() / 1000;
        let validator = set.validator().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (mut tokens, mut subs, mut jtis) = (HashSet::new(), HashSet::new(), HashSet::new());
        for (i, token) in set.tokens().iter().enumerate() {
            let claims = jwt::validate(token, &keys, &set.rules(), now_s).unwrap();
            assert_eq!(claims.aud, [format!("{AUDIENCE}/t/{i}")]);
            assert_eq!(claims.iss, ISSUER);
            let through = runtime.block_on(validator.validate_token(token)).unwrap();
            assert_eq!(through, claims);
            assert!(tokens.insert(token.clone()), "token {i} repeats");
            assert!(subs.insert(claims.sub), "sub of token {i} repeats");
            assert!(jtis.insert(claims.jti), "jti of token {i} repeats");
        }
        assert_eq!(tokens.len(), 20);
        assert!(set.mean_len() > 400.0, "{}", set.mean_len());
        // The ceiling's inputs are the tokens' own signing inputs.
        let signed = set.signed().unwrap();
        for (s, token) in signed.iter().zip(set.tokens()) {
            assert!(token.starts_with(&format!("{}.", s.input)));
            set.key
                .verifying_key()
                .verify(s.input.as_bytes(), &s.signature)
                .unwrap();
        }
    }

    #[test]
    fn the_checks_measured_do_refuse() {
        let set = TokenSet::new(ISSUER, "t", 1).unwrap();
        let validator = set.validator().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let token = &set.tokens()[0];
        // Another signature: the last character of the signature changed.
        let mut tampered = token.clone();
        let last = if tampered.ends_with('A') { "Q" } else { "A" };
        tampered.replace_range(tampered.len() - 1.., last);
        assert!(
            runtime
                .block_on(validator.validate_token(&tampered))
                .is_err()
        );
        // Another issuer's validator refuses it.
        let other = TokenSet::new("http://127.0.0.1:1912", "t", 1).unwrap();
        let other = other.validator().unwrap();
        assert!(runtime.block_on(other.validate_token(token)).is_err());
    }

    #[test]
    fn a_measurement_has_every_figure_and_refuses_a_bad_set() {
        let plan = BatchPlan {
            batch: std::time::Duration::from_millis(1),
            batches: 1,
        };
        let mut set = TokenSet::new(ISSUER, "t", 3).unwrap();
        let figures = measure_validation(&set, plan, true).unwrap();
        assert_eq!((figures.tokens, figures.components.len()), (3, 4));
        assert!(figures.ratio.is_finite() && figures.ratio > 0.0);
        assert!(
            measure_validation(&set, plan, false)
                .unwrap()
                .components
                .is_empty()
        );
        // A token the validator refuses fails the measurement.
        set.tokens[1].push('A');
        assert!(measure_validation(&set, plan, false).is_err());
    }

    #[test]
    fn ratios() {
        assert!((ratio(16_000.0, 20_000.0, 1) - 0.8).abs() < 1e-12);
        assert!((ratio(30_000.0, 20_000.0, 2) - 0.75).abs() < 1e-12);
        assert_eq!(ratio(0.0, 20_000.0, 1), 0.0);
        assert!(ratio(1.0, 0.0, 1).is_nan());
        assert!(ratio(1.0, 20_000.0, 0).is_nan());
    }
}
