//! The provider's pages on sigil's origin: error, login, consent and
//! account. Plain HTML with real labels and button names, one small
//! stylesheet allowed by its hash, and the wallet page's headers (CSP with
//! `frame-ancestors 'none'`, `X-Frame-Options: DENY`, `no-store`).

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sigil_oauth::Scopes;

use crate::middleware::OwnBody;

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#1c1c1c}\
main{max-width:32rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4rem;margin-top:0}code,pre{font-size:.85rem;word-break:break-all;white-space:pre-wrap}\
button{font:inherit;padding:.6rem 1.2rem;border-radius:8px;border:1px solid #444;background:#1c1c1c;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#1c1c1c}label{display:block;margin:.8rem 0 .3rem}\
textarea{width:100%;box-sizing:border-box;font:inherit}ul{padding-left:1.2rem}\
.row{display:flex;gap:.8rem;flex-wrap:wrap;margin-top:1.2rem}.muted{color:#555}\
li form{display:inline}@media(max-width:36rem){main{margin:0;border-radius:0}}";

fn style_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let digest = sigil_core::hash::sha256(STYLE.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    })
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page: `status`, a title, the body's HTML; `form_origin` is added to
/// the CSP's `form-action` (the consent page's redirect target).
pub(crate) fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    form_origin: Option<&str>,
) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · sigil</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        esc(title)
    );
    let form_action = match form_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src {}; img-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'",
        style_hash()
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    super::no_store(headers);
    response.extensions_mut().insert(OwnBody);
    response
}

/// The error page of an authorization request that cannot be redirected.
pub(crate) fn error_page(error: &sigil_oauth::OAuthError) -> Response {
    let body = format!(
        "<h1>This sign-in link cannot be used</h1><p>{}</p>\
         <p class=\"muted\">Error: <code>{}</code>. Nothing was sent to the app. Go back to the app and start again, or tell its developers.</p>",
        esc(&error.error_description),
        error.error.as_str()
    );
    page(StatusCode::BAD_REQUEST, "Sign-in error", &body, None)
}

/// The login page: the challenge to sign, and the form that sends the
/// signature.
pub(crate) fn login_page(message: &str, csrf: &str, return_to: &str, action: &str) -> Response {
    let body = format!(
        "<h1>Sign in with your Bitcoin key</h1>\
         <p>Your wallet signs this one-time challenge. Nothing is paid and no key leaves your browser.</p>\
         <pre id=\"challenge\">{msg}</pre>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"message\" value=\"{msg}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"return_to\" value=\"{ret}\">\
         <label for=\"signature\">Signature (base64 BSM)</label>\
         <textarea id=\"signature\" name=\"signature\" rows=\"3\" required></textarea>\
         <div class=\"row\"><button type=\"submit\">Sign in</button></div></form>",
        msg = esc(message),
        csrf = esc(csrf),
        ret = esc(return_to),
        action = esc(action),
    );
    page(StatusCode::OK, "Sign in", &body, None)
}

/// What the consent page shows and posts back.
pub(crate) struct Consent<'a> {
    pub(crate) client_name: &'a str,
    pub(crate) redirect_host: &'a str,
    pub(crate) redirect_origin: &'a str,
    pub(crate) scopes: &'a Scopes,
    pub(crate) address: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) request: &'a str,
}

/// The consent page: the client, where it sends you back, each scope in
/// words; Allow and Deny.
pub(crate) fn consent_page(consent: &Consent<'_>) -> Response {
    let mut scopes = String::new();
    for scope in consent.scopes.iter() {
        let _ = write!(scopes, "<li>{}</li>", esc(scope.describe()));
    }
    let body = format!(
        "<h1>{name} wants to sign you in</h1>\
         <p>Signed in as <code>{address}</code>.</p>\
         <p>{name} will be able to:</p><ul>{scopes}</ul>\
         <p class=\"muted\">Afterwards you will be sent back to <strong>{host}</strong>. You can revoke this at any time on your account page.</p>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <div class=\"row\"><button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></div></form>",
        name = esc(consent.client_name),
        address = esc(consent.address),
        host = esc(consent.redirect_host),
        action = sigil_core::api::paths::OAUTH_CONSENT,
        csrf = esc(consent.csrf),
        request = esc(consent.request),
    );
    page(
        StatusCode::OK,
        "Allow access",
        &body,
        Some(consent.redirect_origin),
    )
}

/// One app on the account page.
pub(crate) struct App {
    pub(crate) client_id: String,
    pub(crate) client_name: String,
    pub(crate) scopes: String,
}

/// The account page: the apps with access, each with Revoke; Sign out.
pub(crate) fn account_page(address: &str, apps: &[App], csrf: &str) -> Response {
    use sigil_core::api::paths;
    let mut list = String::new();
    for app in apps {
        let _ = write!(
            list,
            "<li><strong>{name}</strong> <span class=\"muted\">({scopes})</span> \
             <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"client_id\" value=\"{id}\">\
             <button type=\"submit\" class=\"secondary\" aria-label=\"Revoke {name}\">Revoke</button></form></li>",
            name = esc(&app.client_name),
            scopes = esc(&app.scopes),
            id = esc(&app.client_id),
            csrf = esc(csrf),
            action = paths::ACCOUNT_REVOKE,
        );
    }
    if apps.is_empty() {
        list.push_str("<li class=\"muted\">No app has access.</li>");
    }
    let body = format!(
        "<h1>Your account</h1><p>Signed in as <code>{address}</code>.</p>\
         <h2>Apps with access</h2><ul>{list}</ul>\
         <form method=\"post\" action=\"{signout}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <div class=\"row\"><button type=\"submit\">Sign out</button></div></form>",
        address = esc(address),
        signout = paths::ACCOUNT_SIGN_OUT,
        csrf = esc(csrf),
    );
    page(StatusCode::OK, "Your account", &body, None)
}
