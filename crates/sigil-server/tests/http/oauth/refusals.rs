//! The provider's refusals over HTTP (docs/protocol.md §17) that flow.rs
//! does not already make: each asserts the RFC error code and that
//! nothing was issued, by the store or by a later step that fails (or
//! succeeds, where the refusal must have consumed nothing).

use sigil_core::auth_token::{NewAuthToken, build};
use sigil_core::es256::{Es256SigningKey, generate_pkcs8};
use sigil_oauth::client::AuthMethod;
use sigil_oauth::token::JWT_BEARER_ASSERTION;

use super::*;
use crate::support::config_in;

/// The code exchange's form for `code` (no client credentials).
fn code_form(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

#[tokio::test]
async fn oauth_a_wrong_verifier_spends_the_code_and_issues_nothing() {
    let server = TestServer::start("oauth-verifier", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    // A verifier of the right shape, not the one the challenge was made of.
    let other = "Xv9-b8e5ZkT_7fJQwCq0yQ2Kq7Lr1cVbS3nYtPpW4dA";
    let mut form = code_form(&code);
    form.retain(|(k, _)| *k != "code_verifier");
    form.extend([("code_verifier", other), ("client_id", "app")]);
    let wrong = post_form(&server, "/oauth2/token", &[], &form).await;
    assert_oauth_error(&wrong, 400, "invalid_grant");
    // The code was spent by the refused attempt: the right verifier now
    // gets nothing either.
    assert_oauth_error(&exchange(&server, "app", &code).await, 400, "invalid_grant");
}

#[tokio::test]
async fn oauth_pkce_downgrade_a_challenged_code_without_verifier_issues_nothing() {
    let server = TestServer::start("oauth-downgrade", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    let mut form = code_form(&code);
    form.retain(|(k, _)| *k != "code_verifier");
    form.push(("client_id", "app"));
    let answer = post_form(&server, "/oauth2/token", &[], &form).await;
    assert_oauth_error(&answer, 400, "invalid_grant");
    assert!(
        answer.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier"),
        "{}",
        answer.text
    );
    assert_oauth_error(&exchange(&server, "app", &code).await, 400, "invalid_grant");
}

#[tokio::test]
async fn oauth_two_concurrent_refreshes_have_one_winner_and_the_race_keeps_the_family() {
    let server = TestServer::start("oauth-race", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    let tokens = exchange(&server, "app", &code).await;
    let first = field(&tokens, "refresh_token");
    let (a, b) = tokio::join!(
        refresh(&server, "app", &first),
        refresh(&server, "app", &first)
    );
    let (winner, loser) = match (a.status, b.status) {
        (200, 400) => (a, b),
        (400, 200) => (b, a),
        other => panic!(
            "exactly one refresh must win: {other:?}\n{}\n{}",
            a.text, b.text
        ),
    };
    assert_oauth_error(&loser, 400, "invalid_grant");
    let newest = field(&winner, "refresh_token");
    // Inside the 2 s grace the raced-out token is refused again and the
    // family stays: the winner's tokens keep working.
    server.clock.advance(1_000);
    assert_oauth_error(&refresh(&server, "app", &first).await, 400, "invalid_grant");
    assert_eq!(
        userinfo_status(&server, &field(&winner, "access_token")).await,
        200
    );
    let again = refresh(&server, "app", &newest).await;
    assert_eq!(again.status, 200, "{}", again.text);
}

/// A `private_key_jwt` client's key and its assertions.
struct JwtClient {
    key: Es256SigningKey,
}

impl JwtClient {
    async fn add(server: &TestServer, id: &str) -> Self {
        let key = Es256SigningKey::from_pkcs8(&generate_pkcs8(&[42; 32]).unwrap()).unwrap();
        let jwk = serde_json::to_value(key.public_jwk()).unwrap();
        add_client_with(server, id, AuthMethod::PrivateKeyJwt, |c| {
            c.jwks = Some(serde_json::json!({ "keys": [jwk] }));
        })
        .await;
        Self { key }
    }

    fn assertion(&self, id: &str, jti: &str) -> String {
        use base64::Engine as _;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = serde_json::json!({"alg": "ES256", "kid": self.key.kid()});
        let claims = serde_json::json!({
            "iss": id, "sub": id, "aud": "http://localhost:1911",
            "exp": NOW / 1000 + 120, "jti": jti,
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&signature))
    }
}

#[tokio::test]
async fn oauth_a_replayed_private_key_jwt_assertion_is_invalid_client_and_consumes_nothing() {
    let server = TestServer::start("oauth-assertion", NOW).await;
    let client = JwtClient::add(&server, "jwt").await;
    let browser = Browser::new(&server);
    let with = |code: &str, assertion: &str| {
        let mut form = code_form(code);
        form.extend([
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", assertion),
        ]);
        form.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    let send = |form: Vec<(String, String)>| {
        let server = &server;
        async move {
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post_form(server, "/oauth2/token", &[], &pairs).await
        }
    };
    let first = client.assertion("jwt", "jti-1");
    let code = browser_code(&browser, "jwt", &[]).await["code"].clone();
    let tokens = send(with(&code, &first)).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let refresh_token = field(&tokens, "refresh_token");

    // The same assertion for a new code: refused, and the code is intact.
    let code = browser_code(&browser, "jwt", &[]).await["code"].clone();
    let replay = send(with(&code, &first)).await;
    assert_oauth_error(&replay, 401, "invalid_client");
    assert!(replay.text.contains("already used"), "{}", replay.text);
    let fresh = send(with(&code, &client.assertion("jwt", "jti-2"))).await;
    assert_eq!(
        fresh.status, 200,
        "the code was not consumed: {}",
        fresh.text
    );

    // At refresh, too: the refresh token is not rotated by the replay.
    let refresh_with = |assertion: String| {
        vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh_token.clone()),
            (
                "client_assertion_type".to_owned(),
                JWT_BEARER_ASSERTION.to_owned(),
            ),
            ("client_assertion".to_owned(), assertion),
        ]
    };
    let replay = send(refresh_with(client.assertion("jwt", "jti-2"))).await;
    assert_oauth_error(&replay, 401, "invalid_client");
    let rotated = send(refresh_with(client.assertion("jwt", "jti-3"))).await;
    assert_eq!(
        rotated.status, 200,
        "not rotated by the replay: {}",
        rotated.text
    );
}

#[tokio::test]
async fn oauth_x_auth_token_client_auth_over_an_altered_body_stale_or_replayed_is_refused() {
    let server = TestServer::start("oauth-x-auth", NOW).await;
    let signer = key(7);
    add_client_with(&server, "btc", AuthMethod::BitcoinAuthToken, |c| {
        c.bitcoin_pubkey = Some(signer.public_key().to_hex());
    })
    .await;
    let browser = Browser::new(&server);
    let token_for = |body: &str, timestamp_ms: u64| {
        build(
            &signer,
            &NewAuthToken {
                request_path: "/oauth2/token",
                body: Some(body.as_bytes()),
                timestamp_ms,
                scheme: sigil_core::Scheme::Bsm,
                key_id: [0; 32],
            },
        )
        .unwrap()
    };
    let post = |body: String, token: String| {
        let server = &server;
        async move {
            server
                .post_to(
                    "/oauth2/token",
                    Some("application/x-www-form-urlencoded"),
                    &[("x-auth-token", &token)],
                    &body,
                )
                .await
        }
    };
    let code = browser_code(&browser, "btc", &[]).await["code"].clone();
    let mut form = code_form(&code);
    form.push(("client_id", "btc"));
    let body = encode(&form);

    // Signed over another body (the verifier changed after signing).
    let altered = body.replace(VERIFIER, "0000000000000000000000000000000000000000000");
    let answer = post(altered, token_for(&body, NOW)).await;
    assert_oauth_error(&answer, 401, "invalid_client");
    assert!(answer.text.contains("X-Auth-Token"), "{}", answer.text);
    // Stale: signed 301 s ago.
    let answer = post(body.clone(), token_for(&body, NOW - 301_000)).await;
    assert_oauth_error(&answer, 401, "invalid_client");
    // Signed by another key.
    let other = build(
        &key(8),
        &NewAuthToken {
            request_path: "/oauth2/token",
            body: Some(body.as_bytes()),
            timestamp_ms: NOW,
            scheme: sigil_core::Scheme::Bsm,
            key_id: [0; 32],
        },
    )
    .unwrap();
    assert_oauth_error(&post(body.clone(), other).await, 401, "invalid_client");

    // None of those consumed the code: the right token redeems it.
    let good = token_for(&body, NOW);
    let tokens = post(body.clone(), good.clone()).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);

    // The same token again: a replay, refused before the (used) code is
    // looked at.
    let replayed = post(body, good).await;
    assert_oauth_error(&replayed, 401, "invalid_client");
    assert!(replayed.text.contains("already used"), "{}", replayed.text);

    // At refresh: a replayed token is refused as the client's failure, so
    // it neither rotates nor revokes the family (a second use of the
    // rotated-out refresh token would have been reuse).
    let refresh_body = |refresh_token: &str| {
        encode(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "btc"),
        ])
    };
    let first_body = refresh_body(&field(&tokens, "refresh_token"));
    let first_token = token_for(&first_body, NOW + 1);
    let rotated = post(first_body.clone(), first_token.clone()).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    server.clock.advance(3_000);
    let again = post(first_body, first_token).await;
    assert_oauth_error(&again, 401, "invalid_client");
    let next_body = refresh_body(&field(&rotated, "refresh_token"));
    let next = post(next_body.clone(), token_for(&next_body, NOW + 3_000)).await;
    assert_eq!(next.status, 200, "the family was kept: {}", next.text);
}

#[tokio::test]
async fn oauth_registration_is_404_when_dynamic_registration_is_off() {
    let dir = super::super::support::fresh_dir("oauth-no-register");
    let mut config = config_in(&dir);
    config.oauth.dynamic_registration = false;
    let server = TestServer::start_with(config, dir, NOW).await;
    let metadata = r#"{"redirect_uris": ["https://app.example/cb"]}"#;
    for path in ["/oauth2/register", "/api/auth/oauth2/register"] {
        server
            .post_json(path, metadata)
            .await
            .assert_error(404, "not_found", path);
    }
    let discovery = server.get("/.well-known/openid-configuration").await.json();
    assert!(
        discovery.get("registration_endpoint").is_none(),
        "{discovery}"
    );
    assert!(
        discovery.get("authorization_endpoint").is_some(),
        "{discovery}"
    );
    let stored = server.state.store().oauth().list_clients().await.unwrap();
    assert!(stored.is_empty(), "nothing registered: {stored:?}");
}

#[tokio::test]
async fn oauth_registration_refuses_secret_methods_and_a_registered_scope_limits_the_client() {
    let server = TestServer::start("oauth-register", NOW).await;
    for (metadata, status, code) in [
        (
            r#"{"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_post"}"#,
            400,
            "invalid_client_metadata",
        ),
        (
            r#"{"redirect_uris": ["http://app.example/cb"]}"#,
            400,
            "invalid_redirect_uri",
        ),
        (
            r#"{"redirect_uris": ["https://app.example/cb"], "scope": "openid email"}"#,
            400,
            "invalid_client_metadata",
        ),
    ] {
        let answer = server.post_json("/oauth2/register", metadata).await;
        assert_oauth_error(&answer, status, code);
    }
    assert!(
        server
            .state
            .store()
            .oauth()
            .list_clients()
            .await
            .unwrap()
            .is_empty()
    );

    let answer = server
        .post_json(
            "/oauth2/register",
            r#"{"redirect_uris": ["https://app.example/cb"], "client_name": "Limited", "scope": "openid"}"#,
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let client_id = field(&answer, "client_id");
    assert_eq!(answer.json()["scope"], "openid");
    assert_eq!(answer.json()["token_endpoint_auth_method"], "none");
    let browser = Browser::new(&server);
    // Asking for more than it registered: redirected invalid_scope, no code.
    let wide = browser_code(&browser, &client_id, &[]).await;
    assert_eq!(wide["error"], "invalid_scope", "{wide:?}");
    assert!(!wide.contains_key("code"));
    let narrow = browser_code(&browser, &client_id, &[("scope", "openid")]).await;
    let tokens = exchange(&server, &client_id, &narrow["code"]).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(field(&tokens, "scope"), "openid");
}

/// The account page's CSRF token for a signed-in browser.
async fn account_csrf(browser: &Browser<'_>) -> String {
    let page = browser.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.text);
    hidden(&page.text, "csrf_token")
}

#[tokio::test]
async fn oauth_account_revoke_ends_the_consent_and_every_token_issued_under_it() {
    let server = TestServer::start("oauth-account-revoke", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    add_client(&server, "other", AuthMethod::None).await;
    let browser = Browser::new(&server);
    // Two grants to "app" (one consent), one to "other".
    let first = exchange(
        &server,
        "app",
        &browser_code(&browser, "app", &[]).await["code"],
    )
    .await;
    let second = exchange(
        &server,
        "app",
        &browser_code(&browser, "app", &[]).await["code"],
    )
    .await;
    let kept = exchange(
        &server,
        "other",
        &browser_code(&browser, "other", &[]).await["code"],
    )
    .await;
    let csrf = account_csrf(&browser).await;

    // Cross-site: no CSRF token, or another browser's, revokes nothing.
    let stranger = Browser::new(&server);
    sign_in(&stranger, "/oauth2/login", &key(2)).await;
    let foreign = account_csrf(&stranger).await;
    for token in [None, Some(foreign.as_str())] {
        let mut form = vec![("client_id", "app")];
        if let Some(token) = token {
            form.push(("csrf_token", token));
        }
        browser
            .post_form("/account/revoke", &form)
            .await
            .assert_error(403, "access_denied", "CSRF");
    }
    assert_eq!(
        userinfo_status(&server, &field(&first, "access_token")).await,
        200
    );

    let revoked = browser
        .post_form(
            "/account/revoke",
            &[("csrf_token", &csrf), ("client_id", "app")],
        )
        .await;
    assert_eq!(location(&revoked, "/account"), "/account");
    for tokens in [&first, &second] {
        assert_eq!(
            userinfo_status(&server, &field(tokens, "access_token")).await,
            401
        );
        assert_oauth_error(
            &refresh(&server, "app", &field(tokens, "refresh_token")).await,
            400,
            "invalid_grant",
        );
    }
    let consents = server
        .state
        .store()
        .oauth()
        .list_consents(key(1).public_key().to_hex())
        .await
        .unwrap();
    let clients: Vec<&str> = consents.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(clients, ["other"], "only app's consent is gone");
    // The other app keeps working; app must ask again.
    assert_eq!(
        userinfo_status(&server, &field(&kept, "access_token")).await,
        200
    );
    let none = browser
        .get(&authorize_query("app", &[("prompt", "none")]))
        .await;
    assert_eq!(
        params(location(&none, REDIRECT))["error"],
        "consent_required"
    );
}

#[tokio::test]
async fn oauth_sign_out_ends_the_session() {
    let server = TestServer::start("oauth-sign-out", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    browser_code(&browser, "app", &[]).await;
    let session = browser.cookie_header();
    let csrf = account_csrf(&browser).await;
    // Without the CSRF token: refused, still signed in.
    browser
        .post_form("/account/sign-out", &[])
        .await
        .assert_error(403, "access_denied", "CSRF");
    assert_eq!(browser.get("/account").await.status, 200);

    let out = browser
        .post_form("/account/sign-out", &[("csrf_token", &csrf)])
        .await;
    assert!(location(&out, "/oauth2/login").contains("return_to"));
    assert!(
        !browser.has_cookie("sigil_session"),
        "the cookie is cleared"
    );
    // The old cookie, sent again, is no session any more.
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/account"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 303);
    let to = replayed.headers()["location"].to_str().unwrap();
    assert!(to.starts_with("/oauth2/login"), "{to}");
    let none = browser
        .get(&authorize_query("app", &[("prompt", "none")]))
        .await;
    assert_eq!(params(location(&none, REDIRECT))["error"], "login_required");
}

#[tokio::test]
async fn oauth_an_old_or_foreign_login_challenge_sets_no_session() {
    let server = TestServer::start("oauth-old-challenge", NOW).await;
    let browser = Browser::new(&server);
    let page = browser.get("/oauth2/login").await;
    let message = hidden(&page.text, "message");
    let signature = base64(&sigil_core::bsm::sign(message.as_bytes(), &key(1)).to_bytes());
    let form = [
        ("message", message.as_str()),
        ("signature", signature.as_str()),
        ("csrf_token", &hidden(&page.text, "csrf_token")),
    ];
    // Another browser's login cookie: the CSRF token does not match it.
    let other = Browser::new(&server);
    other.get("/oauth2/login").await;
    let cross = other.post_form("/oauth2/login", &form).await;
    assert_eq!(cross.status, 403, "{}", cross.text);
    assert!(!other.has_cookie("sigil_session"));
    // The challenge's own browser, after its 300 s.
    server.clock.advance(301_000);
    let old = browser.post_form("/oauth2/login", &form).await;
    old.assert_error(400, "invalid_request", "expired");
    assert!(!browser.has_cookie("sigil_session"));
}

#[tokio::test]
async fn oauth_concurrent_uses_of_one_code_issue_at_most_once_and_revoke_it() {
    let server = TestServer::start("oauth-code-race", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    for round in 0..5 {
        let code = browser_code(&browser, "app", &[]).await["code"].clone();
        let body = encode(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", "app"),
        ]);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let request = server
                .client
                .post(server.url("/oauth2/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone());
            tasks.spawn(async move { Answer::read(request.send().await.unwrap()).await });
        }
        let answers = tasks.join_all().await;
        let issued: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
        assert!(issued.len() <= 1, "round {round}: {} winners", issued.len());
        for answer in answers.iter().filter(|a| a.status != 200) {
            assert_oauth_error(answer, 400, "invalid_grant");
        }
        // A reuse happened, so whatever the first use got is revoked.
        for answer in issued {
            assert_eq!(
                userinfo_status(&server, &field(answer, "access_token")).await,
                401,
                "round {round}: the winner's token outlived the reuse"
            );
            assert_oauth_error(
                &refresh(&server, "app", &field(answer, "refresh_token")).await,
                400,
                "invalid_grant",
            );
        }
    }
}
