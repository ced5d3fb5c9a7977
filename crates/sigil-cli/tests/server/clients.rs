//! `sigil clients` (docs/protocol.md §17): the real binary adds, lists,
//! shows and removes clients, and a client it added completes a code
//! exchange against a running `sigil serve`.

use std::collections::BTreeMap;

use sigil_core::bsm;
use sigil_core::es256::{Es256SigningKey, generate_pkcs8};
use sigil_oauth::pkce;

use super::support::*;

const REDIRECT: &str = "https://app.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn clients(scratch: &Scratch, args: &[&str]) -> Run {
    let database = scratch.database();
    let mut all = vec!["clients"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database", &database]);
    sigil(scratch, &all)
}

#[test]
fn clients_add_list_show_remove_and_their_refusals() {
    let scratch = Scratch::new("clients");
    // No database yet: refused, not created.
    clients(&scratch, &["list"])
        .assert_code(2, "list without a database")
        .stderr
        .contains("no database")
        .then_some(())
        .expect("names the missing database");
    scratch.create_database();

    let added = clients(
        &scratch,
        &[
            "add",
            "--name",
            "Back office",
            "--redirect-uri",
            REDIRECT,
            "--redirect-uri",
            "http://127.0.0.1/native",
            "--auth",
            "client_secret_basic",
            "--scope",
            "openid profile",
            "--grant-type",
            "refresh_token",
            "--json",
        ],
    )
    .assert_code(0, "add")
    .json();
    let client_id = added["client_id"].as_str().expect("client_id").to_owned();
    let secret = added["client_secret"].as_str().expect("secret").to_owned();
    assert_eq!(client_id.len(), 43, "{added}");
    assert_eq!(secret.len(), 43, "{added}");
    assert_eq!(added["client_name"], "Back office");
    assert_eq!(
        added["redirect_uris"],
        json!([REDIRECT, "http://127.0.0.1/native"])
    );
    assert_eq!(added["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        added["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(added["scope"], "openid profile");

    let pubkey = keygen(&scratch).pubkey;
    let native = clients(
        &scratch,
        &[
            "add",
            "--name",
            "Native",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--auth",
            "bitcoin_auth_token",
            "--pubkey",
            &pubkey,
            "--client-id",
            "native-app",
            "--json",
        ],
    )
    .assert_code(0, "add bitcoin_auth_token")
    .json();
    assert_eq!(native["bitcoin_pubkey"], pubkey.as_str());
    assert!(native.get("client_secret").is_none(), "{native}");

    // list and show never show the secret.
    let list = clients(&scratch, &["list", "--json"])
        .assert_code(0, "list")
        .json();
    let ids: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|c| c["client_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [client_id.as_str(), "native-app"]);
    let table = clients(&scratch, &["list"])
        .assert_code(0, "list")
        .stdout
        .clone();
    let show = clients(&scratch, &["show", &client_id])
        .assert_code(0, "show")
        .stdout
        .clone();
    let show_json = clients(&scratch, &["show", &client_id, "--json"])
        .assert_code(0, "show")
        .json();
    assert_eq!(show_json["client_name"], "Back office");
    assert!(show.contains("client_secret_basic") && table.contains("Back office"));
    for text in [list.to_string(), table, show, show_json.to_string()] {
        assert!(!text.contains(&secret), "a secret shown again: {text}");
        assert!(!text.contains("secret_hash"), "{text}");
    }
    // Stored hashed: the database holds no trace of the secret itself.
    for file in ["sigil.db", "sigil.db-wal"] {
        if let Ok(bytes) = std::fs::read(scratch.dir.join(file)) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{file} holds the secret"
            );
        }
    }

    // Refusals: exit 2, naming what was wrong.
    for (args, phrase) in [
        (
            vec![
                "add",
                "--name",
                "x",
                "--redirect-uri",
                "http://app.example/cb",
            ],
            "must use https",
        ),
        (
            vec![
                "add",
                "--name",
                "x",
                "--redirect-uri",
                "https://app.example",
            ],
            "https://app.example/",
        ),
        (
            vec![
                "add",
                "--name",
                "x",
                "--redirect-uri",
                REDIRECT,
                "--client-id",
                "native-app",
            ],
            "exists already",
        ),
        (
            vec![
                "add",
                "--name",
                "x",
                "--redirect-uri",
                REDIRECT,
                "--client-id",
                "a b",
            ],
            "--client-id",
        ),
        (
            vec![
                "add",
                "--name",
                "x",
                "--redirect-uri",
                REDIRECT,
                "--scope",
                "email",
            ],
            "unknown scope \"email\"",
        ),
        (
            vec![
                "add",
                "--name",
                "x",
                "--redirect-uri",
                REDIRECT,
                "--auth",
                "bitcoin_auth_token",
                "--pubkey",
                &keygen(&scratch).address,
            ],
            "is an address",
        ),
        (
            vec![
                "add",
                "--name",
                "x",
                "--redirect-uri",
                REDIRECT,
                "--pubkey",
                &pubkey,
            ],
            "--pubkey is for --auth bitcoin_auth_token",
        ),
        (vec!["show", "nobody"], "no client nobody"),
        (vec!["remove", "nobody"], "no client nobody"),
    ] {
        let run = clients(&scratch, &args);
        run.assert_code(2, &args.join(" "));
        assert!(run.stderr.contains(phrase), "{args:?}: {}", run.describe());
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.describe());
    }
    // Without --jwks, private_key_jwt is a usage error of clap's.
    clients(
        &scratch,
        &[
            "add",
            "--name",
            "x",
            "--redirect-uri",
            REDIRECT,
            "--auth",
            "private_key_jwt",
        ],
    )
    .assert_code(2, "private_key_jwt without --jwks");

    let removed = clients(&scratch, &["remove", "native-app", "--json"])
        .assert_code(0, "remove")
        .json();
    assert_eq!(removed["removed"], true);
    let left = clients(&scratch, &["list", "--json"])
        .assert_code(0, "list")
        .json();
    assert_eq!(left.as_array().map(Vec::len), Some(1), "{left}");
}

// ------------------------------------------------------------ the browser --

/// A browser over [`http`]: keeps cookies, follows no redirect.
struct Browser<'a> {
    server: &'a Server,
    cookies: BTreeMap<String, String>,
}

impl Browser<'_> {
    fn request(&mut self, method: &str, target: &str, form: Option<&str>) -> Response {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = vec![("Cookie", cookie.as_str())];
        if form.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        let response = self
            .server
            .request(method, target, &headers, form.map(str::as_bytes));
        for (name, value) in &response.headers {
            if name.eq_ignore_ascii_case("set-cookie")
                && let Some((k, v)) = value.split(';').next().and_then(|p| p.split_once('='))
            {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        response
    }

    /// The `Location` of a 303.
    fn see_other(&self, response: &Response) -> String {
        assert_eq!(
            response.status,
            303,
            "{}\nserver stderr:\n{}",
            response.text(),
            self.server.stderr()
        );
        response.header("location").expect("Location").to_owned()
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').expect("closing quote");
    html[start..end]
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
}

/// Authorize for `client_id`, signing in with `person` when asked and
/// allowing on the consent page: the code of the redirect.
fn code_for(browser: &mut Browser<'_>, client_id: &str, person: &Key) -> String {
    let challenge = pkce::challenge_of(VERIFIER);
    let authorize = format!(
        "/oauth2/authorize?{}",
        form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile"),
            ("state", "s1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    let mut answer = browser.request("GET", &authorize, None);
    if answer.status == 303 {
        let login = browser.see_other(&answer);
        assert!(login.starts_with("/oauth2/login"), "{login}");
        let page = browser.request("GET", &login, None);
        assert_eq!(page.status, 200, "{}", page.text());
        let html = page.text();
        let message = hidden(&html, "message");
        let signature = STANDARD.encode(bsm::sign(message.as_bytes(), &person.private).to_bytes());
        let signed = browser.request(
            "POST",
            "/oauth2/login",
            Some(&form(&[
                ("message", &message),
                ("signature", &signature),
                ("csrf_token", &hidden(&html, "csrf_token")),
                ("return_to", &hidden(&html, "return_to")),
            ])),
        );
        let back = browser.see_other(&signed);
        answer = browser.request("GET", &back, None);
    }
    assert_eq!(answer.status, 200, "the consent page: {}", answer.text());
    let html = answer.text();
    assert!(html.contains("Back office"), "{html}");
    let allowed = browser.request(
        "POST",
        "/oauth2/consent",
        Some(&form(&[
            ("csrf_token", &hidden(&html, "csrf_token")),
            ("request", &hidden(&html, "request")),
            ("decision", "allow"),
        ])),
    );
    let redirect = url::Url::parse(&browser.see_other(&allowed)).expect("a URL");
    assert!(redirect.as_str().starts_with(REDIRECT), "{redirect}");
    let query: BTreeMap<String, String> = redirect.query_pairs().into_owned().collect();
    assert_eq!(
        query.get("state").map(String::as_str),
        Some("s1"),
        "{redirect}"
    );
    query.get("code").expect("a code").clone()
}

fn token_post(server: &Server, headers: &[(&str, &str)], pairs: &[(&str, &str)]) -> Response {
    let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    server.request("POST", "/oauth2/token", &all, Some(form(pairs).as_bytes()))
}

#[test]
fn a_client_added_by_the_cli_completes_a_code_exchange() {
    let scratch = Scratch::new("clients-exchange");
    scratch.create_database();
    let added = clients(
        &scratch,
        &[
            "add",
            "--name",
            "Back office",
            "--redirect-uri",
            REDIRECT,
            "--auth",
            "client_secret_basic",
            "--grant-type",
            "refresh_token",
            "--json",
        ],
    )
    .assert_code(0, "add")
    .json();
    let client_id = added["client_id"].as_str().expect("id").to_owned();
    let secret = added["client_secret"].as_str().expect("secret").to_owned();
    // A private_key_jwt client from one JWK without a kid (the CLI names
    // it by its thumbprint).
    let signing = Es256SigningKey::from_pkcs8(&generate_pkcs8(&[5; 32]).unwrap()).unwrap();
    let mut jwk = serde_json::to_value(signing.public_jwk()).unwrap();
    jwk.as_object_mut().unwrap().remove("kid");
    let jwk_path = scratch.dir.join("app.jwk");
    std::fs::write(&jwk_path, jwk.to_string()).unwrap();
    clients(
        &scratch,
        &[
            "add",
            "--name",
            "Back office",
            "--redirect-uri",
            REDIRECT,
            "--auth",
            "private_key_jwt",
            "--jwks",
            jwk_path.to_str().unwrap(),
            "--client-id",
            "jwt-app",
        ],
    )
    .assert_code(0, "add private_key_jwt");

    let server = Server::start(&scratch, &Options::default());
    let person = keygen(&scratch);
    let mut browser = Browser {
        server: &server,
        cookies: BTreeMap::new(),
    };
    let code = code_for(&mut browser, &client_id, &person);
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let basic =
        |secret: &str| format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}")));
    let wrong = token_post(&server, &[("Authorization", &basic("guess"))], &exchange);
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    assert_eq!(wrong.json()["error"], "invalid_client");
    let tokens = token_post(&server, &[("Authorization", &basic(&secret))], &exchange);
    assert_eq!(tokens.status, 200, "{}\n{}", tokens.text(), server.stderr());
    let tokens = tokens.json();
    let access = tokens["access_token"].as_str().expect("access_token");
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
    assert_eq!(
        jwt_part(tokens["id_token"].as_str().unwrap(), 1)["aud"],
        client_id.as_str()
    );
    let me = server.get_bearer("/userinfo", access);
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["sub"], person.pubkey.as_str());

    // The private_key_jwt client: an ES256 assertion by its key.
    let code = code_for(&mut browser, "jwt-app", &person);
    let kid = signing.verifying_key().thumbprint();
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": kid}).to_string());
    let claims = URL_SAFE_NO_PAD.encode(
        json!({
            "iss": "jwt-app", "sub": "jwt-app", "aud": server.base,
            "exp": now_ms() / 1000 + 60, "jti": "cli-test-1",
        })
        .to_string(),
    );
    let input = format!("{header}.{claims}");
    let assertion = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signing.sign(input.as_bytes()).unwrap())
    );
    let jwt_tokens = token_post(
        &server,
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ],
    );
    assert_eq!(jwt_tokens.status, 200, "{}", jwt_tokens.text());

    // Removing the client ends what it was issued.
    clients(&scratch, &["remove", &client_id]).assert_code(0, "remove");
    let me = server.get_bearer("/userinfo", access);
    assert_eq!(me.status, 401, "{}", me.text());
    let refreshed = token_post(
        &server,
        &[("Authorization", &basic(&secret))],
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    );
    assert_eq!(refreshed.status, 401, "{}", refreshed.text());
    assert_eq!(refreshed.json()["error"], "invalid_client");
}
