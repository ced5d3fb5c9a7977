//! Several `sigil serve` processes as one service (docs/protocol.md §12,
//! §13): three instances on different loopback ports behind one issuer
//! name, sharing one PostgreSQL database (a schema of this test's own,
//! `sigil_testkit::PostgresSchema`, dropped afterwards). They make one key
//! set between them, accept each signed statement once in all, follow a
//! rotation made by `sigil keys rotate --database postgres://…`, and
//! validate each other's tokens. Then the faults: an instance whose
//! database goes away (a cut connection, then a network that drops
//! packets) answers 503 `temporarily_unavailable` on the token, payload
//! and OAuth token routes and `/ready` within its request timeout, never a
//! token, keeps running, and issues tokens again once the database is
//! back, without a restart. Each case runs again with `--redis` beside the
//! database (`sigil_testkit::RedisPrefix`, one key prefix per test, emptied
//! afterwards): then one key's burst is spent across all three instances,
//! where without Redis each instance grants its own; and a Redis that goes
//! away is the same 503.

use std::sync::Barrier;

use sigil_core::JwkSet;
use sigil_core::jwt::{self, Audience, ValidationRules};
use sigil_core::payload::{self, JsValue, Payload, SIGNUP_WALLET};
use sigil_testkit::{PostgresSchema, RedisPrefix, TcpProxy};

use crate::support::*;

/// The one name the instances answer as, as behind a load balancer.
const ISSUER: &str = "https://auth.example.com";
/// The `requestedBy` of the payloads: the issuer's host, which the default
/// `payload_hosts` allows.
const PAYLOAD_HOST: &str = "auth.example.com";
/// How many instances make the service.
const INSTANCES: usize = 3;
/// Copies of one request each instance receives at once.
const COPIES: usize = 3;

/// What the instances of one test share: the database, a Redis key prefix
/// when they keep replay records and rate limits in Redis (and the scratch
/// directory of their logs and of the `sigil` commands).
struct Shared {
    schema: PostgresSchema,
    redis: Option<RedisPrefix>,
    scratch: Scratch,
}

impl Shared {
    fn postgres(test: &str) -> Self {
        Self {
            schema: PostgresSchema::create(test),
            redis: None,
            scratch: Scratch::new(test),
        }
    }

    fn postgres_and_redis(test: &str) -> Self {
        Self {
            redis: Some(RedisPrefix::new(test)),
            ..Self::postgres(test)
        }
    }

    fn database(&self) -> String {
        self.schema.url()
    }

    /// `count` instances on `database` (and `redis`, under the shared
    /// prefix) with `options`, started at the same moment.
    fn start_on(
        &self,
        count: usize,
        database: &str,
        redis: Option<&str>,
        options: Options<'_>,
    ) -> Vec<Server> {
        let mut args: Vec<&str> = options.args.to_vec();
        let mut env: Vec<(&str, &str)> = options.env.to_vec();
        if let (Some(url), Some(space)) = (redis, &self.redis) {
            args.extend(["--redis", url]);
            env.push(("SIGIL_REDIS_PREFIX", space.prefix()));
        }
        let options = Options {
            database: Some(database),
            issuer: Some(ISSUER),
            args: &args,
            env: &env,
            ..options
        };
        let start = Barrier::new(count);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        Server::start(&self.scratch, &options)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    /// `count` instances on the shared database, started at the same
    /// moment; a per-address burst the whole test cannot spend (every
    /// request comes from 127.0.0.1), so that only the per-key limit is
    /// measured.
    fn start(&self, count: usize) -> Vec<Server> {
        let database = self.database();
        let options = Options {
            env: &[
                ("SIGIL_RELOAD_INTERVAL_MS", RELOAD_MS),
                ("SIGIL_RATE_LIMIT__PER_ADDRESS__BURST", "10000"),
            ],
            ..Options::default()
        };
        let redis = self.redis.as_ref().map(RedisPrefix::url);
        self.start_on(count, &database, redis, options)
    }

    fn current_keys(&self) -> i64 {
        self.schema
            .count("SELECT count(*) FROM signing_keys WHERE state = 'current'")
    }
}

/// Everyone's stderr, for failure messages.
fn logs(servers: &[Server]) -> String {
    servers
        .iter()
        .map(|s| format!("---- {} ----\n{}", s.base, s.stderr()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `send(instance)` on [`COPIES`] threads per instance, all released at
/// once.
fn to_every_instance<T: Send>(servers: &[Server], send: impl Fn(&Server) -> T + Sync) -> Vec<T> {
    at_once(servers, COPIES, send)
}

/// `send(instance)` on `copies` threads per instance, all released at once.
fn at_once<T: Send>(
    servers: &[Server],
    copies: usize,
    send: impl Fn(&Server) -> T + Sync,
) -> Vec<T> {
    let barrier = Barrier::new(servers.len() * copies);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..servers.len() * copies)
            .map(|i| {
                let (server, barrier, send) = (&servers[i % servers.len()], &barrier, &send);
                scope.spawn(move || {
                    barrier.wait();
                    send(server)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The JWKS document of `server`, parsed.
fn jwks(server: &Server) -> (Value, JwkSet) {
    let response = server.get("/.well-known/jwks.json");
    assert_eq!(response.status, 200, "JWKS: {}", response.text());
    let set = JwkSet::from_json(&response.body).expect("the JWKS parses");
    (response.json(), set)
}

/// Asserts that every instance serves the same JWKS bytes.
fn assert_same_jwks(servers: &[Server]) {
    let body = |server: &Server| {
        let response = server.get("/.well-known/jwks.json");
        assert_eq!(response.status, 200, "JWKS: {}", response.text());
        response.body
    };
    let first = body(&servers[0]);
    for server in &servers[1..] {
        assert!(
            body(server) == first,
            "{} serves another JWKS than {}\n{}",
            server.base,
            servers[0].base,
            logs(servers)
        );
    }
}

/// Validates `token` for `ENDPOINT` against `server`'s JWKS, as a resource
/// server that fetched it from that instance would.
fn assert_valid_at(token: &str, server: &Server) -> String {
    let (_, keys) = jwks(server);
    let rules = ValidationRules::new(ISSUER, Audience::Exact(ENDPOINT.into()));
    let claims = jwt::validate(token, &keys, &rules, now_ms() / 1000).unwrap_or_else(|e| {
        panic!(
            "a token is refused against {}'s JWKS: {e}\n{}",
            server.base,
            server.stderr()
        )
    });
    claims.kid
}

/// Exactly one of `answers` is a 200; every other is 401 `replay_detected`.
fn assert_one_winner<'a>(answers: &'a [Response], what: &str, servers: &[Server]) -> &'a Response {
    let winners: Vec<&Response> = answers.iter().filter(|r| r.status == 200).collect();
    for refused in answers.iter().filter(|r| r.status != 200) {
        refused.assert_error(401, "replay_detected", "already used");
    }
    assert_eq!(
        winners.len(),
        1,
        "{what}: {:?}\n{}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>(),
        logs(servers)
    );
    winners[0]
}

/// A Signup payload requested by [`PAYLOAD_HOST`], signed now by `key`:
/// the request body of `POST /api/payloads/verify`.
fn signed_payload(key: &Key, data: &str) -> String {
    let text = Payload::new(
        SIGNUP_WALLET,
        PAYLOAD_HOST,
        JsValue::parse(data).unwrap(),
        now_ms(),
    )
    .to_text();
    let signature = STANDARD.encode(payload::sign(&text, &key.private).to_bytes());
    let address = key.private.address().to_cashaddr().unwrap();
    json!({"payload": text, "address": address, "signature": signature}).to_string()
}

/// The per-key burst (docs/protocol.md §10).
const PER_KEY_BURST: usize = 20;

/// Fresh token requests of a new key, round-robin over `servers` as fast
/// as they answer: how many were admitted (the others must be 429 with
/// `Retry-After`), and how long it took.
fn spend_a_new_keys_budget(
    shared: &Shared,
    servers: &[Server],
    requests: usize,
) -> (usize, Duration) {
    let key = keygen(&shared.scratch);
    let started = Instant::now();
    let mut admitted = 0;
    for i in 0..requests {
        let server = &servers[i % servers.len()];
        let answer = server.token_response(&token_request(&key, &format!("{ENDPOINT}?n={i}")));
        if answer.status == 200 {
            admitted += 1;
        } else {
            answer.assert_error(429, "rate_limit_exceeded", "rate limit");
            assert!(answer.header("retry-after").is_some(), "{}", answer.text());
        }
    }
    (admitted, started.elapsed())
}

#[test]
fn three_instances_on_one_postgres_database_are_one_service() {
    let shared = Shared::postgres("instances");
    let servers = one_service(&shared);
    // Without Redis each instance limits on its own: three times a key's
    // burst of 20, spread over the three, is admitted in full.
    let (admitted, _) = spend_a_new_keys_budget(&shared, &servers, 3 * PER_KEY_BURST);
    assert_eq!(admitted, 3 * PER_KEY_BURST, "{}", logs(&servers));
}

#[test]
fn three_instances_on_postgres_and_redis_are_one_service() {
    let shared = Shared::postgres_and_redis("instances_redis");
    let servers = one_service(&shared);
    let space = shared.redis.as_ref().unwrap();
    let keys = space.keys();
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{}replay:", space.prefix()))),
        "the replay records are in Redis: {keys:?}"
    );
    // With Redis the per-key limit is shared: one key's burst of 20 in
    // all, however the requests are spread (plus what refills at 1/s).
    let (admitted, took) = spend_a_new_keys_budget(&shared, &servers, 3 * PER_KEY_BURST);
    let refilled = usize::try_from(took.as_secs()).unwrap() + 1;
    assert!(
        (PER_KEY_BURST..=PER_KEY_BURST + refilled).contains(&admitted),
        "{admitted} of {} admitted in {took:?}\n{}",
        3 * PER_KEY_BURST,
        logs(&servers)
    );
}

/// Three instances started together on `shared`, and everything that makes
/// them one service; the instances, for more.
fn one_service(shared: &Shared) -> Vec<Server> {
    let key = keygen(&shared.scratch);
    let servers = shared.start(INSTANCES);

    // Started together on an empty schema: one key between them, and one
    // JWKS document, byte for byte, x5c included (its certificate is
    // stored with the key: docs/protocol.md §13).
    let (first, _) = jwks(&servers[0]);
    assert_same_jwks(&servers);
    for published in first["keys"].as_array().expect("keys") {
        assert!(published["x5c"][0].is_string(), "{published}");
    }
    assert_eq!(first["keys"].as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(shared.current_keys(), 1, "{}", logs(&servers));
    assert_eq!(
        shared.schema.count("SELECT count(*) FROM signing_keys"),
        1,
        "no instance made a key of its own"
    );

    // One signed request sent to all three at once, three copies each:
    // one token in all, again and again.
    let mut tokens = Vec::new();
    for round in 0..3 {
        let body = token_request(&key, &format!("{ENDPOINT}?round={round}"));
        let answers = to_every_instance(&servers, |server| server.token_response(&body));
        let winner = assert_one_winner(&answers, "one signed token request", &servers);
        tokens.push(winner.json()["access_token"].as_str().unwrap().to_owned());
    }

    // A Signup payload sent to all three: one `verified: true`.
    let body = signed_payload(&key, r#"{"signup":"instances"}"#);
    let answers = to_every_instance(&servers, |server| {
        server.post_json("/api/payloads/verify", &body)
    });
    let verified = assert_one_winner(&answers, "one signed payload", &servers).json();
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(verified["requestedBy"], PAYLOAD_HOST, "{verified}");

    // A token from any instance validates against every instance's JWKS,
    // and at every instance's /userinfo.
    let token = servers[0].token(&key, ENDPOINT);
    let kid = jwt_part(&token, 0)["kid"].as_str().unwrap().to_owned();
    for server in &servers {
        assert_eq!(assert_valid_at(&token, server), kid);
    }
    let userinfo = servers[1].token(&key, &format!("{ISSUER}/userinfo"));
    for server in &servers {
        let answer = server.get_bearer("/userinfo", &userinfo);
        assert_eq!(answer.status, 200, "{}\n{}", answer.text(), server.stderr());
        assert_eq!(answer.json()["sub"], key.pubkey);
    }

    // `sigil keys rotate --database postgres://…` once: every instance
    // publishes the new key first and signs with it within 10 s.
    let database = shared.database();
    let rotation = sigil(
        &shared.scratch,
        &["keys", "rotate", "--database", &database, "--json"],
    )
    .assert_code(0, "keys rotate")
    .json();
    let new_kid = rotation["new_kid"].as_str().expect("new_kid").to_owned();
    assert_eq!(rotation["old_kid"], kid.as_str(), "{rotation}");
    let rotated_at = Instant::now();
    for server in &servers {
        let seen = poll(
            Duration::from_secs(10).saturating_sub(rotated_at.elapsed()),
            || {
                let kids = server.jwks_kids();
                (kids.first() == Some(&new_kid)).then_some(kids)
            },
        );
        let kids = seen.unwrap_or_else(|| {
            panic!(
                "{} did not publish {new_kid} first within 10 s of the rotation: {:?}\n{}",
                server.base,
                server.jwks_kids(),
                server.stderr()
            )
        });
        assert_eq!(kids, [new_kid.clone(), kid.clone()], "the old key stays");
    }
    // The same bytes again after the rotation: the new key's certificate
    // was made once, by `sigil keys rotate`.
    assert_same_jwks(&servers);
    assert_eq!(shared.current_keys(), 1);
    for (i, server) in servers.iter().enumerate() {
        let fresh = server.token(&key, ENDPOINT);
        assert_eq!(
            jwt_part(&fresh, 0)["kid"],
            new_kid.as_str(),
            "{}",
            server.stderr()
        );
        // Signed by one instance, checked against the next one's JWKS;
        // the old key's tokens keep validating everywhere.
        assert_eq!(
            assert_valid_at(&fresh, &servers[(i + 1) % INSTANCES]),
            new_kid
        );
        assert_eq!(assert_valid_at(&token, server), kid);
    }
    // Earlier tokens, each issued by whichever instance won its round.
    for earlier in &tokens {
        let claims = jwt_part(earlier, 1);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], key.pubkey);
    }
    servers
}

/// Asserts a 503 `temporarily_unavailable` with exactly the §8 members,
/// answered within `limit`.
fn assert_unavailable(answer: &Response, elapsed: Duration, limit: Duration, what: &str) {
    answer.assert_error(503, "temporarily_unavailable", "retry");
    assert!(
        !["access_token", "postgres", "redis"]
            .iter()
            .any(|word| answer.text().contains(word)),
        "{what}: nothing issued, nothing internal: {}",
        answer.text()
    );
    assert!(
        elapsed < limit,
        "{what}: answered after {elapsed:?}, not within {limit:?}"
    );
}

/// Until a fresh token request to `server` succeeds (each failure must be
/// the 503), at most 10 s: the pool reconnects without a restart.
fn token_again(server: &Server, key: &Key, what: &str) -> String {
    let token = poll(Duration::from_secs(10), || {
        let answer = server.token_response(&token_request(key, ENDPOINT));
        if answer.status != 200 {
            answer.assert_error(503, "temporarily_unavailable", "retry");
            return None;
        }
        Some(server.token_from(&answer))
    });
    token.unwrap_or_else(|| panic!("{what}: no token within 10 s\n{}", server.stderr()))
}

/// Which dependency an outage test takes away.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Through {
    /// The instance reaches PostgreSQL through the proxy.
    Postgres,
    /// The instance reaches PostgreSQL directly and Redis through the proxy.
    Redis,
}

#[test]
fn an_instance_without_its_database_answers_503_and_recovers_without_restart() {
    outage("outage", Through::Postgres);
}

#[test]
fn an_instance_without_its_redis_answers_503_and_recovers_without_restart() {
    outage("outage_redis", Through::Redis);
}

/// One instance whose `through` dependency is cut, restored, stalled and
/// restored again.
fn outage(test: &str, through: Through) {
    // The request timeout (then 408): every store failure must be a 503
    // before it. Above the store's own bound of 5 s per call, below the
    // 10 s a caller queued behind stalled statements would otherwise wait.
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(7);
    let shared = match through {
        Through::Postgres => Shared::postgres(test),
        Through::Redis => Shared::postgres_and_redis(test),
    };
    let key = keygen(&shared.scratch);
    let (proxy, database, redis) = match &shared.redis {
        None => {
            let proxy = TcpProxy::start(shared.schema.server_addr());
            let database = shared.schema.url_via(proxy.addr());
            (proxy, database, None)
        }
        Some(space) => {
            let proxy = TcpProxy::start(space.server_addr());
            let redis = space.url_via(proxy.addr());
            (proxy, shared.database(), Some(redis))
        }
    };
    let options = Options {
        rate_limits_off: true,
        env: &[("SIGIL_REQUEST_TIMEOUT_MS", "7000")],
        ..Options::default()
    };
    let mut servers = shared.start_on(1, &database, redis.as_deref(), options);
    let server = servers.remove(0);
    server.token(&key, ENDPOINT);
    let payload = |tag: &str| signed_payload(&key, &format!("{{\"outage\":\"{tag}\"}}"));
    // The OAuth records are in PostgreSQL, never in Redis.
    let routes: &[&str] = match through {
        Through::Postgres => &["token", "payload", "oauth token", "ready"],
        Through::Redis => &["token", "payload", "ready"],
    };

    // The connection is cut (reset, refused): those routes answer 503 at
    // once; the process lives on.
    proxy.cut();
    for what in routes {
        let started = Instant::now();
        let answer = match *what {
            "token" => server.token_response(&token_request(&key, ENDPOINT)),
            "payload" => server.post_json("/api/payloads/verify", &payload("cut")),
            "oauth token" => server.request(
                "POST",
                "/oauth2/token",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                Some(b"grant_type=refresh_token&refresh_token=abc&client_id=app"),
            ),
            _ => server.get("/ready"),
        };
        assert_unavailable(&answer, started.elapsed(), REQUEST_TIMEOUT, what);
    }
    assert_eq!(
        server.get("/health").status,
        200,
        "the process keeps running"
    );
    proxy.restore();
    token_again(&server, &key, "after the cut");

    // The network drops everything (no reset, no answer): every request,
    // however many wait for the pool or the replay writer, is a 503 within
    // the request timeout, never a hang or a 408. First several pooled
    // connections are opened, as on a busy instance, so that stalled
    // statements hold every commit slot of the replay writer.
    let warm = at_once(std::slice::from_ref(&server), 12, |server| {
        server.get("/ready")
    });
    assert!(warm.iter().all(|r| r.status == 200));
    proxy.stall();
    let stalled_at = Instant::now();
    let answers: Vec<(Response, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let (server, key, payload) = (&server, &key, &payload);
                // Staggered, so that they reach the store as separate
                // batches and queue behind each other.
                std::thread::sleep(Duration::from_millis(40));
                scope.spawn(move || {
                    let started = Instant::now();
                    let answer = if i % 3 == 2 {
                        server.post_json("/api/payloads/verify", &payload(&format!("stall {i}")))
                    } else {
                        server.token_response(&token_request(key, &format!("{ENDPOINT}/{i}")))
                    };
                    (answer, started.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (answer, elapsed)) in answers.iter().enumerate() {
        assert_unavailable(
            answer,
            *elapsed,
            REQUEST_TIMEOUT,
            &format!("stalled request {i}"),
        );
    }
    let started = Instant::now();
    let ready = server.get("/ready");
    assert_unavailable(
        &ready,
        started.elapsed(),
        REQUEST_TIMEOUT,
        "ready while stalled",
    );
    assert_eq!(
        server.get("/health").status,
        200,
        "the process keeps running"
    );
    assert!(stalled_at.elapsed() < 3 * REQUEST_TIMEOUT);
    proxy.restore();
    token_again(&server, &key, "after the stall");
    let ready = server.get("/ready");
    assert_eq!(ready.status, 200, "{}", ready.text());
}
