//! The code flow end to end, and the refusals of docs/protocol.md §17.

use sigil_oauth::client::AuthMethod;

use super::*;

#[tokio::test]
async fn oauth_code_flow_userinfo_refresh_and_reuse() {
    let server = TestServer::start("oauth-flow", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    let redirected = browser_code(&browser, "app", &[]).await;
    assert_eq!(redirected["state"], "st-1");
    assert_eq!(redirected["iss"], "http://localhost:1911");
    let code = &redirected["code"];

    let tokens = exchange(&server, "app", code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let access = field(&tokens, "access_token");
    let refresh_token = field(&tokens, "refresh_token");
    let (_, id) = super::super::support::decode(&field(&tokens, "id_token"));
    assert_eq!(id["aud"], "app");
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["sub"], key(1).public_key().to_hex());
    assert_eq!(userinfo_status(&server, &access).await, 200);

    // Refresh rotates; the newest works.
    let rotated = refresh(&server, "app", &refresh_token).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let newest = field(&rotated, "refresh_token");
    // The rotated-out token, later: reuse revokes the family.
    server.clock.advance(3_000);
    assert_oauth_error(
        &refresh(&server, "app", &refresh_token).await,
        400,
        "invalid_grant",
    );
    assert_oauth_error(
        &refresh(&server, "app", &newest).await,
        400,
        "invalid_grant",
    );
    assert_eq!(userinfo_status(&server, &access).await, 401);
}

#[tokio::test]
async fn oauth_code_reuse_revokes_what_the_first_use_issued() {
    let server = TestServer::start("oauth-reuse", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    let first = exchange(&server, "app", &code).await;
    let access = field(&first, "access_token");
    assert_oauth_error(&exchange(&server, "app", &code).await, 400, "invalid_grant");
    assert_eq!(userinfo_status(&server, &access).await, 401);
    assert_oauth_error(
        &refresh(&server, "app", &field(&first, "refresh_token")).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn oauth_expired_code_and_wrong_verifier_are_invalid_grant() {
    let server = TestServer::start("oauth-expired", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    server.clock.advance(60_000);
    assert_oauth_error(&exchange(&server, "app", &code).await, 400, "invalid_grant");
    // Remembered consent: the next code comes without a page.
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    let wrong = post_form(
        &server,
        "/oauth2/token",
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "app"),
        ],
    )
    .await;
    assert_oauth_error(&wrong, 400, "invalid_grant");
}

#[tokio::test]
async fn oauth_unknown_client_or_redirect_is_an_error_page_and_others_redirect() {
    let server = TestServer::start("oauth-page", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    for query in [
        authorize_query("nobody", &[]),
        authorize_query("app", &[("redirect_uri", "https://evil.example/cb")]),
    ] {
        let answer = browser.get(&query).await;
        assert_eq!(answer.status, 400, "{query}");
        assert!(answer.header("location").is_none(), "never a redirect");
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(answer.header("x-frame-options"), Some("DENY"));
        assert!(
            answer
                .header("content-security-policy")
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
    for (extra, error) in [
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge", "")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let answer = browser.get(&authorize_query("app", &extra)).await;
        let back = params(location(&answer, REDIRECT));
        assert_eq!(back["error"], error, "{extra:?}");
        assert_eq!(back["state"], "st-1");
        assert_eq!(back["iss"], "http://localhost:1911");
        assert!(!back.contains_key("code"));
    }
}

#[tokio::test]
async fn oauth_wrong_client_secret_consumes_nothing() {
    let server = TestServer::start("oauth-secret", NOW).await;
    add_client(&server, "app", AuthMethod::ClientSecretBasic).await;
    let browser = Browser::new(&server);
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    let basic = |secret: &str| format!("Basic {}", base64(format!("app:{secret}").as_bytes()));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let wrong = post_form(
        &server,
        "/oauth2/token",
        &[("authorization", &basic("guess"))],
        &form,
    )
    .await;
    assert_oauth_error(&wrong, 401, "invalid_client");
    let right = post_form(
        &server,
        "/oauth2/token",
        &[("authorization", &basic(SECRET))],
        &form,
    )
    .await;
    assert_eq!(right.status, 200, "{}", right.text);
}

#[tokio::test]
async fn oauth_login_replay_csrf_and_consent_refusals() {
    let server = TestServer::start("oauth-login", NOW).await;
    add_client(&server, "app", AuthMethod::None).await;
    let browser = Browser::new(&server);
    let page = browser.get("/oauth2/login").await;
    let message = hidden(&page.text, "message");
    let signature = base64(&sigil_core::bsm::sign(message.as_bytes(), &key(1)).to_bytes());
    let csrf = hidden(&page.text, "csrf_token");
    // Without the CSRF token: refused, no session.
    let no_csrf = browser
        .post_form(
            "/oauth2/login",
            &[("message", &message), ("signature", &signature)],
        )
        .await;
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.text);
    assert!(!browser.has_cookie("sigil_session"));
    // Another issuer's challenge.
    let other = message.replace("http://localhost:1911", "https://evil.example");
    let other_sig = base64(&sigil_core::bsm::sign(other.as_bytes(), &key(1)).to_bytes());
    let answer = browser
        .post_form(
            "/oauth2/login",
            &[
                ("message", &other),
                ("signature", &other_sig),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    answer.assert_error(400, "invalid_request", "issuer");
    let form = [
        ("message", message.as_str()),
        ("signature", signature.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let cookie = browser.cookie_header();
    let ok = browser.post_form("/oauth2/login", &form).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert!(browser.has_cookie("sigil_session"));
    let set = ok.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    // The same challenge again, with the same login cookie: a replay.
    let replay = server
        .post_to(
            "/oauth2/login",
            Some("application/x-www-form-urlencoded"),
            &[("cookie", &cookie)],
            &encode(&form),
        )
        .await;
    replay.assert_error(401, "replay_detected", "already used");

    // Signed in, no consent: prompt=none → consent_required.
    let none = browser
        .get(&authorize_query("app", &[("prompt", "none")]))
        .await;
    assert_eq!(
        params(location(&none, REDIRECT))["error"],
        "consent_required"
    );
    // The consent page, then a post without the CSRF token, then Deny.
    let consent = browser.get(&authorize_query("app", &[])).await;
    assert_eq!(consent.status, 200, "{}", consent.text);
    assert!(consent.text.contains("App app") && consent.text.contains("app.example"));
    let request = hidden(&consent.text, "request");
    let forged = browser
        .post_form(
            "/oauth2/consent",
            &[("request", &request), ("decision", "allow")],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    let denied = browser
        .post_form(
            "/oauth2/consent",
            &[
                ("csrf_token", &hidden(&consent.text, "csrf_token")),
                ("request", &request),
                ("decision", "deny"),
            ],
        )
        .await;
    let back = params(location(&denied, REDIRECT));
    assert_eq!(back["error"], "access_denied");
    assert!(!back.contains_key("code"));
}
