//! The browser wallet and its SDK (docs/protocol.md §16): `/wallet`,
//! `/wallet/{asset}`, `/sdk.js` and `/sdk.mjs`, served from the bundles
//! that `web/build.mjs` writes to `web/dist/` and that are embedded here, so
//! the binary needs no Node and no files beside it. The OAuth login page
//! (§17) is built beside the wallet from the same modules and stylesheet;
//! its script and template live here too.

use aws_lc_rs::digest::{self, SHA256, SHA384};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::config::WalletSettings;
use crate::error::ApiError;
use crate::state::AppState;

const SDK_JS: &[u8] = include_bytes!("../../../../web/dist/sdk.js");
const SDK_MJS: &[u8] = include_bytes!("../../../../web/dist/sdk.mjs");
const WALLET_JS: &[u8] = include_bytes!("../../../../web/dist/wallet.js");
const WALLET_CSS: &[u8] = include_bytes!("../../../../web/dist/wallet.css");
const WALLET_HTML: &str = include_str!("../../../../web/dist/wallet.html");
const LOGIN_JS: &[u8] = include_bytes!("../../../../web/dist/login.js");
const LOGIN_HTML: &str = include_str!("../../../../web/dist/login.html");

/// The wallet page's Content-Security-Policy (docs/protocol.md §16).
pub(crate) const WALLET_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// One embedded file with its validator.
#[derive(Debug)]
struct Asset {
    body: Bytes,
    etag: HeaderValue,
    content_type: &'static str,
}

impl Asset {
    fn new(bytes: &'static [u8], content_type: &'static str) -> Self {
        let etag = format!(
            "\"{}\"",
            hex(&digest::digest(&SHA256, bytes).as_ref()[..16])
        );
        Self {
            body: Bytes::from_static(bytes),
            etag: HeaderValue::from_str(&etag).expect("a quoted hex string is a header value"),
            content_type,
        }
    }

    /// `/wallet/<stem>.<first 16 hex digits of its SHA-256>.<extension>`.
    fn hashed_name(&self, stem: &str, extension: &str) -> String {
        let hash = self.etag.to_str().unwrap_or_default().trim_matches('"');
        format!("{stem}.{}.{extension}", &hash[..16])
    }

    /// The file, or 304 when `If-None-Match` names its ETag.
    fn answer(&self, request: &HeaderMap, cache_control: &'static str) -> Response {
        let mut response = if matches(request, &self.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut response = Body::from(self.body.clone()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// RFC 9110 §13.1.2: `If-None-Match` with `*` or a list of (weakly
/// compared) entity tags.
fn matches(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// Escapes `text` for an HTML attribute value in double quotes.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

/// What the wallet serves, prepared once at start-up.
#[derive(Debug)]
pub(crate) struct WalletAssets {
    page: Bytes,
    sdk_js: Asset,
    sdk_mjs: Asset,
    files: Vec<(String, Asset)>,
    integrity: String,
    login_page: String,
    style_url: String,
}

impl WalletAssets {
    /// The page for this issuer and these settings (its config in a
    /// `<meta>` element: no inline script), and the hashed asset names.
    pub(crate) fn new(issuer: &str, settings: &WalletSettings) -> Self {
        let script = Asset::new(WALLET_JS, JAVASCRIPT);
        let style = Asset::new(WALLET_CSS, "text/css; charset=utf-8");
        let login = Asset::new(LOGIN_JS, JAVASCRIPT);
        let script_name = script.hashed_name("wallet", "js");
        let style_name = style.hashed_name("wallet", "css");
        let login_name = login.hashed_name("login", "js");
        let config = serde_json::json!({
            "issuer": issuer,
            "signedBy": settings.name,
            "unlockMinutes": settings.unlock_minutes,
        });
        let config = attribute(&config.to_string());
        let style_url = format!("/wallet/{style_name}");
        let page = WALLET_HTML
            .replace("__SIGIL_WALLET_CONFIG__", &config)
            .replace("__WALLET_JS__", &format!("/wallet/{script_name}"))
            .replace("__WALLET_CSS__", &style_url);
        // The request's own values (challenge, CSRF token, app) are filled
        // in per page by `oauth::pages::login_page`.
        let login_page = LOGIN_HTML
            .replace("__SIGIL_WALLET_CONFIG__", &config)
            .replace("__LOGIN_JS__", &format!("/wallet/{login_name}"))
            .replace("__WALLET_CSS__", &style_url);
        let integrity = format!(
            "sha384-{}",
            STANDARD.encode(digest::digest(&SHA384, SDK_JS).as_ref())
        );
        Self {
            page: Bytes::from(page),
            sdk_js: Asset::new(SDK_JS, JAVASCRIPT),
            sdk_mjs: Asset::new(SDK_MJS, JAVASCRIPT),
            files: vec![
                (script_name, script),
                (style_name, style),
                (login_name, login),
            ],
            integrity,
            login_page,
            style_url,
        }
    }

    /// The login page's template: assets and config in place, the
    /// request's `__NAME__` placeholders still to fill.
    pub(crate) fn login_page(&self) -> &str {
        &self.login_page
    }

    /// The stylesheet's URL, which sigil's other pages share.
    pub(crate) fn style_url(&self) -> &str {
        &self.style_url
    }

    /// `sha384-…` of `/sdk.js`, for `<script integrity>`.
    pub(crate) fn integrity(&self) -> &str {
        &self.integrity
    }
}

fn assets<'a>(state: &'a AppState, uri: &Uri) -> Result<&'a WalletAssets, ApiError> {
    state.wallet().ok_or_else(|| ApiError::NotFound {
        path: uri.path().to_owned(),
    })
}

/// The wallet page.
#[utoipa::path(
    get,
    path = "/wallet",
    tag = "wallet",
    responses(
        (status = 200, description = "The wallet page (HTML): CSP with frame-ancestors 'none', X-Frame-Options: DENY, Referrer-Policy: no-referrer, Cache-Control: no-store, no Cross-Origin-Opener-Policy", content_type = "text/html"),
        (status = 404, description = "wallet = false", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn page(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let assets = assets(&state, &uri)?;
    let mut response = Body::from(assets.page.clone()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, WALLET_CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(response)
}

/// One of the wallet page's scripts and styles.
#[utoipa::path(
    get,
    path = "/wallet/{asset}",
    tag = "wallet",
    params(("asset" = String, Path, description = "a content-hashed file name the page links to")),
    responses(
        (status = 200, description = "Cache-Control: public, max-age=31536000, immutable; strong ETag"),
        (status = 304, description = "If-None-Match names the ETag"),
        (status = 404, description = "no such file, or wallet = false", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn asset(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let assets = assets(&state, &uri)?;
    let (_, asset) = assets
        .files
        .iter()
        .find(|(known, _)| *known == name)
        .ok_or_else(|| ApiError::NotFound {
            path: uri.path().to_owned(),
        })?;
    Ok(asset.answer(&request, "public, max-age=31536000, immutable"))
}

/// `/sdk.js`: the SDK as a classic script defining the global `sigil`.
#[utoipa::path(
    get,
    path = "/sdk.js",
    tag = "wallet",
    responses(
        (status = 200, description = "The SDK as a classic script; Access-Control-Allow-Origin: *, Cross-Origin-Resource-Policy: cross-origin, strong ETag, Cache-Control: public, max-age=300; its sha384 integrity is sigil_sdk_integrity in discovery", content_type = "text/javascript"),
        (status = 304, description = "If-None-Match names the ETag"),
        (status = 404, description = "wallet = false", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn sdk(
    State(state): State<AppState>,
    uri: Uri,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let assets = assets(&state, &uri)?;
    Ok(public_script(&assets.sdk_js, &request))
}

/// `/sdk.mjs`: the SDK as an ES module exporting `wallet` and
/// `SigilWalletError`.
#[utoipa::path(
    get,
    path = "/sdk.mjs",
    tag = "wallet",
    responses(
        (status = 200, description = "The SDK as an ES module; headers as /sdk.js", content_type = "text/javascript"),
        (status = 304, description = "If-None-Match names the ETag"),
        (status = 404, description = "wallet = false", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn sdk_module(
    State(state): State<AppState>,
    uri: Uri,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let assets = assets(&state, &uri)?;
    Ok(public_script(&assets.sdk_mjs, &request))
}

/// An SDK file, loadable from any origin (CORS and CORP open).
fn public_script(asset: &Asset, request: &HeaderMap) -> Response {
    let mut response = asset.answer(request, "public, max-age=300");
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(value));
            matches(&headers, &etag)
        };
        assert!(with("\"abc\""));
        assert!(with("W/\"abc\""));
        assert!(with("\"x\", \"abc\""));
        assert!(with("*"));
        assert!(!with("\"abd\""));
        assert!(!matches(&HeaderMap::new(), &etag));
    }

    #[test]
    fn the_page_carries_its_config_escaped_and_links_hashed_assets() {
        let settings = WalletSettings {
            name: "a\"<b>".into(),
            unlock_minutes: 15,
        };
        let assets = WalletAssets::new("http://localhost:1911", &settings);
        let page = std::str::from_utf8(&assets.page).unwrap_or_default();
        assert!(!page.contains("__"), "every placeholder is filled");
        assert!(page.contains("&quot;signedBy&quot;:&quot;a\\&quot;&lt;b&gt;&quot;"));
        let login = assets.login_page();
        for (name, _) in &assets.files {
            let link = format!("/wallet/{name}");
            assert!(page.contains(&link) || login.contains(&link), "{name}");
        }
        assert!(login.contains(assets.style_url()));
        assert!(login.contains("/wallet/login."), "the login script");
        assert!(!login.contains("__LOGIN_JS__") && !login.contains("__WALLET_CSS__"));
        assert!(!login.contains("__SIGIL_WALLET_CONFIG__"));
        assert!(login.contains("__MESSAGE__"), "left for the request");
        assert!(assets.integrity().starts_with("sha384-"));
        assert_eq!(assets.integrity().len(), "sha384-".len() + 64);
    }
}
