//! Signing keys at rest (issue 13, items 4 and 5; docs/protocol.md §12, §13): a key is
//! never written unencrypted beside encrypted ones nor the reverse, `sigil
//! keys seal` turns the master key on for an existing store, `sigil serve`
//! refuses a store that does not match its master key and warns when the
//! keys are unencrypted, the database files are owner-only, and a retired
//! key is listed with its private key erased.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::support::*;

const MASTER: &str = "sigil-test-master-key-0123456789-abcdefghijklmnop";

/// The permission bits in octal (sigil_testkit::file_mode).
fn mode(path: &Path) -> String {
    sigil_testkit::file_mode(path)
}

/// `sigil args…` on the scratch database, with the master key or without.
fn keys(scratch: &Scratch, master: bool, args: &[&str]) -> Run {
    let database = scratch.database();
    let mut command = sigil_command(&scratch.dir);
    command.args(args).args(["--database", &database]);
    if master {
        command.env("SIGIL_MASTER_KEY", MASTER);
    }
    let what = format!(
        "sigil {} ({} master key)",
        args.join(" "),
        if master { "with" } else { "without" }
    );
    run(scratch, command, &what)
}

/// `(kid, state, at_rest)` of every key, from `sigil keys list --json`.
fn listed(scratch: &Scratch) -> Vec<(String, String, String)> {
    let list = keys(scratch, false, &["keys", "list", "--json"]);
    list.assert_code(0, "keys list");
    list.json()
        .as_array()
        .expect("an array of keys")
        .iter()
        .map(|k| {
            let field = |name: &str| k[name].as_str().expect(name).to_owned();
            (field("kid"), field("state"), field("at_rest"))
        })
        .collect()
}

fn at_rest(scratch: &Scratch) -> Vec<String> {
    listed(scratch).into_iter().map(|(_, _, at)| at).collect()
}

/// A refusal: exit 2, one line on standard error, naming `fix`.
#[track_caller]
fn assert_refused(result: &Run, what: &str, fix: &str) {
    result.assert_code(2, what);
    let stderr = result.stderr.trim_end();
    assert_eq!(stderr.lines().count(), 1, "{what}: {}", result.describe());
    assert!(
        stderr.contains(fix),
        "{what}: no {fix:?}: {}",
        result.describe()
    );
}

/// `sigil serve` on the scratch database, expected to stop at start-up.
fn serve_refused(scratch: &Scratch, master: bool) -> Run {
    keys(scratch, master, &["serve", "--listen", "127.0.0.1:0"])
}

#[test]
fn plain_and_encrypted_keys_are_never_mixed_and_seal_turns_the_master_key_on() {
    let scratch = Scratch::new("at-rest");
    scratch.create_database();
    keys(&scratch, false, &["keys", "rotate"]).assert_code(0, "first key, plain");
    assert_eq!(at_rest(&scratch), ["plain"]);

    // The master key over a plain store: no encrypted key beside plain ones,
    // and no server that would sign with the plain key; both name the fix.
    let rotate = keys(&scratch, true, &["keys", "rotate"]);
    assert_refused(&rotate, "rotate with the master key", "sigil keys seal");
    assert_eq!(at_rest(&scratch), ["plain"], "nothing was written");
    let serve = serve_refused(&scratch, true);
    assert_refused(&serve, "serve with the master key", "sigil keys seal");

    // Seal needs the master key; then every stored key is encrypted.
    let seal = keys(&scratch, false, &["keys", "seal"]);
    assert_refused(&seal, "seal without the master key", "SIGIL_MASTER_KEY");
    let first_kid = listed(&scratch)[0].0.clone();
    let sealed = keys(&scratch, true, &["keys", "seal", "--json"]);
    sealed.assert_code(0, "seal");
    assert_eq!(
        sealed.json(),
        json!({"sealed": [first_kid], "already_sealed": []})
    );
    assert_eq!(at_rest(&scratch), ["encrypted"]);

    // Without the master key now: no plain key beside encrypted ones (the
    // bug: the encrypting server then signed with it), and no server.
    let rotate = keys(&scratch, false, &["keys", "rotate"]);
    assert_refused(&rotate, "rotate without the master key", "SIGIL_MASTER_KEY");
    assert_eq!(at_rest(&scratch), ["encrypted"], "nothing was written");
    let serve = serve_refused(&scratch, false);
    assert_refused(&serve, "serve without the master key", "SIGIL_MASTER_KEY");

    keys(&scratch, true, &["keys", "rotate"]).assert_code(0, "rotate, encrypted");
    assert_eq!(at_rest(&scratch), ["encrypted", "encrypted"]);
    let again = keys(&scratch, true, &["keys", "seal", "--json"]);
    again.assert_code(0, "seal again");
    assert_eq!(again.json()["sealed"], json!([]), "{}", again.describe());

    // The encrypting server starts, signs, and does not warn.
    let mut server = Server::start(
        &scratch,
        &Options {
            env: &[("SIGIL_MASTER_KEY", MASTER)],
            ..Options::default()
        },
    );
    let key = keygen(&scratch);
    server.token(&key, ENDPOINT);
    assert!(server.terminate().success(), "{}", server.stderr());
    assert!(
        !server.stderr().contains("UNENCRYPTED"),
        "{}",
        server.stderr()
    );
    let database = std::fs::read(scratch.dir.join("sigil.db")).unwrap();
    assert!(
        !holds_plain_pkcs8(&database),
        "sigil.db holds an unencrypted PKCS#8 key"
    );
}

/// Once its tokens have expired a key is retired and its private key
/// erased; `keys list` still shows it, retired, and the store still works.
#[test]
fn retired_key_is_listed_with_its_private_key_erased() {
    let scratch = Scratch::new("retired");
    scratch.create_database();
    keys(&scratch, false, &["keys", "rotate"]).assert_code(0, "first key");
    keys(&scratch, false, &["keys", "rotate"]).assert_code(0, "second key");
    // The overlap is the token lifetime plus 70 s; retire as of a day later.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = sigil_store::Store::open(&scratch.database()).await.unwrap();
        let day_later = now_ms() + 86_400_000;
        assert_eq!(store.keys().retire_expired_keys(day_later).await, Ok(1));
        store.close().await.unwrap();
    });
    let rows = listed(&scratch);
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|(_, state, at)| (state.as_str(), at.as_str()))
        .collect();
    assert_eq!(states, [("retired", "erased"), ("current", "plain")]);
    let list = keys(&scratch, false, &["keys", "list"]);
    list.assert_code(0, "keys list");
    assert!(list.stdout.contains("AT-REST"), "{}", list.describe());
    assert!(list.stdout.contains("erased"), "{}", list.describe());
    // Sealing skips the erased key; serving and rotating go on.
    let sealed = keys(&scratch, true, &["keys", "seal", "--json"]);
    sealed.assert_code(0, "seal");
    assert_eq!(sealed.json()["sealed"], json!([rows[1].0]));
    keys(&scratch, true, &["keys", "rotate"]).assert_code(0, "rotate");
}

/// Without a master key `sigil serve` warns, at start-up, that the signing
/// keys are stored unencrypted; its database, -wal and -shm are 0600, and a
/// database made readable by others is set back to 0600 with a warning.
#[test]
fn unencrypted_keys_are_warned_about_and_database_files_are_owner_only() {
    let scratch = Scratch::new("modes");
    let mut server = Server::start(&scratch, &Options::default());
    let stderr = server.stderr();
    let warning = stderr
        .lines()
        .find(|line| line.contains("UNENCRYPTED"))
        .unwrap_or_else(|| panic!("no warning about unencrypted keys:\n{stderr}"));
    assert!(warning.contains("WARN"), "not a warning: {warning}");
    assert!(warning.contains("sigil keys seal"), "{warning}");
    let db = scratch.dir.join("sigil.db");
    for file in ["sigil.db", "sigil.db-wal", "sigil.db-shm"] {
        assert_eq!(mode(&scratch.dir.join(file)), "600", "{file}");
    }
    let port = server.port;
    assert!(server.terminate().success(), "{}", server.stderr());

    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut server = Server::start(
        &scratch,
        &Options {
            port: Some(port),
            ..Options::default()
        },
    );
    assert_eq!(mode(&db), "600");
    let stderr = server.stderr();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("WARN") && l.contains("mode is now 600")),
        "{stderr}"
    );
    assert!(server.terminate().success(), "{}", server.stderr());
}
