//! The OAuth provider on three instances sharing one PostgreSQL schema
//! (docs/protocol.md §12, §17; `sigil_testkit::PostgresSchema`, dropped
//! afterwards): a code sent to all three at once is redeemed once, and
//! nothing its first use issued works after the reuse, at any instance; a
//! refresh token presented to all three at once rotates once.

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

/// `send(server)` on [`RACERS`] tasks over the instances, released
/// together; the answers.
async fn race<F, Fut>(servers: &[Arc<TestServer>], send: F) -> Vec<Answer>
where
    F: Fn(Arc<TestServer>) -> Fut,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
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

/// The one 200 among `answers`; every other is 400 `invalid_grant`.
fn one_winner(answers: Vec<Answer>, what: &str) -> Answer {
    let (won, lost): (Vec<_>, Vec<_>) = answers.into_iter().partition(|a| a.status == 200);
    for answer in &lost {
        assert_oauth_error(answer, 400, "invalid_grant");
    }
    assert_eq!(won.len(), 1, "{what}: {} winners", won.len());
    won.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oauth_codes_and_refresh_tokens_are_used_once_across_instances() {
    let schema = PostgresSchema::create("oauth_instances");
    let servers = instances(&schema, "oauth-instances").await;
    add_client(&servers[0], "app", AuthMethod::None).await;
    let browser = Browser::new(&servers[0]);

    // One code at all three instances at once: one exchange, and what it
    // issued stops working everywhere (the others were reuses).
    let code = browser_code(&browser, "app", &[]).await["code"].clone();
    let answers = race(&servers, |server| {
        let code = code.clone();
        async move { exchange(&server, "app", &code).await }
    })
    .await;
    let first = one_winner(answers, "one code");
    let access = field(&first, "access_token");
    for server in &servers {
        assert_eq!(
            userinfo_status(server, &access).await,
            401,
            "{}",
            server.base
        );
    }
    assert_oauth_error(
        &refresh(&servers[1], "app", &field(&first, "refresh_token")).await,
        400,
        "invalid_grant",
    );

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
    let answers = race(&servers, |server| {
        let token = refresh_token.clone();
        async move { refresh(&server, "app", &token).await }
    })
    .await;
    one_winner(answers, "one refresh token");
}
