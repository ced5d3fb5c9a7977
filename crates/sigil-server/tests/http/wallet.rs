//! The browser wallet's routes (docs/protocol.md §16): `/wallet` with its
//! security headers, the content-hashed assets, `/sdk.js` and `/sdk.mjs`
//! with a strong ETag and their integrity in discovery, and `wallet = false`.

use aws_lc_rs::digest::{SHA384, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigil_core::api::paths;
use sigil_server::Config;

use crate::support::{Answer, TestServer, config_in, fresh_dir};

const NOW: u64 = 1_795_000_000_000;
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn assets_of(page: &str) -> Vec<String> {
    page.split('"')
        .filter(|part| part.starts_with("/wallet/"))
        .map(str::to_owned)
        .collect()
}

async fn get_with(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = server.client.get(server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Answer::read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn the_wallet_page_has_exactly_the_headers_of_section_16() {
    let server = TestServer::start("wallet-page", NOW).await;
    let answer = server.get(paths::WALLET).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(answer.header("content-security-policy"), Some(CSP));
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    // Any Cross-Origin-Opener-Policy would sever window.opener.
    assert!(answer.header("cross-origin-opener-policy").is_none());
    assert!(answer.header("access-control-allow-origin").is_none());
    // No inline script or style: every script and stylesheet is a file of ours.
    let page = &answer.text;
    assert!(
        !page.contains("<script>") && !page.contains("<style"),
        "{page}"
    );
    assert!(!page.contains(" style="), "no inline style attribute");
    for tag in page.split("<script").skip(1) {
        assert!(
            tag.trim_start()
                .starts_with("type=\"module\" src=\"/wallet/"),
            "{tag}"
        );
    }
    // The page's config: the issuer, the wallet's name, the unlock time.
    assert!(
        page.contains("&quot;signedBy&quot;:&quot;localhost:1911&quot;"),
        "{page}"
    );
    assert!(page.contains("&quot;unlockMinutes&quot;:15"), "{page}");
}

#[tokio::test]
async fn assets_are_content_hashed_immutable_and_revalidate() {
    let server = TestServer::start("wallet-assets", NOW).await;
    let page = server.get(paths::WALLET).await.text;
    let assets = assets_of(&page);
    assert_eq!(assets.len(), 2, "a script and a stylesheet: {assets:?}");
    for asset in &assets {
        let answer = server.get(asset).await;
        assert_eq!(answer.status, 200, "{asset}");
        assert_eq!(
            answer.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        let etag = answer.header("etag").unwrap().to_owned();
        assert!(
            etag.starts_with('"') && !etag.starts_with("W/"),
            "strong: {etag}"
        );
        let expected = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(answer.header("content-type"), Some(expected));
        let again = get_with(&server, asset, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, 304, "{asset}");
        assert!(again.text.is_empty());
    }
    server
        .get("/wallet/wallet.0000000000000000.js")
        .await
        .assert_error(404, "not_found", "/wallet/wallet.0000000000000000.js");
}

#[tokio::test]
async fn the_sdk_is_public_with_a_strong_etag_and_its_integrity_in_discovery() {
    let server = TestServer::start("wallet-sdk", NOW).await;
    let doc = server.get(paths::OPENID_CONFIGURATION).await.json();
    let issuer = "http://localhost:1911";
    assert_eq!(doc["sigil_wallet_url"], format!("{issuer}/wallet"));
    assert_eq!(doc["sigil_sdk_url"], format!("{issuer}/sdk.js"));
    let mut etags = Vec::new();
    for path in [paths::SDK_JS, paths::SDK_MJS] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
        assert_eq!(
            answer.header("cross-origin-resource-policy"),
            Some("cross-origin")
        );
        assert_eq!(answer.header("cache-control"), Some("public, max-age=300"));
        let etag = answer.header("etag").unwrap().to_owned();
        assert!(etag.starts_with('"'), "strong: {etag}");
        let again = get_with(&server, path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, 304, "{path}");
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let other = get_with(&server, path, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(other.status, 200, "{path}");
        if path == paths::SDK_JS {
            let integrity = format!(
                "sha384-{}",
                STANDARD.encode(digest(&SHA384, answer.text.as_bytes()).as_ref())
            );
            assert_eq!(doc["sigil_sdk_integrity"], integrity.as_str());
            assert!(
                answer.text.starts_with("var sigil="),
                "a classic script defining sigil"
            );
        } else {
            assert!(answer.text.contains("export{"), "an ES module");
        }
        etags.push(etag);
    }
    assert_ne!(etags[0], etags[1]);
}

#[tokio::test]
async fn wallet_false_answers_404_and_discovery_names_nothing_of_it() {
    let dir = fresh_dir("wallet-off");
    let config = Config {
        wallet: false,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    for path in [
        paths::WALLET,
        paths::SDK_JS,
        paths::SDK_MJS,
        "/wallet/wallet.js",
    ] {
        server.get(path).await.assert_error(404, "not_found", path);
    }
    let doc = server.get(paths::OPENID_CONFIGURATION).await.json();
    for absent in ["sigil_wallet_url", "sigil_sdk_url", "sigil_sdk_integrity"] {
        assert!(doc.get(absent).is_none(), "{absent} with wallet = false");
    }
    // The login page, which signs with the wallet, says why it cannot.
    let login = server.get(paths::OAUTH_LOGIN).await;
    assert_eq!(login.status, 200);
    assert!(login.text.contains("wallet = false"), "{}", login.text);
    assert!(
        !login.text.contains("/wallet/"),
        "no asset of a switched-off wallet"
    );
}

#[tokio::test]
async fn wallet_name_and_unlock_minutes_reach_the_page() {
    let dir = fresh_dir("wallet-name");
    let config = Config {
        wallet_name: "My \"wallet\" <x>".into(),
        wallet_unlock_minutes: 5,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let page = server.get(paths::WALLET).await.text;
    assert!(
        page.contains("&quot;signedBy&quot;:&quot;My \\&quot;wallet\\&quot; &lt;x&gt;&quot;"),
        "{page}"
    );
    assert!(page.contains("&quot;unlockMinutes&quot;:5"), "{page}");
}

#[test]
fn wallet_settings_are_validated() {
    for (config, phrase) in [
        (
            Config {
                wallet_unlock_minutes: 0,
                ..Config::default()
            },
            "wallet_unlock_minutes",
        ),
        (
            Config {
                wallet_name: "a\nb".into(),
                ..Config::default()
            },
            "wallet_name",
        ),
    ] {
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains(phrase), "{error}");
    }
    // Switched off, its other settings are not looked at.
    let off = Config {
        wallet: false,
        wallet_unlock_minutes: 0,
        ..Config::default()
    };
    assert!(off.validate().unwrap().wallet.is_none());
}
