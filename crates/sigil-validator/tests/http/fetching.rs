//! Fetching keys through HTTP: T13 (https, origin, issuer, redirects,
//! size, timeout, status), the cache TTL from `Cache-Control`, and
//! discovery end to end.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigil_validator::{Error, Validator};

use crate::support::tokens::{claims, fixed_key, fresh_token, good_token, token};
use crate::support::{AUDIENCE, IAT, ISSUER, Issuer, Mode, Resource, SUB, VECTOR_NOW_MS, setup};

/// T13: https only (http for loopback), same-origin `jwks_uri`, issuer
/// match, no redirects (not even through a caller's client that follows
/// them), a size limit, a timeout; every failure is a 503.
#[tokio::test]
async fn t13_fetch_rules() {
    // Configuration: refused before any network use.
    for (issuer, reason) in [
        ("http://auth.example.com", "must be https"),
        ("http://192.168.1.10:1911", "must be https"),
        ("https://user:pw@auth.example.com", "user info"),
        ("file:///etc/passwd", "no host"),
    ] {
        let err = Validator::discover(issuer, AUDIENCE).await.unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains(reason)),
            "{issuer}: {err}"
        );
    }
    let err = Validator::builder(ISSUER, AUDIENCE)
        .jwks_uri("http://keys.example.com/jwks.json")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("must be https"), "{err}");

    for mode in Mode::ALL {
        let key = fixed_key();
        // Discovery pointing at another origin (another port) is refused.
        let elsewhere = Issuer::start(&[&key]).await;
        let issuer = Issuer::start(&[&key]).await;
        issuer.set_discovery(json!({"issuer": issuer.base, "jwks_uri": elsewhere.jwks_url()}));
        let own = token(&claims_for(&issuer.base));
        let r = discovering(&issuer, mode, |b| b).await;
        r.bearer(&own)
            .await
            .assert_refused(503, "temporarily_unavailable", "retry later");
        assert_eq!(
            elsewhere.jwks_fetches(),
            0,
            "cross-origin jwks_uri never fetched"
        );
        // A discovery document naming another issuer is refused.
        issuer.set_discovery(
            json!({"issuer": "https://evil.example", "jwks_uri": issuer.jwks_url()}),
        );
        let r = discovering(&issuer, mode, |b| b).await;
        r.bearer(&own)
            .await
            .assert_refused(503, "temporarily_unavailable", "retry later");
        assert_eq!(issuer.jwks_fetches(), 0);
        // At start-up the refusal names both issuers: what the document
        // says beside what was configured.
        let err = Validator::builder(&issuer.base, AUDIENCE)
            .discover()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"https://evil.example\"") && err.contains(&format!("{:?}", issuer.base)),
            "{err}"
        );

        // A redirect is not followed: 503, the target never asked.
        let s = setup(mode, |b| b).await;
        s.issuer.set_redirect(Some(elsewhere.jwks_url()));
        s.resource
            .bearer(&good_token())
            .await
            .assert_refused(503, "temporarily_unavailable", "");
        assert_eq!((s.issuer.jwks_fetches(), elsewhere.jwks_fetches()), (1, 0));
        // Even with a caller's client that follows redirects, the answer of
        // another URL is refused.
        let following = reqwest::Client::builder().build().unwrap();
        let s = setup(mode, |b| b.http_client(following)).await;
        s.issuer
            .set_redirect(Some(format!("{}/moved", s.issuer.base)));
        s.resource
            .bearer(&good_token())
            .await
            .assert_refused(503, "temporarily_unavailable", "");
        assert_eq!(
            s.issuer.other_hits(),
            1,
            "the client followed, the validator refused"
        );

        // Size limit: a JWKS over the limit (here 1 KiB) is refused.
        let s = setup(mode, |b| b.max_jwks_bytes(1024)).await;
        let mut padded: Value =
            serde_json::from_str(&crate::support::issuer::jwks_of(&[&key])).unwrap();
        padded["pad"] = json!("x".repeat(2000));
        s.issuer.set_jwks(&padded.to_string());
        s.resource
            .bearer(&good_token())
            .await
            .assert_refused(503, "temporarily_unavailable", "");
        padded["pad"] = json!("x".repeat(100));
        s.issuer.set_jwks(&padded.to_string());
        s.clock.advance_ms(30_000);
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");

        // Timeout: an issuer that answers after 3 s, a 200 ms timeout.
        let s = setup(mode, |b| b.fetch_timeout(Duration::from_millis(200))).await;
        s.issuer.set_delay(Duration::from_secs(3));
        let started = Instant::now();
        s.resource
            .bearer(&good_token())
            .await
            .assert_refused(503, "temporarily_unavailable", "");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );

        // An error status: 503.
        let s = setup(mode, |b| b).await;
        s.issuer.set_status(500);
        s.resource
            .bearer(&good_token())
            .await
            .assert_refused(503, "temporarily_unavailable", "");
    }
}

/// T13 cache: the TTL is the JWKS answer's `max-age`, clamped to 60 s ..
/// 1 h, 5 min without one; no fetch before it runs out, one when it has.
#[tokio::test]
async fn t13_cache_ttl_from_cache_control() {
    for (cache_control, ttl_s) in [
        (Some("public, max-age=120"), 120),
        (Some("max-age=1"), 60),
        (Some("no-store"), 60),
        (Some("max-age=86400"), 3600),
        (None, 300),
    ] {
        let s = setup(Mode::Layer, |b| b).await;
        s.issuer.set_cache_control(cache_control);
        s.resource
            .bearer(&fresh_token(s.clock.now()))
            .await
            .assert_ok(SUB, "bearer");
        s.clock.advance_ms(ttl_s * 1000 - 1);
        s.resource
            .bearer(&fresh_token(s.clock.now()))
            .await
            .assert_ok(SUB, "bearer");
        assert_eq!(s.issuer.jwks_fetches(), 1, "{cache_control:?}: cached");
        s.clock.advance_ms(1);
        s.resource
            .bearer(&fresh_token(s.clock.now()))
            .await
            .assert_ok(SUB, "bearer");
        assert_eq!(
            s.issuer.jwks_fetches(),
            2,
            "{cache_control:?}: refreshed at {ttl_s} s"
        );
    }
}

/// Discovery end to end: `Validator::discover` fetches the document and
/// the JWKS at once; tokens whose `iss` is the issuer are accepted.
#[tokio::test]
async fn discovery_end_to_end() {
    for mode in Mode::ALL {
        let issuer = Issuer::start(&[&fixed_key()]).await;
        let validator = Validator::builder(&issuer.base, AUDIENCE)
            .clock(|| VECTOR_NOW_MS)
            .discover()
            .await
            .unwrap();
        assert_eq!((issuer.discovery_fetches(), issuer.jwks_fetches()), (1, 1));
        let resource = Resource::start(validator, mode).await;
        resource
            .bearer(&token(&claims_for(&issuer.base)))
            .await
            .assert_ok(SUB, "bearer");
        resource
            .bearer(&good_token())
            .await
            .assert_refused(401, "invalid_token", "wrong issuer");
        assert_eq!((issuer.discovery_fetches(), issuer.jwks_fetches()), (1, 1));
    }
    // discover() fails at start-up when the keys cannot be had.
    let issuer = Issuer::start(&[]).await;
    issuer.set_jwks(r#"{"keys":[]}"#);
    let err = Validator::discover(&issuer.base, AUDIENCE)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Jwks(_)), "{err}");
    issuer.set_status(404);
    let err = Validator::discover(&issuer.base, AUDIENCE)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Fetch(ref m) if m.contains("404")),
        "{err}"
    );
}

fn claims_for(issuer: &str) -> Value {
    let mut c = claims(IAT);
    c["iss"] = json!(issuer);
    c
}

async fn discovering(
    issuer: &Issuer,
    mode: Mode,
    configure: impl FnOnce(sigil_validator::ValidatorBuilder) -> sigil_validator::ValidatorBuilder,
) -> Resource {
    let validator = configure(Validator::builder(&issuer.base, AUDIENCE).clock(|| VECTOR_NOW_MS))
        .build()
        .unwrap();
    Resource::start(validator, mode).await
}
