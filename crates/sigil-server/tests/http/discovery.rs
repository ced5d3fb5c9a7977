//! JWKS, discovery documents, health, readiness, metrics and OpenAPI over
//! HTTP (docs/protocol.md §5, docs/security.md B10).

use sigil_core::JwkSet;
use sigil_core::api::paths;

use crate::support::{ENDPOINT, TestServer, base64, config_in, decode, fresh_dir, key, request};

const NOW: u64 = 1_795_000_000_000;

#[tokio::test]
async fn jwks_is_public_cacheable_and_has_x5c() {
    let server = TestServer::start("jwks", NOW).await;
    for path in [paths::JWKS, paths::JWKS_ALIAS] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("cache-control"), Some("public, max-age=300"));
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
        assert!(answer.header("access-control-allow-credentials").is_none());
        let body = answer.json();
        let keys = body["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        for jwk in keys {
            assert!(jwk.get("d").is_none(), "never a private member");
            assert_eq!(jwk["kty"], "EC");
            assert_eq!(jwk["crv"], "P-256");
            assert_eq!(jwk["alg"], "ES256");
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["x5c"].as_array().unwrap().len(), 1);
        }
        JwkSet::from_json(answer.text.as_bytes()).expect("passes the T12 checks");
    }
    // The same bytes every time: x5c is built once.
    assert_eq!(
        server.get(paths::JWKS).await.text,
        server.get(paths::JWKS_ALIAS).await.text
    );
    // And it is the certificate stored with the key (docs/protocol.md §13).
    let stored = server.state.store().keys().list_keys().await.unwrap();
    let der = stored[0]
        .certificate
        .as_deref()
        .expect("stored with the key");
    assert_eq!(
        server.get(paths::JWKS).await.json()["keys"][0]["x5c"][0],
        base64(der)
    );
}

/// A database of schema version 4 (before key certificates) with a current
/// and a retiring key: after the migration the first server to load them
/// stores a certificate for each, the next server publishes the same bytes,
/// and the keys still sign and verify.
#[tokio::test]
async fn keys_stored_before_certificates_get_one_each_that_every_instance_serves() {
    let dir = fresh_dir("jwks-migrated");
    let kids = {
        let conn = rusqlite::Connection::open(dir.join("sigil.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (
                 version INTEGER NOT NULL PRIMARY KEY,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             ) STRICT;",
        )
        .unwrap();
        for sql in [
            include_str!("../../../sigil-store/migrations/sqlite/0001_initial.sql"),
            include_str!("../../../sigil-store/migrations/sqlite/0002_replay_by_signed_time.sql"),
            include_str!("../../../sigil-store/migrations/sqlite/0003_erase_retired_keys.sql"),
            include_str!("../../../sigil-store/migrations/sqlite/0004_oauth.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch("INSERT INTO schema_version (version) VALUES (1), (2), (3), (4)")
            .unwrap();
        let mut kids = Vec::new();
        for (seed, state, retires) in [
            (7u8, "retiring", Some(NOW as i64 + 3_600_000)),
            (8, "current", None),
        ] {
            let pkcs8 = sigil_core::es256::generate_pkcs8(&[seed; 32]).unwrap();
            let kid = sigil_core::Es256SigningKey::from_pkcs8(&pkcs8)
                .unwrap()
                .kid()
                .to_owned();
            conn.execute(
                "INSERT INTO signing_keys (kid, pkcs8, state, created_at_ms, retires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    kid,
                    pkcs8,
                    state,
                    NOW as i64 - 1_000 + i64::from(seed),
                    retires
                ],
            )
            .unwrap();
            kids.push(kid);
        }
        kids
    };

    let first = TestServer::start_with(config_in(&dir), dir.clone(), NOW).await;
    let stored = first.state.store().keys().list_keys().await.unwrap();
    assert_eq!(stored.len(), 2);
    let certificates: Vec<Vec<u8>> = stored
        .iter()
        .map(|k| k.certificate.clone().expect("given a certificate on load"))
        .collect();
    let jwks = first.get(paths::JWKS).await;
    let body = jwks.json();
    // Current key first, each with its stored certificate.
    for (entry, (kid, der)) in body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .zip([(&kids[1], &certificates[1]), (&kids[0], &certificates[0])])
    {
        assert_eq!(entry["kid"], kid.as_str());
        assert_eq!(entry["x5c"][0], base64(der));
    }
    JwkSet::from_json(jwks.text.as_bytes()).expect("passes the T12 checks");

    // A second instance on the same database serves the same bytes, and
    // stores nothing new.
    let second = TestServer::start_with(config_in(&dir), dir.clone(), NOW).await;
    assert_eq!(second.get(paths::JWKS).await.text, jwks.text);
    let again = second.state.store().keys().list_keys().await.unwrap();
    assert_eq!(
        again
            .iter()
            .map(|k| k.certificate.clone())
            .collect::<Vec<_>>(),
        certificates.into_iter().map(Some).collect::<Vec<_>>()
    );

    // The migrated current key still signs.
    let answer = second.post_token(&request(&key(1), ENDPOINT, NOW)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let (header, _) = decode(&answer.token());
    assert_eq!(header["kid"], kids[1].as_str());
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn discovery_documents_name_every_endpoint() {
    let server = TestServer::start("discovery", NOW).await;
    for path in [
        paths::OPENID_CONFIGURATION,
        paths::OAUTH_AUTHORIZATION_SERVER,
    ] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, 200, "{path}");
        let doc = answer.json();
        let issuer = "http://localhost:1911";
        assert_eq!(doc["issuer"], issuer);
        assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
        assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth2/token"));
        assert_eq!(
            doc["sigil_token_for_endpoint_endpoint"],
            format!("{issuer}/api/auth/token-for-endpoint")
        );
        assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/userinfo"));
        assert_eq!(
            doc["sigil_payload_verify_endpoint"],
            format!("{issuer}/api/payloads/verify")
        );
        // docs/protocol.md §17: every field of the provider.
        use serde_json::json;
        for (member, value) in [
            (
                "authorization_endpoint",
                json!(format!("{issuer}/oauth2/authorize")),
            ),
            (
                "revocation_endpoint",
                json!(format!("{issuer}/oauth2/revoke")),
            ),
            (
                "registration_endpoint",
                json!(format!("{issuer}/oauth2/register")),
            ),
            ("response_types_supported", json!(["code"])),
            ("response_modes_supported", json!(["query"])),
            (
                "grant_types_supported",
                json!(["authorization_code", "refresh_token"]),
            ),
            ("subject_types_supported", json!(["public"])),
            ("id_token_signing_alg_values_supported", json!(["ES256"])),
            ("code_challenge_methods_supported", json!(["S256"])),
            (
                "token_endpoint_auth_methods_supported",
                json!([
                    "none",
                    "client_secret_basic",
                    "client_secret_post",
                    "private_key_jwt",
                    "bitcoin_auth_token"
                ]),
            ),
            (
                "token_endpoint_auth_signing_alg_values_supported",
                json!(["ES256"]),
            ),
            (
                "authorization_response_iss_parameter_supported",
                json!(true),
            ),
            (
                "scopes_supported",
                json!(["openid", "profile", "offline_access"]),
            ),
            (
                "prompt_values_supported",
                json!(["none", "login", "consent"]),
            ),
        ] {
            assert_eq!(doc[member], value, "{path}: {member}");
        }
        assert!(doc["claims_supported"].as_array().unwrap().len() > 5);
        assert_eq!(
            doc["access_token_signing_alg_values_supported"],
            serde_json::json!(["ES256"])
        );
    }
}

/// Every URL the discovery document names answers on the running server
/// (a route, not 404; `GET` on a `POST` route is 405).
#[tokio::test]
async fn every_discovery_url_answers() {
    let server = TestServer::start("discovery-urls", NOW).await;
    let issuer = "http://localhost:1911";
    for path in [
        paths::OPENID_CONFIGURATION,
        paths::OAUTH_AUTHORIZATION_SERVER,
    ] {
        let doc = server.get(path).await.json();
        let mut urls = 0;
        for (member, value) in doc.as_object().unwrap() {
            let Some(url) = value.as_str().and_then(|v| v.strip_prefix(issuer)) else {
                continue;
            };
            if url.is_empty() {
                continue; // the issuer itself
            }
            urls += 1;
            let answer = server.get(url).await;
            assert_ne!(
                answer.status, 404,
                "{member} = {issuer}{url}: {}",
                answer.text
            );
            assert!(
                answer.status < 500,
                "{member} = {issuer}{url}: {}",
                answer.status
            );
        }
        assert_eq!(
            urls, 12,
            "authorize, token, userinfo, jwks, revoke, register, openapi x2, token-for-endpoint, payload verify, wallet, sdk"
        );
    }
}

#[tokio::test]
async fn health_ready_metrics() {
    let server = TestServer::start("ops", NOW).await;
    assert_eq!(server.get("/health").await.json()["status"], "ok");
    assert_eq!(server.get("/ready").await.json()["status"], "ready");
    server
        .post_token(&request(&key(40), ENDPOINT, NOW))
        .await
        .token();
    server.post_token(&request(&key(40), ENDPOINT, NOW)).await;
    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    for line in [
        "sigil_tokens_issued_total 1",
        "sigil_http_refusals_total{error=\"replay_detected\"} 1",
        "sigil_signature_checks_total 2",
        "sigil_http_requests_total{route=\"/api/auth/token-for-endpoint\",method=\"POST\",status=\"200\"} 1",
    ] {
        assert!(
            metrics.text.lines().any(|l| l == line),
            "missing {line}:\n{}",
            metrics.text
        );
    }
    assert!(
        metrics
            .text
            .contains("sigil_http_request_duration_seconds_bucket{le=\"+Inf\"}")
    );
}

/// The document's version and schemas; its paths are checked against the
/// route list in `routes.rs`.
#[tokio::test]
async fn openapi_has_every_schema() {
    let server = TestServer::start("openapi", NOW).await;
    let doc = server.get(paths::OPENAPI).await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorBody",
        "ErrorCode",
        "TokenResponse",
        "UserInfo",
        "TokenRequestBody",
        "PayloadVerification",
        "PayloadVerifyBody",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
}
