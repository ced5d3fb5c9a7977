//! The provider's pages on sigil's origin: error, login, consent and
//! account. The login page is the wallet's (web/src/login.html and
//! login.js: the key is unlocked and signs in the browser); the others are
//! plain HTML here with real labels and button names. All share the
//! wallet's stylesheet and the wallet page's headers (its CSP, with
//! `frame-ancestors 'none'`; `X-Frame-Options: DENY`; `no-store`).

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sigil_core::api::paths;
use sigil_oauth::Scopes;

use crate::handlers::wallet::WALLET_CSP;
use crate::middleware::OwnBody;
use crate::state::AppState;

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

/// Said instead of a page when the wallet, which the pages need, is off.
const WALLET_OFF: &str = "<h1>Signing in is not available</h1>\
    <p>Signing in with sigil uses its browser wallet, which this server has switched off \
    (<code>wallet = false</code>). Tell the server's operator.</p>";

/// A page: `status`, a title, the body's HTML, in the wallet's look;
/// `form_origin` is added to the CSP's `form-action` (the consent page's
/// redirect target).
pub(crate) fn page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    body: &str,
    form_origin: Option<&str>,
) -> Response {
    let style = state.wallet().map_or_else(String::new, |assets| {
        format!(
            "<link rel=\"stylesheet\" href=\"{}\">",
            esc(assets.style_url())
        )
    });
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · sigil</title><link rel=\"icon\" href=\"data:,\">{style}</head><body>\
         <header class=\"bar\"><span class=\"brand\" aria-label=\"sigil\"><span class=\"mark\" aria-hidden=\"true\"></span>sigil</span></header>\
         <main>{body}</main></body></html>",
        esc(title)
    );
    with_headers(status, html, form_origin)
}

/// `html` with the wallet page's headers; `form_origin` added to the CSP's
/// `form-action`.
fn with_headers(status: StatusCode, html: String, form_origin: Option<&str>) -> Response {
    let csp = match form_origin {
        Some(origin) if !origin.is_empty() => WALLET_CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        ),
        _ => WALLET_CSP.to_owned(),
    };
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
pub(crate) fn error_page(state: &AppState, error: &sigil_oauth::OAuthError) -> Response {
    let body = format!(
        "<h1>This sign-in link cannot be used</h1><p class=\"alert notice\">{}</p>\
         <p class=\"muted\">Error: <code>{}</code>. Nothing was sent to the app. Go back to the app and start again, or tell its developers.</p>",
        esc(&error.error_description),
        error.error.as_str()
    );
    page(state, StatusCode::BAD_REQUEST, "Sign-in error", &body, None)
}

/// What the login page shows and posts back.
pub(crate) struct Login<'a> {
    /// The challenge to sign.
    pub(crate) message: &'a str,
    /// The login form's CSRF token.
    pub(crate) csrf: &'a str,
    /// Where the browser goes once signed in.
    pub(crate) return_to: &'a str,
    /// The app asking, `(client name, redirect host)`, when `return_to` is
    /// a valid authorization request; `None` for the account page.
    pub(crate) asking: Option<(&'a str, &'a str)>,
}

/// Fills the `__NAME__` placeholders of `template` in one pass (a value
/// is never read as a placeholder), each value HTML-escaped.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(start) = rest.find("__") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let known = after.find("__").and_then(|end| {
            values
                .iter()
                .find(|(name, _)| *name == &after[..end])
                .map(|(_, value)| (end, value))
        });
        match known {
            Some((end, value)) => {
                out.push_str(&esc(value));
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("__");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The login page: the wallet's screens (create, import, back up, unlock)
/// and the form that posts the signed challenge; without JavaScript it
/// says that it needs it.
pub(crate) fn login_page(state: &AppState, login: &Login<'_>) -> Response {
    let Some(assets) = state.wallet() else {
        return page(state, StatusCode::OK, "Sign in", WALLET_OFF, None);
    };
    let (asking, name, host) = match login.asking {
        Some((name, host)) => ("app", name, host),
        None => ("account", "", ""),
    };
    let html = fill(
        assets.login_page(),
        &[
            ("ASKING", asking),
            ("CLIENT_NAME", name),
            ("REDIRECT_HOST", host),
            ("ACTION", paths::OAUTH_LOGIN),
            ("MESSAGE", login.message),
            ("CSRF", login.csrf),
            ("RETURN_TO", login.return_to),
        ],
    );
    with_headers(StatusCode::OK, html, None)
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
/// words; Deny and Allow.
pub(crate) fn consent_page(state: &AppState, consent: &Consent<'_>) -> Response {
    let mut scopes = String::new();
    for scope in consent.scopes.iter() {
        let _ = write!(scopes, "<li>{}</li>", esc(scope.describe()));
    }
    let body = format!(
        "<h1 id=\"consent-heading\">{name} wants to sign you in</h1>\
         <div class=\"who card\"><p class=\"muted\">The app</p><p class=\"app-name big\">{name}</p>\
         <p class=\"muted\">will be able to:</p><ul class=\"permissions\">{scopes}</ul>\
         <p class=\"muted\">Afterwards you are sent back to</p><p class=\"origin big\">{host}</p>\
         <p class=\"muted\">Signed in as <span class=\"mono\">{address}</span></p></div>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\
         <button type=\"submit\" name=\"decision\" value=\"allow\" class=\"primary\">Allow</button></div></form>\
         <p class=\"hint\">You can revoke this at any time on <a href=\"{account}\">your account page</a>.</p>",
        name = esc(consent.client_name),
        address = esc(consent.address),
        host = esc(consent.redirect_host),
        action = paths::OAUTH_CONSENT,
        account = paths::ACCOUNT,
        csrf = esc(consent.csrf),
        request = esc(consent.request),
    );
    page(
        state,
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

/// The scopes of a stored consent in words.
fn scope_words(scopes: &str) -> String {
    Scopes::parse(Some(scopes)).map_or_else(
        |_| scopes.to_owned(),
        |parsed| {
            parsed
                .iter()
                .map(|scope| scope.describe())
                .collect::<Vec<_>>()
                .join("; ")
        },
    )
}

/// The account page: the apps with access, each with Revoke; Sign out.
pub(crate) fn account_page(state: &AppState, address: &str, apps: &[App], csrf: &str) -> Response {
    let mut list = String::new();
    for app in apps {
        let _ = write!(
            list,
            "<li class=\"site\"><div><span class=\"app-name\">{name}</span><span class=\"muted\">{scopes}</span></div>\
             <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"client_id\" value=\"{id}\">\
             <button type=\"submit\" class=\"secondary\" aria-label=\"Revoke {name}\">Revoke</button></form></li>",
            name = esc(&app.client_name),
            scopes = esc(&scope_words(&app.scopes)),
            id = esc(&app.client_id),
            csrf = esc(csrf),
            action = paths::ACCOUNT_REVOKE,
        );
    }
    let list = if apps.is_empty() {
        "<p class=\"muted\">No app has access.</p>".to_owned()
    } else {
        format!("<ul class=\"sites\">{list}</ul>")
    };
    let body = format!(
        "<h1>Your account</h1><div class=\"card\"><p class=\"muted\">Signed in as</p>\
         <p class=\"mono address\">{address}</p></div>\
         <h2>Apps with access</h2>{list}\
         <form method=\"post\" action=\"{signout}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <div class=\"actions\"><button type=\"submit\" class=\"secondary\">Sign out</button></div></form>\
         <p class=\"hint\">Your key itself is managed in <a href=\"{wallet}\">the wallet</a>.</p>",
        address = esc(address),
        signout = paths::ACCOUNT_SIGN_OUT,
        wallet = paths::WALLET,
        csrf = esc(csrf),
    );
    page(state, StatusCode::OK, "Your account", &body, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_each_placeholder_once_escaped_and_never_reads_a_value_as_one() {
        let cases = [
            ("plain", "<b>__A__</b>", "<b>x&lt;y&quot;</b>"),
            ("twice", "__A__|__A__", "x&lt;y&quot;|x&lt;y&quot;"),
            (
                "a value naming a placeholder",
                "__B__ __A__",
                "__A__ x&lt;y&quot;",
            ),
            ("unknown kept", "__C__ __A__", "__C__ x&lt;y&quot;"),
            ("lone underscores", "a__b __ c_", "a__b __ c_"),
            ("at the end", "end __A__", "end x&lt;y&quot;"),
            ("side by side", "__A____B__", "x&lt;y&quot;__A__"),
        ];
        for (name, template, want) in cases {
            assert_eq!(
                fill(template, &[("A", "x<y\""), ("B", "__A__")]),
                want,
                "{name}"
            );
        }
    }
}
