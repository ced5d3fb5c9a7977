//! `X-Auth-Token`s bound to one server (docs/protocol.md §7, issue 13 item 3):
//! `requestPath` as the absolute URL of the request on the audience's
//! origin, the `off | path | url` modes, `require_signed_requests`
//! implying `url`, and bitcoin-auth (npm) signing URL-form tokens.

use serde_json::Value;
use sigil_core::PrivateKey;
use sigil_core::auth_token::{NewAuthToken, build};
use sigil_validator::{Validator, XAuthTokenMode};

use crate::support::tokens::fixed_key;
use crate::support::{
    AUDIENCE, Answer, ISSUER, Issuer, Mode, Resource, SIGNER_WIF, SUB, TestClock, VECTOR_NOW_MS,
    builder, setup,
};

/// A BSM X-Auth-Token of the signer for `request_path` (a path or a URL),
/// signed at the vectors' time.
fn token(request_path: &str) -> String {
    build(
        &PrivateKey::from_wif(SIGNER_WIF).unwrap(),
        &NewAuthToken {
            request_path,
            body: None,
            timestamp_ms: VECTOR_NOW_MS,
            scheme: sigil_core::Scheme::Bsm,
            key_id: [0; 32],
        },
    )
    .unwrap()
}

async fn send(resource: &Resource, path: &str, token: &str) -> Answer {
    Answer::of(resource.request("GET", path).header("x-auth-token", token)).await
}

/// Two resource servers with the same routes, one for [`AUDIENCE`] and one
/// for another origin. A token in the path form is good once at each (what
/// the format allows, and why the URL form exists); a token in the URL
/// form of the first is accepted there and refused at the second with
/// `invalid_signature` naming the origin the second expected.
#[tokio::test]
async fn a_url_form_token_is_good_only_at_the_origin_it_names() {
    for mode in Mode::ALL {
        let first = setup(mode, |b| b).await;
        let issuer = Issuer::start(&[&fixed_key()]).await;
        let clock = TestClock::at(VECTOR_NOW_MS);
        let other = Validator::builder(ISSUER, "https://other.example.com/api")
            .jwks_uri(issuer.jwks_url())
            .clock(clock.source())
            .build()
            .unwrap();
        let second = Resource::start(other, mode).await;

        let path = "/api/data?item=7";
        let bound = token(&format!("{AUDIENCE}{path}"));
        send(&first.resource, path, &bound)
            .await
            .assert_ok(SUB, "x-auth-token");
        send(&second, path, &bound).await.assert_refused(
            401,
            "invalid_signature",
            "signature verification failed: origin mismatch: the token was signed for https://api.yourservice.com, this server is https://other.example.com",
        );

        let unbound = token(path);
        for server in [&first.resource, &second] {
            send(server, path, &unbound)
                .await
                .assert_ok(SUB, "x-auth-token");
        }
    }
}

/// The URL form on the right origin: with a query, with a body, with the
/// origin spelled in another case and with its default port; each once
/// (a replay is still a replay), each refused for another path.
#[tokio::test]
async fn url_form_on_the_audience_origin_is_accepted() {
    for mode in Mode::ALL {
        let s = setup(mode, |b| b).await;
        for url in [
            "https://api.yourservice.com/api/data?x=1&y=%20z",
            "HTTPS://API.YourService.com:443/api/data?x=2",
        ] {
            let path = &url[url.find("/api/").unwrap()..];
            let bound = token(url);
            send(&s.resource, "/api/data?x=3", &bound)
                .await
                .assert_refused(401, "invalid_signature", "path mismatch");
            send(&s.resource, path, &bound)
                .await
                .assert_ok(SUB, "x-auth-token");
            send(&s.resource, path, &bound).await.assert_refused(
                401,
                "replay_detected",
                "already used",
            );
        }
        let body = br#"{"a":1}"#;
        let url = format!("{AUDIENCE}/api/upload");
        let with_body = build(
            &PrivateKey::from_wif(SIGNER_WIF).unwrap(),
            &NewAuthToken {
                request_path: &url,
                body: Some(body),
                timestamp_ms: VECTOR_NOW_MS,
                scheme: sigil_core::Scheme::Brc77,
                key_id: [3; 32],
            },
        )
        .unwrap();
        let answer = Answer::of(
            s.resource
                .request("POST", "/api/upload")
                .header("x-auth-token", with_body)
                .body(body.to_vec()),
        )
        .await;
        answer.assert_ok(SUB, "x-auth-token");
        assert_eq!(answer.body["body"], r#"{"a":1}"#);
    }
}

/// `url` refuses the path form; `off` takes no X-Auth-Token at all (no
/// credentials); `path` is the default.
#[tokio::test]
async fn modes_off_path_url() {
    let path = "/api/data";
    let url = format!("{AUDIENCE}{path}");
    for mode in Mode::ALL {
        let s = setup(mode, |b| b.x_auth_token(XAuthTokenMode::Url)).await;
        send(&s.resource, path, &token(path)).await.assert_refused(
            401,
            "invalid_signature",
            "only the absolute URL form of requestPath (https://api.yourservice.com/api/data)",
        );
        send(&s.resource, path, &token(&url))
            .await
            .assert_ok(SUB, "x-auth-token");

        let s = setup(mode, |b| b.x_auth_token(XAuthTokenMode::Off)).await;
        for t in [token(path), token(&url)] {
            send(&s.resource, path, &t)
                .await
                .check_no_credentials()
                .unwrap();
        }

        let s = setup(mode, |b| b).await;
        send(&s.resource, path, &token(path))
            .await
            .assert_ok(SUB, "x-auth-token");
    }
    for (text, mode) in [
        ("off", XAuthTokenMode::Off),
        ("path", XAuthTokenMode::Path),
        ("url", XAuthTokenMode::Url),
    ] {
        assert_eq!(text.parse::<XAuthTokenMode>().unwrap(), mode);
        assert_eq!(mode.to_string(), text);
    }
    assert!("URL".parse::<XAuthTokenMode>().is_err());
}

/// `require_signed_requests` raises `path` to `url` (and leaves `off`
/// off); it needs an audience that is a URL unless X-Auth-Tokens are off.
#[tokio::test]
async fn require_signed_requests_implies_url() {
    let issuer = Issuer::start(&[&fixed_key()]).await;
    let clock = TestClock::at(VECTOR_NOW_MS);
    let mode_of = |b: sigil_validator::ValidatorBuilder| b.build().unwrap().x_auth_token_mode();
    assert_eq!(
        mode_of(builder(&issuer, &clock).require_signed_requests(true)),
        XAuthTokenMode::Url
    );
    assert_eq!(
        mode_of(
            builder(&issuer, &clock)
                .x_auth_token(XAuthTokenMode::Off)
                .require_signed_requests(true)
        ),
        XAuthTokenMode::Off
    );
    assert_eq!(mode_of(builder(&issuer, &clock)), XAuthTokenMode::Path);
    let err = Validator::builder(ISSUER, "not-a-url")
        .require_signed_requests(true)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("x_auth_token = url (implied by require_signed_requests) needs an audience"),
        "{err}"
    );
    assert!(
        Validator::builder(ISSUER, "not-a-url")
            .require_signed_requests(true)
            .x_auth_token(XAuthTokenMode::Off)
            .build()
            .is_ok()
    );

    let s = setup(Mode::Layer, |b| b.require_signed_requests(true)).await;
    let path = "/api/data";
    send(&s.resource, path, &token(path)).await.assert_refused(
        401,
        "invalid_signature",
        "only the absolute URL form",
    );
    send(&s.resource, path, &token(&format!("{AUDIENCE}{path}")))
        .await
        .assert_ok(SUB, "x-auth-token");
}

/// `node x_auth_url.mjs SIGNED_URL SEND_URL SCHEME [BODY]` with the
/// signer's WIF: bitcoin-auth's own `getAuthToken`, sent by `fetch`.
fn bitcoin_auth(args: &[&str]) -> Value {
    let mut command = sigil_testkit::node("x_auth_url.mjs", &["bitcoin-auth"]);
    command.args(args).env("SERVICE_ACCOUNT_WIF", SIGNER_WIF);
    sigil_testkit::run_json(command, None)
}

/// [`bitcoin_auth`] off the runtime's threads (the server answers it).
async fn run_bitcoin_auth(args: Vec<String>) -> Value {
    tokio::task::spawn_blocking(move || {
        bitcoin_auth(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

/// The real bitcoin-auth client (npm, 0.0.7) signing the absolute URL of
/// the request, in both schemes, with and without a body, against a
/// validator whose audience is the server's own origin in `url` mode; a
/// token naming another port (another server on the same host) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitcoin_auth_npm_signs_url_form_tokens() {
    let issuer = Issuer::start(&[&fixed_key()]).await;
    let resource = Resource::start_at_own_origin(Mode::Layer, |base| {
        // The system clock: bitcoin-auth signs "now".
        Validator::builder(ISSUER, base)
            .jwks_uri(issuer.jwks_url())
            .x_auth_token(XAuthTokenMode::Url)
            .build()
            .unwrap()
    })
    .await;
    let url = format!("{}/api/protected?from=npm", resource.base);
    for scheme in ["bsm", "brc77"] {
        for body in [None, Some(r#"{"hello":"wörld"}"#)] {
            let mut args = vec![url.clone(), url.clone(), scheme.to_owned()];
            args.extend(body.map(str::to_owned));
            let out = run_bitcoin_auth(args).await;
            let context = format!("{scheme} {body:?}: {out:#}");
            assert_eq!(out["status"], 200, "{context}");
            assert_eq!(out["body"]["auth"], "x-auth-token", "{context}");
            assert_eq!(out["body"]["sub"], SUB, "{context}");
            assert_eq!(out["body"]["body"], body.unwrap_or(""), "{context}");
            let sent = out["sent"]["X-Auth-Token"].as_str().unwrap();
            assert_eq!(sent.split('|').nth(3), Some(url.as_str()), "{context}");
        }
    }
    let port = resource.base.rsplit(':').next().unwrap();
    let elsewhere = url.replace(&format!(":{port}/"), ":1/");
    let refused = run_bitcoin_auth(vec![elsewhere, url.clone(), "bsm".into()]).await;
    assert_eq!(refused["status"], 401, "{refused:#}");
    assert_eq!(refused["body"]["error"], "invalid_signature", "{refused:#}");
    let description = refused["body"]["error_description"].as_str().unwrap();
    assert!(
        description.contains(&format!("this server is {}", resource.base)),
        "{description}"
    );
}
