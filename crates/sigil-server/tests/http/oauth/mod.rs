#![allow(unreachable_pub, dead_code)] // test helpers of one test binary
//! The OAuth / OpenID Connect provider (docs/protocol.md §17) over real
//! HTTP: a browser (cookies kept by hand, redirects not followed) signs in
//! with a key signed in Rust, consents, and a client exchanges the code.

mod flow;
mod instances;
mod refusals;

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;
use sigil_core::PrivateKey;
use sigil_oauth::client::{AuthMethod, GrantType, RegisteredClient, SecretHash};
use sigil_oauth::pkce;
use sigil_store::ClientRecord;

use super::support::{Answer, TestServer, base64, key};

pub const NOW: u64 = 1_795_000_000_000;

pub const REDIRECT: &str = "https://app.example/cb";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const SECRET: &str = "the-client-secret-of-the-tests-0123456789ab";

/// A registered client with `method`, allowed to refresh.
pub async fn add_client(server: &TestServer, id: &str, method: AuthMethod) -> RegisteredClient {
    add_client_with(server, id, method, |_| {}).await
}

pub async fn add_client_with(
    server: &TestServer,
    id: &str,
    method: AuthMethod,
    edit: impl FnOnce(&mut RegisteredClient),
) -> RegisteredClient {
    let mut client = RegisteredClient {
        client_id: id.into(),
        client_name: format!("App {id}"),
        redirect_uris: vec![REDIRECT.into(), "http://127.0.0.1/native".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        auth_method: method,
        secret_hash: method.uses_secret().then(|| SecretHash::of(SECRET)),
        jwks: None,
        bitcoin_pubkey: None,
        scope: None,
    };
    edit(&mut client);
    server
        .state
        .store()
        .oauth()
        .add_client(ClientRecord {
            client_id: id.into(),
            document: serde_json::to_string(&client).unwrap(),
            created_at_ms: NOW,
        })
        .await
        .unwrap();
    client
}

/// A browser: keeps its cookies, follows no redirect.
pub struct Browser<'a> {
    pub server: &'a TestServer,
    client: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a TestServer) -> Self {
        Self {
            server,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// The same browser, its cookies copied, talking to `server`: another
    /// instance behind the same issuer.
    pub fn at<'b>(&self, server: &'b TestServer) -> Browser<'b> {
        Browser {
            server,
            client: self.client.clone(),
            cookies: Mutex::new(self.cookies.lock().unwrap().clone()),
        }
    }

    pub fn cookie_header(&self) -> String {
        let cookies = self.cookies.lock().unwrap();
        cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&self, answer: &Answer) {
        let mut cookies = self.cookies.lock().unwrap();
        for value in answer.headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                cookies.remove(name);
            } else {
                cookies.insert(name.into(), value.into());
            }
        }
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.lock().unwrap().contains_key(name)
    }

    pub async fn get(&self, path: &str) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.server.url(path)
        };
        let request = self.client.get(url).header("cookie", self.cookie_header());
        let answer = Answer::read(request.send().await.unwrap()).await;
        self.keep(&answer);
        answer
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let request = self
            .client
            .post(self.server.url(path))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(form));
        let answer = Answer::read(request.send().await.unwrap()).await;
        self.keep(&answer);
        answer
    }
}

pub fn encode(form: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        out.append_pair(k, v);
    }
    out.finish()
}

/// The value of the hidden input `name` of a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `Location`, whose path (or URL) is asserted to start with `prefix`.
pub fn location<'x>(answer: &'x Answer, prefix: &str) -> &'x str {
    assert_eq!(answer.status, 303, "{}", answer.text);
    let location = answer.header("location").unwrap();
    assert!(location.starts_with(prefix), "{location}");
    location
}

/// The query parameters of a URL.
pub fn params(url: &str) -> BTreeMap<String, String> {
    let parsed = url::Url::parse(url).unwrap();
    parsed.query_pairs().into_owned().collect()
}

/// An authorization request's query for `client_id`, with `extra`.
pub fn authorize_query(client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = pkce::challenge_of(VERIFIER);
    let mut form = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        form.retain(|(name, _)| name != k);
        if !v.is_empty() {
            form.push((k, v));
        }
    }
    format!("/oauth2/authorize?{}", encode(&form))
}

/// Signs the login page's challenge with `signer` and posts it: the
/// answer of the post.
pub async fn sign_in(browser: &Browser<'_>, login_path: &str, signer: &PrivateKey) -> Answer {
    let page = browser.get(login_path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let message = hidden(&page.text, "message");
    let signature = base64(&sigil_core::bsm::sign(message.as_bytes(), signer).to_bytes());
    browser
        .post_form(
            "/oauth2/login",
            &[
                ("message", &message),
                ("signature", &signature),
                ("csrf_token", &hidden(&page.text, "csrf_token")),
                ("return_to", &hidden(&page.text, "return_to")),
            ],
        )
        .await
}

/// The whole browser side for `client_id`: authorize, sign in with key
/// 1 (unless signed in), allow (unless remembered); the redirect's
/// parameters (code, state, iss).
pub async fn browser_code(
    browser: &Browser<'_>,
    client_id: &str,
    extra: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let first = browser.get(&authorize_query(client_id, extra)).await;
    if first
        .header("location")
        .is_some_and(|l| l.starts_with(REDIRECT))
    {
        return params(location(&first, REDIRECT));
    }
    let to_login = first
        .header("location")
        .is_some_and(|l| l.starts_with("/oauth2/login"));
    let mut answer = if to_login {
        let signed = sign_in(browser, first.header("location").unwrap(), &key(1)).await;
        let back = location(&signed, "/oauth2/authorize").to_owned();
        browser.get(&back).await
    } else {
        first
    };
    if answer.status == 200 {
        // The consent page.
        answer = browser
            .post_form(
                "/oauth2/consent",
                &[
                    ("csrf_token", &hidden(&answer.text, "csrf_token")),
                    ("request", &hidden(&answer.text, "request")),
                    ("decision", "allow"),
                ],
            )
            .await;
    }
    params(location(&answer, REDIRECT))
}

/// POSTs a token (or revocation) request with extra headers.
pub async fn post_form(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> Answer {
    server
        .post_to(
            path,
            Some("application/x-www-form-urlencoded"),
            headers,
            &encode(form),
        )
        .await
}

/// Exchanges `code` for a public client.
pub async fn exchange(server: &TestServer, client_id: &str, code: &str) -> Answer {
    post_form(
        server,
        "/oauth2/token",
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ],
    )
    .await
}

/// Refreshes for a public client.
pub async fn refresh(server: &TestServer, client_id: &str, token: &str) -> Answer {
    post_form(
        server,
        "/oauth2/token",
        &[],
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client_id),
        ],
    )
    .await
}

/// `GET /userinfo` with `token`: the status.
pub async fn userinfo_status(server: &TestServer, token: &str) -> u16 {
    server
        .client
        .get(server.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub fn field(answer: &Answer, name: &str) -> String {
    answer.json()[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {}", answer.text))
        .to_owned()
}

/// An OAuth error body: this status, this code, nothing issued.
pub fn assert_oauth_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    let body: Value = answer.json();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].as_str().is_some(), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "nothing issued: {body}");
}
