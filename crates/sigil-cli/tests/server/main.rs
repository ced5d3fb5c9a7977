//! End-to-end tests of `sigil serve`: each test starts its own server
//! process on a fresh SQLite file and talks to it over real sockets, from
//! Rust (a minimal HTTP/1.1 client on `std::net`) and from the seed's
//! JavaScript client (`tests/interop/token_service.mjs`, which validates the
//! tokens with jose and jsonwebtoken). docs/protocol.md §3, §4, §5, §9, §13, §14.
//!
//! No fixed sleeps: readiness and reloads are polled, each loop bounded.
//! Every failure message carries the server's standard error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[cfg(unix)]
mod at_rest;
mod clients;
mod instances;
mod resource;
mod support;

#[allow(clippy::wildcard_imports)] // the helpers are this binary's vocabulary
use support::*;

#[test]
fn seed_client_gets_a_token_that_jose_and_jsonwebtoken_accept() {
    let scratch = Scratch::new("seed");
    let key = keygen(&scratch);
    let server = Server::start(&scratch, &Options::default());
    let out = token_service(&scratch, &server, &[&server.base, ENDPOINT], Some(&key.wif));
    let context = format!("node output: {out:#}\nserver stderr:\n{}", server.stderr());

    // What the seed's generateSignature sent: SignedMessage.sign's number[]
    // (a BRC-77 envelope as a JSON byte array) over endpoint:timestamp.
    let sent = &out["signature_request"];
    assert_eq!(sent["signature_is_array"], true, "{context}");
    assert_eq!(sent["message_is_compat_form"], true, "{context}");
    assert_eq!(sent["timestamp_type"], "number", "{context}");
    assert!(
        sent["signature_json_prefix"]
            .as_str()
            .unwrap()
            .starts_with("[66,66,51,1,"),
        "{context}"
    );
    assert_eq!(out["cached_token_reused"], true, "{context}");

    // The token: header and claims of docs/protocol.md §4.
    let token = out["token"].as_str().unwrap();
    let header = &out["header"];
    assert_eq!(header, &jwt_part(token, 0), "{context}");
    assert_eq!(header["alg"], "ES256", "{context}");
    assert_eq!(header["typ"], "at+jwt", "{context}");
    let kid = header["kid"].as_str().expect("kid");
    let published = server.jwks_kids();
    assert!(
        published.iter().any(|k| k == kid),
        "kid {kid} not in the JWKS {published:?}: {context}"
    );
    assert_eq!(out["jwks_kids"], json!(published), "{context}");
    let claims = &out["claims"];
    assert_eq!(claims, &jwt_part(token, 1), "{context}");
    assert_eq!(claims["iss"], server.base, "{context}");
    assert_eq!(claims["sub"], key.pubkey, "{context}");
    assert_eq!(claims["client_id"], key.pubkey, "{context}");
    assert_eq!(claims["aud"], ENDPOINT, "{context}");
    assert_eq!(claims["address"], key.address, "{context}");
    let iat = claims["iat"].as_u64().expect("iat");
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - iat,
        1800,
        "{context}"
    );
    assert_eq!(claims["nbf"].as_u64(), Some(iat), "{context}");
    let now_s = now_ms() / 1000;
    assert!(
        iat.abs_diff(now_s) <= 60,
        "iat {iat} vs now {now_s}: {context}"
    );
    let jti = claims["jti"].as_str().expect("jti");
    assert_eq!(
        URL_SAFE_NO_PAD.decode(jti).map(|b| b.len()).ok(),
        Some(16),
        "{context}"
    );
    assert!(
        claims.get("bap_id").is_none(),
        "no registry, no bap_id: {context}"
    );
    assert!(
        claims.get("name").is_none(),
        "no registry, no name: {context}"
    );

    // jose (remote JWKS) and jsonwebtoken (x5c[0] as a PEM certificate).
    assert_eq!(out["jose"]["ok"], true, "{context}");
    assert_eq!(out["jose"]["kid"], kid, "{context}");
    assert_eq!(out["jose"]["sub"], key.pubkey, "{context}");
    assert_eq!(out["jsonwebtoken"]["ok"], true, "{context}");
    assert_eq!(out["jsonwebtoken"]["sub"], key.pubkey, "{context}");

    // The seed's test: authenticatedGet(<server>/userinfo).
    let userinfo = &out["userinfo"];
    assert_eq!(userinfo["ok"], true, "{context}");
    assert_eq!(userinfo["status"], 200, "{context}");
    assert_eq!(userinfo["pubkey_matches"], true, "{context}");
    assert_eq!(userinfo["data"]["pubkey"], key.pubkey, "{context}");
    assert_eq!(userinfo["data"]["sub"], key.pubkey, "{context}");
    assert_eq!(userinfo["data"]["address"], key.address, "{context}");
    assert_eq!(
        userinfo["token_aud"],
        format!("{}/userinfo", server.base),
        "{context}"
    );
    // The seed's cache ignores the endpoint: the service that holds the
    // api.example.com token sends it to /userinfo, which must refuse it.
    let shared = &out["seed_shared_cache_userinfo"];
    assert_eq!(shared["status"], 401, "{context}");
    assert_eq!(shared["data"]["error"], "invalid_token", "{context}");
    assert!(
        shared["www_authenticate"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Bearer error=\"invalid_token\""),
        "{context}"
    );

    // Negative controls: each must fail.
    let negative = &out["negative"];
    assert_eq!(negative["jose_wrong_audience"]["ok"], false, "{context}");
    assert!(
        negative["jose_wrong_audience"]["error"]
            .as_str()
            .unwrap()
            .contains("aud"),
        "{context}"
    );
    assert_eq!(
        negative["jsonwebtoken_wrong_issuer"]["ok"], false,
        "{context}"
    );
    assert!(
        negative["jsonwebtoken_wrong_issuer"]["error"]
            .as_str()
            .unwrap()
            .contains("issuer"),
        "{context}"
    );
    let flipped = &negative["flipped_signature"];
    assert_eq!(flipped["token_differs"], true, "{context}");
    assert_eq!(flipped["jose"]["ok"], false, "{context}");
    assert_eq!(flipped["jsonwebtoken"]["ok"], false, "{context}");
    assert!(
        flipped["jsonwebtoken"]["error"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{context}"
    );
}

#[test]
fn key_rotation_keeps_old_tokens_valid_and_new_tokens_use_the_new_kid() {
    let scratch = Scratch::new("rotation");
    let key = keygen(&scratch);
    let server = Server::start(
        &scratch,
        &Options {
            env: &[("SIGIL_RELOAD_INTERVAL_MS", RELOAD_MS)],
            ..Options::default()
        },
    );
    let t1 = server.token(&key, ENDPOINT);
    let kid1 = jwt_part(&t1, 0)["kid"].as_str().expect("kid").to_owned();
    assert_eq!(server.jwks_kids(), vec![kid1.clone()]);

    let database = scratch.database();
    let rotation = sigil(
        &scratch,
        &["keys", "rotate", "--database", &database, "--json"],
    )
    .assert_code(0, "keys rotate")
    .json();
    let new_kid = rotation["new_kid"].as_str().expect("new_kid").to_owned();
    assert_eq!(rotation["old_kid"], kid1.as_str(), "{rotation}");
    assert_ne!(new_kid, kid1);

    // Every instance picks the rotation up within its reload interval.
    let kids = poll(Duration::from_secs(10), || {
        let kids = server.jwks_kids();
        (kids.len() == 2).then_some(kids)
    })
    .unwrap_or_else(|| {
        panic!(
            "the JWKS did not list 2 keys within 10 s: {:?}\nserver stderr:\n{}",
            server.jwks_kids(),
            server.stderr()
        )
    });
    assert!(kids.contains(&kid1) && kids.contains(&new_kid), "{kids:?}");
    assert_eq!(kids[0], new_kid, "the current key comes first: {kids:?}");

    // The old token still validates, with the old kid.
    assert_eq!(assert_node_accepts(&scratch, &server, &t1, ENDPOINT), kid1);

    // New tokens are signed with the new key.
    let t2 = server.token(&key, ENDPOINT);
    let kid2 = jwt_part(&t2, 0)["kid"].as_str().expect("kid").to_owned();
    assert_eq!(kid2, new_kid, "server stderr:\n{}", server.stderr());
    assert_ne!(kid2, kid1);
    assert_eq!(
        assert_node_accepts(&scratch, &server, &t2, ENDPOINT),
        new_kid
    );

    // `keys list`: one current key, one retiring until T1 has expired.
    let listed = sigil(
        &scratch,
        &["keys", "list", "--database", &database, "--json"],
    )
    .assert_code(0, "keys list")
    .json();
    let rows = listed.as_array().expect("an array of keys");
    assert_eq!(rows.len(), 2, "{listed}");
    let row = |kid: &str| rows.iter().find(|r| r["kid"] == kid).expect("listed");
    let current = row(&new_kid);
    assert_eq!(current["state"], "current", "{listed}");
    assert!(current["retires_at"].is_null(), "{listed}");
    let retiring = row(&kid1);
    assert_eq!(retiring["state"], "retiring", "{listed}");
    let retires_at_ms = parse_iso_ms(retiring["retires_at"].as_str().expect("retires_at"))
        .expect("an ISO 8601 time");
    let t1_exp_ms = jwt_part(&t1, 1)["exp"].as_u64().unwrap() * 1000;
    assert!(
        retires_at_ms >= t1_exp_ms,
        "the old key retires at {retires_at_ms} ms, before T1 expires ({t1_exp_ms} ms): {listed}"
    );
    assert_eq!(
        rotation["old_key_retires_at"], retiring["retires_at"],
        "{rotation} vs {listed}"
    );
}

#[test]
fn restart_on_the_same_database_keeps_replays_and_old_tokens() {
    let scratch = Scratch::new("restart");
    let key = keygen(&scratch);
    let mut first = Server::start(&scratch, &Options::default());
    let body = token_request(&key, ENDPOINT);
    let token = first.token_from(&first.token_response(&body));
    let userinfo_audience = format!("{}/userinfo", first.base);
    let userinfo_token = first.token(&key, &userinfo_audience);
    let kid = jwt_part(&token, 0)["kid"].as_str().unwrap().to_owned();

    // Graceful shutdown on SIGTERM: exit status 0.
    let status = first.terminate();
    assert!(
        status.success(),
        "exit after SIGTERM: {status}\nserver stderr:\n{}",
        first.stderr()
    );

    // Same database, same port (so the same issuer URL).
    let second = Server::start(
        &scratch,
        &Options {
            port: Some(first.port),
            ..Options::default()
        },
    );
    assert_eq!(second.base, first.base);
    let context = || {
        format!(
            "first server stderr:\n{}\nsecond server stderr:\n{}",
            first.stderr(),
            second.stderr()
        )
    };

    // The replay record survived the restart.
    let replay = second.token_response(&body);
    assert_eq!(replay.status, 401, "{}\n{}", replay.text(), context());
    let error = replay.json();
    assert_eq!(error["error"], "replay_detected", "{error}\n{}", context());
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{error}"
    );

    // The signing key survived too: same kid, old tokens validate.
    assert!(
        second.jwks_kids().contains(&kid),
        "kid {kid} not in {:?}\n{}",
        second.jwks_kids(),
        context()
    );
    assert_eq!(
        assert_node_accepts(&scratch, &second, &token, ENDPOINT),
        kid
    );
    let me = second.get_bearer("/userinfo", &userinfo_token);
    assert_eq!(me.status, 200, "{}\n{}", me.text(), context());
    let me = me.json();
    assert_eq!(me["pubkey"], key.pubkey, "{me}");
    assert_eq!(me["sub"], key.pubkey, "{me}");
    assert_eq!(me["address"], key.address, "{me}");

    // A token for another audience is not a userinfo token.
    let refused = second.get_bearer("/userinfo", &token);
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(refused.json()["error"], "invalid_token");
    assert!(
        refused
            .header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Bearer error=\"invalid_token\""),
        "{:?}",
        refused.headers
    );
}

/// A `sigil serve` invocation that must be refused, and what its one
/// line of standard error must mention.
struct BadConfig<'a> {
    name: &'a str,
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
    phrases: &'a [&'a str],
}

#[test]
fn bad_config_is_one_line_and_exit_2() {
    let scratch = Scratch::new("config");
    let bad_file = scratch.dir.join("unknown-key.toml");
    std::fs::write(&bad_file, "lisen = \"127.0.0.1:1911\"\n").unwrap();
    let bad_file = bad_file.to_str().unwrap();
    let database = scratch.database();
    let cases = [
        BadConfig {
            name: "missing config file",
            args: &["--config", "/nonexistent.toml"],
            env: &[],
            phrases: &["/nonexistent.toml"],
        },
        BadConfig {
            name: "unknown key in the file",
            args: &["--config", bad_file],
            env: &[],
            phrases: &["lisen", "unknown-key.toml"],
        },
        BadConfig {
            name: "bad --listen",
            args: &["--listen", "nonsense"],
            env: &[],
            phrases: &["listen", "nonsense"],
        },
        BadConfig {
            name: "bad SIGIL_RATE_LIMITS",
            args: &[],
            env: &[("SIGIL_RATE_LIMITS", "maybe")],
            phrases: &["rate_limits", "maybe"],
        },
    ];
    for BadConfig {
        name,
        args,
        env,
        phrases,
    } in cases
    {
        let mut command = sigil_command(&scratch.dir);
        command.args(["serve", "--database", &database]).args(args);
        for (variable, value) in env {
            command.env(variable, value);
        }
        let result = run(&scratch, command, name);
        result.assert_code(2, name);
        let stderr = result.stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "{name}: {}", result.describe());
        for phrase in phrases {
            assert!(
                stderr.to_lowercase().contains(&phrase.to_lowercase()),
                "{name}: stderr does not mention {phrase:?}: {}",
                result.describe()
            );
        }
    }
    assert!(
        !scratch.dir.join("sigil.db").exists(),
        "a bad configuration must not open the store"
    );

    let printed = sigil(&scratch, &["serve", "--print-config"]);
    printed.assert_code(0, "--print-config");
    assert!(
        printed.stdout.contains("listen = \"127.0.0.1:1911\"\n"),
        "{}",
        printed.describe()
    );
    assert!(
        printed.stdout.contains("rate_limits = \"on\"\n"),
        "{}",
        printed.describe()
    );
    let off = sigil(
        &scratch,
        &["serve", "--print-config", "--rate-limits", "off"],
    );
    off.assert_code(0, "--print-config --rate-limits off");
    assert!(
        off.stdout.contains("rate_limits = \"off\"\n"),
        "{}",
        off.describe()
    );
}

#[test]
fn accounts_give_tokens_their_name_and_bap_id() {
    let scratch = Scratch::new("accounts");
    scratch.create_database();
    let key = keygen(&scratch);
    let database = scratch.database();
    let added = sigil(
        &scratch,
        &[
            "accounts",
            "add",
            &key.pubkey,
            "--name",
            "svc",
            "--bap-id",
            "XYZ",
            "--database",
            &database,
            "--json",
        ],
    )
    .assert_code(0, "accounts add")
    .json();
    assert_eq!(added["name"], "svc", "{added}");

    // Rate limits off: the revocation poll below may send many requests.
    let server = Server::start(
        &scratch,
        &Options {
            rate_limits_off: true,
            env: &[("SIGIL_RELOAD_INTERVAL_MS", RELOAD_MS)],
            ..Options::default()
        },
    );
    let token = server.token(&key, ENDPOINT);
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["name"], "svc", "{claims}");
    assert_eq!(claims["bap_id"], "XYZ", "{claims}");
    assert_eq!(claims["sub"], key.pubkey, "{claims}");

    let userinfo_token = server.token(&key, &server.base);
    let me = server.get_bearer("/userinfo", &userinfo_token);
    assert_eq!(me.status, 200, "{}", me.text());
    let me = me.json();
    assert_eq!(me["name"], "svc", "{me}");
    assert_eq!(me["bap_id"], "XYZ", "{me}");

    sigil(
        &scratch,
        &["accounts", "revoke", &key.pubkey, "--database", &database],
    )
    .assert_code(0, "accounts revoke");
    let mut answers = Vec::new();
    let refused = poll(Duration::from_secs(5), || {
        let response = server.token_response(&token_request(&key, ENDPOINT));
        answers.push(response.status);
        match response.status {
            200 => None,
            _ => Some(response),
        }
    })
    .unwrap_or_else(|| {
        panic!(
            "still issuing tokens 5 s after the revocation ({} requests)\nserver stderr:\n{}",
            answers.len(),
            server.stderr()
        )
    });
    assert_eq!(
        refused.status,
        403,
        "{}\nserver stderr:\n{}",
        refused.text(),
        server.stderr()
    );
    let error = refused.json();
    assert_eq!(error["error"], "access_denied", "{error}");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("not allowed"),
        "{error}"
    );

    let listed = sigil(
        &scratch,
        &["accounts", "list", "--database", &database, "--json"],
    )
    .assert_code(0, "accounts list")
    .json();
    assert!(listed[0]["revoked_at"].is_string(), "{listed}");

    // Unrevoked and renamed while the server runs: tokens again, with the
    // new name, once the reload has seen it.
    sigil(
        &scratch,
        &["accounts", "unrevoke", &key.pubkey, "--database", &database],
    )
    .assert_code(0, "accounts unrevoke");
    sigil(
        &scratch,
        &[
            "accounts",
            "update",
            &key.pubkey,
            "--name",
            "billing",
            "--database",
            &database,
        ],
    )
    .assert_code(0, "accounts update");
    let renamed = poll(Duration::from_secs(5), || {
        let response = server.token_response(&token_request(&key, ENDPOINT));
        (response.status == 200)
            .then(|| jwt_part(&server.token_from(&response), 1))
            .filter(|claims| claims["name"] == "billing")
    });
    let claims = renamed.unwrap_or_else(|| {
        panic!(
            "no token named billing 5 s after unrevoke and update\nserver stderr:\n{}",
            server.stderr()
        )
    });
    assert_eq!(claims["bap_id"], "XYZ", "kept: {claims}");
}

/// docs/security.md B10: with `SIGIL_MASTER_KEY` set the signing keys are sealed
/// at rest, a restart without it refuses to start (one line, exit 2), and
/// no log line of a full run (debug level, errors included, a rotation)
/// contains the master key, a WIF, a signature or a bearer token.
#[test]
fn master_key_seals_signing_keys_and_no_secret_reaches_the_logs() {
    const MASTER: &str = "sigil-test-master-key-0123456789-abcdefghijklmnop";
    let scratch = Scratch::new("secrets");
    let key = keygen(&scratch);
    let env = [
        ("SIGIL_MASTER_KEY", MASTER),
        ("RUST_LOG", "debug"),
        ("SIGIL_RELOAD_INTERVAL_MS", RELOAD_MS),
    ];
    let mut server = Server::start(
        &scratch,
        &Options {
            env: &env,
            ..Options::default()
        },
    );
    let body = token_request(&key, ENDPOINT);
    let token = server.token_from(&server.token_response(&body));
    let replay = server.token_response(&body);
    assert_eq!(replay.status, 401, "{}", replay.text());
    let userinfo_token = server.token(&key, &format!("{}/userinfo", server.base));
    assert_eq!(server.get_bearer("/userinfo", &userinfo_token).status, 200);
    assert_eq!(server.get_bearer("/userinfo", &token).status, 401);
    let mut rotate = sigil_command(&scratch.dir);
    rotate
        .args(["keys", "rotate", "--database", &scratch.database()])
        .env("SIGIL_MASTER_KEY", MASTER);
    let rotation = run(&scratch, rotate, "keys rotate");
    rotation.assert_code(0, "keys rotate");
    let rotated = poll(Duration::from_secs(10), || {
        (server.jwks_kids().len() == 2).then_some(())
    });
    assert!(rotated.is_some(), "rotation not seen:\n{}", server.stderr());
    let after = server.token(&key, ENDPOINT);
    assert!(server.terminate().success(), "{}", server.stderr());

    let logs = format!(
        "{}\n{}\n{}",
        server.stderr(),
        rotation.stderr,
        rotation.stdout
    );
    let signature = serde_json::from_str::<Value>(&body).unwrap()["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, secret) in [
        ("master key", MASTER),
        ("WIF", key.wif.as_str()),
        ("token", token.as_str()),
        ("userinfo token", userinfo_token.as_str()),
        ("token after rotation", after.as_str()),
        ("signature", signature.as_str()),
    ] {
        assert!(
            !logs.contains(secret),
            "the logs contain the {name}:\n{logs}"
        );
    }
    assert!(
        server.stderr().contains("DEBUG") || server.stderr().contains("debug"),
        "debug logging was on: {}",
        server.stderr()
    );

    // Sealed at rest: the database holds no PKCS#8 EC key (its version
    // and id-ecPublicKey OID would appear in the clear), though it holds
    // the keys' certificates (public, with the OID in their public key).
    let database = std::fs::read(scratch.dir.join("sigil.db")).unwrap_or_default();
    let wal = std::fs::read(scratch.dir.join("sigil.db-wal")).unwrap_or_default();
    let plain = sigil_core::es256::generate_pkcs8(&[7; 32]).unwrap();
    assert!(holds_plain_pkcs8(&plain), "the probe finds a plain key");
    for (file, bytes) in [("sigil.db", &database), ("sigil.db-wal", &wal)] {
        assert!(
            !holds_plain_pkcs8(bytes),
            "{file} holds an unencrypted PKCS#8 key"
        );
    }
    assert!(!database.is_empty(), "the database file exists");

    // Without the master key the server refuses to start, in one line.
    let mut command = sigil_command(&scratch.dir);
    command.args([
        "serve",
        "--listen",
        "127.0.0.1:9",
        "--database",
        &scratch.database(),
    ]);
    let refused = run(&scratch, command, "serve without the master key");
    refused.assert_code(2, "serve without the master key");
    assert!(
        refused.stderr.contains("SIGIL_MASTER_KEY"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        refused.stderr.trim().lines().count(),
        1,
        "{}",
        refused.stderr
    );
}

/// On one CPU (`taskset -c 0`) `sigil serve` runs a single-threaded
/// runtime beside its SQLite threads: it still issues tokens, refuses
/// replays, and of 20 identical requests sent at once accepts exactly one.
#[test]
fn one_cpu_server_issues_tokens_and_refuses_replays() {
    let scratch = Scratch::new("one-cpu");
    let key = keygen(&scratch);
    let server = Server::start(
        &scratch,
        &Options {
            cpus: Some("0"),
            // 21 verified requests of one key would pass its burst of 20.
            rate_limits_off: true,
            ..Options::default()
        },
    );
    let token = server.token(&key, ENDPOINT);
    assert_eq!(jwt_part(&token, 1)["sub"], key.pubkey);
    let body = token_request(&key, "https://api.example.com/one-cpu");
    let barrier = std::sync::Barrier::new(20);
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    server.token_response(&body).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let issued = answers.iter().filter(|s| **s == 200).count();
    let replays = answers.iter().filter(|s| **s == 401).count();
    assert_eq!(
        (issued, replays),
        (1, 19),
        "{answers:?}\n{}",
        server.stderr()
    );
}
