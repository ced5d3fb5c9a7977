//! The OAuth provider on three instances sharing one PostgreSQL schema
//! (docs/protocol.md §12, §17; `sigil_testkit::PostgresSchema`, dropped
//! afterwards): a code sent to all three at once is redeemed at most once,
//! and nothing its first use issued works after the reuse, at any
//! instance; a refresh token presented to all three at once rotates once;
//! a person signs in at one instance, consents at another and the code is
//! exchanged at the third (no sticky sessions).

use std::sync::Arc;

use sigil_oauth::client::AuthMethod;
use sigil_server::Config;
use sigil_testkit::PostgresSchema;
use tokio::sync::Barrier;

use super::super::support::{config_in, fresh_dir};
use super::*;

/// Requests of one kind released together, spread over the instances.
const RACERS: usize = 12;

/// Three in-process servers on `schema`, one issuer (the default).
async fn instances(schema: &PostgresSchema, name: &str) -> Vec<Arc<TestServer>> {
    let mut servers = Vec::new();
    for i in 0..3 {
        let dir = fresh_dir(&format!("{name}-{i}"));
        let config = Config {
            database: schema.url(),
            ..config_in(&dir)
        };
        servers.push(Arc::new(TestServer::start_with(config, dir, NOW).await));
    }
    servers
}

/// `send(server)` on `racers` tasks over the instances, released
/// together; the answers.
async fn race<F, Fut>(servers: &[Arc<TestServer>], racers: usize, send: F) -> Vec<Answer>
where
    F: Fn(Arc<TestServer>) -> Fut,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|i| {
            let (barrier, work) = (barrier.clone(), send(servers[i % servers.len()].clone()));
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// The 200s among `answers` (at most one); every other is 400
/// `invalid_grant`.
fn at_most_one_winner(answers: Vec<Answer>, what: &str) -> Option<Answer> {
    let (won, lost): (Vec<_>, Vec<_>) = answers.into_iter().partition(|a| a.status == 200);
    for answer in &lost {
        assert_oauth_error(answer, 400, "invalid_grant");
    }
    assert!(won.len() <= 1, "{what}: {} winners", won.len());
    won.into_iter().next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oauth_codes_and_refresh_tokens_are_used_once_across_instances() {
    let schema = PostgresSchema::create("oauth_instances");
    let servers = instances(&schema, "oauth-instances").await;
    add_client(&servers[0], "app", AuthMethod::None).await;
    let browser = Browser::new(&servers[0]);

    // One code at two instances at once (the client and a thief of the
    // code), and at all three a dozen times, round after round: what the
    // first use issued never keeps working. It may answer before a reuse
    // revokes its grant (then its tokens stop working) or after (then it
    // issues nothing).
    for round in 0..16 {
        let code = browser_code(&browser, "app", &[]).await["code"].clone();
        let racers = if round % 2 == 0 { 2 } else { RACERS };
        let answers = race(&servers, racers, |server| {
            let code = code.clone();
            async move { exchange(&server, "app", &code).await }
        })
        .await;
        let Some(first) = at_most_one_winner(answers, "one code") else {
            continue;
        };
        let access = field(&first, "access_token");
        for server in &servers {
            assert_eq!(
                userinfo_status(server, &access).await,
                401,
                "round {round}: the first use's token at {}",
                server.base
            );
        }
        assert_oauth_error(
            &refresh(&servers[1], "app", &field(&first, "refresh_token")).await,
            400,
            "invalid_grant",
        );
    }

    // A fresh grant (consent is remembered: no page), redeemed once; its
    // refresh token at all three at once: one rotation.
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    let tokens = exchange(&servers[2], "app", &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = field(&tokens, "access_token");
    for server in &servers {
        assert_eq!(
            userinfo_status(server, &access).await,
            200,
            "{}",
            server.base
        );
    }
    let refresh_token = field(&tokens, "refresh_token");
    let answers = race(&servers, RACERS, |server| {
        let token = refresh_token.clone();
        async move { refresh(&server, "app", &token).await }
    })
    .await;
    let rotated = at_most_one_winner(answers, "one refresh token");
    assert!(rotated.is_some(), "a compare-and-swap has one winner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oauth_sign_in_consent_and_exchange_each_at_another_instance() {
    let schema = PostgresSchema::create("oauth_hops");
    let servers = instances(&schema, "oauth-hops").await;
    add_client(&servers[0], "app", AuthMethod::None).await;

    // Instance 0: the authorize request sends the person to sign in.
    let at_first = Browser::new(&servers[0]);
    let asked = at_first.get(&authorize_query("app", &[])).await;
    let login = location(&asked, "/oauth2/login").to_owned();
    let signed = sign_in(&at_first, &login, &key(1)).await;
    let back = location(&signed, "/oauth2/authorize").to_owned();

    // Instance 1 knows the session and shows the consent; its CSRF token
    // and the request it signs are accepted there.
    let at_second = at_first.at(&servers[1]);
    let consent = at_second.get(&back).await;
    assert_eq!(consent.status, 200, "the consent page: {}", consent.text);
    let allowed = at_second
        .post_form(
            "/oauth2/consent",
            &[
                ("csrf_token", &hidden(&consent.text, "csrf_token")),
                ("request", &hidden(&consent.text, "request")),
                ("decision", "allow"),
            ],
        )
        .await;
    let code = params(location(&allowed, REDIRECT))["code"].clone();

    // Instance 2 redeems the code; the token works at every instance.
    let tokens = exchange(&servers[2], "app", &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = field(&tokens, "access_token");
    for server in &servers {
        assert_eq!(
            userinfo_status(server, &access).await,
            200,
            "{}",
            server.base
        );
    }
    // The remembered consent and the session hold at the first instance
    // too: the next code comes without a page.
    let again = at_second.at(&servers[0]);
    let next = again.get(&authorize_query("app", &[])).await;
    assert!(
        next.header("location")
            .is_some_and(|l| l.starts_with(REDIRECT)),
        "straight back to the app: {:?} {}",
        next.header("location"),
        next.text
    );
}
