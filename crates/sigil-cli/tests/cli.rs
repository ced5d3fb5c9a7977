//! End-to-end tests of the `sigil` binary: run it, check stdout, stderr and
//! the exit code (0 ok, 1 verification failed, 2 usage or input error).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use sigil_core::auth_token::{self, AuthToken, BodyEncoding, RequestFacts};
use sigil_core::{Address, Network, PrivateKey, Scheme, Window, bap};

/// One finished run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    fn assert_code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit code\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `sigil args…` with `SIGIL_WIF` set to `wif` (or unset) and `stdin`
/// as standard input (empty when `None`).
fn run_with(args: &[&str], wif: Option<&str>, stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sigil"));
    command
        .args(args)
        .env_remove("SIGIL_WIF")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(wif) = wif {
        command.env("SIGIL_WIF", wif);
    }
    let mut child = command.spawn().expect("the sigil binary runs");
    {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(stdin.unwrap_or_default().as_bytes())
            .expect("stdin accepts the input");
    }
    let out = child.wait_with_output().expect("sigil finishes");
    Run {
        code: out.status.code().expect("sigil exits normally"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn sigil(args: &[&str]) -> Run {
    run_with(args, None, None)
}

fn sigil_with_wif(wif: &str, args: &[&str]) -> Run {
    run_with(args, Some(wif), None)
}

/// A fresh key from `sigil keygen --json`: (wif, pubkey, address).
fn keygen(extra: &[&str]) -> (String, String, String) {
    let mut args = vec!["keygen", "--json"];
    args.extend_from_slice(extra);
    let generated = sigil(&args).assert_code(0).json();
    let field = |name: &str| generated[name].as_str().expect(name).to_owned();
    (field("wif"), field("pubkey"), field("address"))
}

fn sign(wif: &str, scheme: &str, message: &str) -> String {
    let run = sigil_with_wif(wif, &["sign", "--scheme", scheme, message]);
    run.assert_code(0);
    run.stdout.trim().to_owned()
}

const VECTOR_WIF: &str = "L211enC224G1kV8pyyq7bjVd9SxZebnRYEzzM3i7ZHCc1c5E7dQu";

/// The case `name` of a vector file under tests/vectors/.
fn vector_case(file: &str, name: &str) -> Value {
    let doc = sigil_testkit::vector_file(file);
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|case| case["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in {file}"))
        .clone()
}

#[test]
fn keygen_text_and_json_agree_with_sigil_core() {
    for (extra, network, wif_prefixes, cash_prefix) in [
        (&[][..], Network::Mainnet, "KL", "bitcoincash:"),
        (&["--testnet"][..], Network::Testnet, "c", "bchtest:"),
    ] {
        let mut args = vec!["keygen"];
        args.extend_from_slice(extra);
        let run = sigil(&args);
        run.assert_code(0);
        let lines: Vec<(&str, &str)> = run
            .stdout
            .lines()
            .map(|line| line.split_once(": ").expect("key: value"))
            .collect();
        let names: Vec<&str> = lines.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["wif", "pubkey", "address", "cashaddr", "bap_id"]);
        let value = |name: &str| lines.iter().find(|(k, _)| *k == name).expect(name).1;

        let key = PrivateKey::from_wif(value("wif")).unwrap();
        assert!(
            wif_prefixes.contains(&value("wif")[..1]),
            "{}",
            value("wif")
        );
        assert_eq!(key.network(), network);
        assert!(key.is_compressed());
        let pubkey = key.public_key();
        assert_eq!(value("pubkey"), pubkey.to_hex());
        assert_eq!(value("pubkey").len(), 66);
        let address = Address::parse(value("address")).unwrap();
        assert_eq!(address, Address::p2pkh(&pubkey, network));
        assert!(value("cashaddr").starts_with(cash_prefix));
        assert_eq!(Address::parse(value("cashaddr")).unwrap(), address);
        assert_eq!(value("bap_id"), bap::bap_id_of_member_key(&pubkey));
    }

    let (wif, pubkey, address) = keygen(&[]);
    let key = PrivateKey::from_wif(&wif).unwrap();
    assert_eq!(pubkey, key.public_key().to_hex());
    assert_eq!(address, key.address().to_string());
    let (other_wif, _, _) = keygen(&[]);
    assert_ne!(wif, other_wif, "two keygen runs made the same key");
}

/// `keygen --out FILE` (issue 13, item 5): the key goes to a new file of
/// mode 0600 (whatever the umask; `>` would make it 0644), nothing to
/// standard output, and an existing file is refused and left alone.
#[cfg(unix)]
#[test]
fn keygen_out_writes_a_new_owner_only_file_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = sigil_testkit::fresh_dir("cli-keygen-out");
    let mode = |path: &Path| {
        let mode = std::fs::metadata(path)
            .expect("the key file")
            .permissions()
            .mode();
        format!("{:o}", mode & 0o777)
    };
    for (extra, name) in [(&[][..], "service.key"), (&["--json"][..], "service.json")] {
        let path = dir.join(name);
        let path_text = path.to_str().expect("UTF-8 temp path");
        let mut args = vec!["keygen", "--out", path_text];
        args.extend_from_slice(extra);
        let run = sigil(&args);
        run.assert_code(0);
        assert_eq!(run.stdout, "", "{name}: the key is not printed");
        assert_eq!(mode(&path), "600", "{name}");
        let text = std::fs::read_to_string(&path).expect("the key file");
        let wif = if extra.is_empty() {
            text.lines()
                .find_map(|line| line.strip_prefix("wif: "))
                .expect("a wif line")
                .to_owned()
        } else {
            let json: Value = serde_json::from_str(&text).expect("JSON");
            json["wif"].as_str().expect("wif").to_owned()
        };
        PrivateKey::from_wif(&wif).expect("a valid WIF");

        let again = sigil(&args);
        again.assert_code(2);
        assert!(again.stderr.contains("exists"), "{}", again.stderr);
        assert!(again.stderr.contains(name), "{}", again.stderr);
        assert_eq!(
            std::fs::read_to_string(&path).expect("kept"),
            text,
            "{name}: not overwritten"
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn bsv_sdk_vector_signs_exactly_and_verifies() {
    let case = vector_case("bsm_sign.json", "bsv-sdk-hello-world");
    assert_eq!(case["input"]["wif"], VECTOR_WIF);
    let expected = case["expected"]["signature_base64"].as_str().unwrap();
    let address = case["expected"]["address"].as_str().unwrap();
    let pubkey = case["expected"]["public_key_compressed_hex"]
        .as_str()
        .unwrap();

    let run = sigil_with_wif(VECTOR_WIF, &["sign", "hello world"]);
    run.assert_code(0);
    assert_eq!(run.stdout, format!("{expected}\n"));

    let run = sigil(&[
        "verify",
        "--address",
        address,
        "--signature",
        expected,
        "hello world",
    ]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!("valid\nscheme: bsm\nsigner: {pubkey}\n")
    );

    // The other text forms of docs/protocol.md §2: hex and a JSON byte array.
    let hex = case["expected"]["signature_hex"].as_str().unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let array = serde_json::to_string(&bytes).unwrap();
    for form in [hex, array.as_str()] {
        let run = sigil(&[
            "--json",
            "verify",
            "--pubkey",
            pubkey,
            "--signature",
            form,
            "hello world",
        ]);
        run.assert_code(0);
        assert_eq!(run.json()["signer"], pubkey, "{form}");
    }
}

#[test]
fn round_trips_for_both_schemes_by_pubkey_and_address() {
    let (wif, pubkey, address) = keygen(&[]);
    let message = "sign me: ünïcode and | pipes";
    for scheme in ["bsm", "brc77"] {
        let signature = sign(&wif, scheme, message);
        let run = sigil(&[
            "verify",
            "--pubkey",
            &pubkey,
            "--signature",
            &signature,
            message,
        ]);
        run.assert_code(0);
        assert_eq!(
            run.stdout,
            format!("valid\nscheme: {scheme}\nsigner: {pubkey}\n")
        );
        let run = sigil(&[
            "verify",
            "--json",
            "--pubkey",
            &pubkey,
            "--signature",
            &signature,
            message,
        ]);
        run.assert_code(0);
        assert_eq!(
            run.json(),
            serde_json::json!({"valid": true, "scheme": scheme, "signer": pubkey})
        );
    }
    let bsm = sign(&wif, "bsm", message);
    let header = sigil_core::signature::decode_text(&bsm).unwrap()[0];
    assert!(
        (31..=34).contains(&header),
        "compressed WIF, header {header}"
    );
    let run = sigil(&[
        "verify",
        "--address",
        &address,
        "--signature",
        &bsm,
        message,
    ]);
    run.assert_code(0);
    assert!(run.stdout.contains(&pubkey), "{}", run.stdout);
}

#[test]
fn sign_json_describes_the_signature() {
    let (wif, pubkey, address) = keygen(&[]);
    for scheme in ["bsm", "brc77"] {
        let run = sigil_with_wif(&wif, &["sign", "--json", "--scheme", scheme, "hi"]);
        run.assert_code(0);
        let signed = run.json();
        assert_eq!(signed["scheme"], scheme);
        assert_eq!(signed["pubkey"], pubkey);
        assert_eq!(signed["address"], address);
        assert_eq!(signed["message"], "hi");
        let signature = signed["signature"].as_str().unwrap();
        let parsed = sigil_core::Signature::from_text(signature).unwrap();
        assert_eq!(parsed.scheme(), scheme.parse::<Scheme>().unwrap());
        let key = sigil_core::PublicKey::from_hex(&pubkey).unwrap();
        parsed.verify(b"hi", &key).unwrap();
    }
}

#[test]
fn brc77_key_ids_are_random() {
    let (wif, _, _) = keygen(&[]);
    assert_ne!(sign(&wif, "brc77", "same"), sign(&wif, "brc77", "same"));
    assert_eq!(sign(&wif, "bsm", "same"), sign(&wif, "bsm", "same"));
}

#[test]
fn uncompressed_wif_signs_with_an_uncompressed_header() {
    let key = PrivateKey::from_bytes([7; 32], Network::Mainnet, false).unwrap();
    let signature = sign(&key.to_wif(), "bsm", "old wallet");
    let header = sigil_core::signature::decode_text(&signature).unwrap()[0];
    assert!((27..=30).contains(&header), "header {header}");
    let address = key.address().to_string();
    sigil(&[
        "verify",
        "--address",
        &address,
        "--signature",
        &signature,
        "old wallet",
    ])
    .assert_code(0);
}

#[test]
fn wrong_message_exits_1() {
    let (wif, pubkey, address) = keygen(&[]);
    for scheme in ["bsm", "brc77"] {
        let signature = sign(&wif, scheme, "the real message");
        let run = sigil(&[
            "verify",
            "--pubkey",
            &pubkey,
            "--signature",
            &signature,
            "another",
        ]);
        run.assert_code(1);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(
            run.stderr
                .starts_with("error: signature verification failed"),
            "{}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);

        let run = sigil(&[
            "--json",
            "verify",
            "--pubkey",
            &pubkey,
            "--signature",
            &signature,
            "another",
        ]);
        run.assert_code(1);
        let report = run.json();
        assert_eq!(report["valid"], false);
        assert_eq!(report["scheme"], scheme);
        assert!(report.get("signer").is_none(), "{report}");
        assert!(
            report["error"]
                .as_str()
                .unwrap()
                .contains("signature verification failed"),
            "{report}"
        );
    }
    let signature = sign(&wif, "bsm", "the real message");
    sigil(&[
        "verify",
        "--address",
        &address,
        "--signature",
        &signature,
        "another",
    ])
    .assert_code(1);
}

#[test]
fn malformed_input_exits_2() {
    let (_, pubkey, _) = keygen(&[]);
    let run = sigil(&[
        "verify",
        "--pubkey",
        &pubkey,
        "--signature",
        "not a signature!",
        "m",
    ]);
    run.assert_code(2);
    assert!(run.stderr.starts_with("error: signature"), "{}", run.stderr);

    let run = sigil(&[
        "verify",
        "--json",
        "--pubkey",
        &pubkey,
        "--signature",
        "AAAA",
        "m",
    ]);
    run.assert_code(2);
    let report = run.json();
    assert_eq!(report["valid"], false);
    assert_eq!(report["scheme"], Value::Null);
    assert!(
        report["error"].as_str().unwrap().contains("65 bytes"),
        "{report}"
    );

    let signature = sign(VECTOR_WIF, "bsm", "m");
    let run = sigil(&[
        "verify",
        "--pubkey",
        "02abcd",
        "--signature",
        &signature,
        "m",
    ]);
    run.assert_code(2);
    assert!(run.stderr.contains("public key"), "{}", run.stderr);
    let run = sigil(&[
        "verify",
        "--address",
        "1NotAnAddress",
        "--signature",
        &signature,
        "m",
    ]);
    run.assert_code(2);
    assert!(run.stderr.contains("address"), "{}", run.stderr);

    let run = sigil_with_wif(
        "L211enC224G1kV8pyyq7bjVd9SxZebnRYEzzM3i7ZHCc1c5E7dQ",
        &["sign", "m"],
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains("the WIF from SIGIL_WIF: base58check"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    let signature = sign(VECTOR_WIF, "bsm", "m");
    // Neither --pubkey nor --address; both; unknown scheme; unknown command.
    for args in [
        &["verify", "--signature", signature.as_str(), "m"][..],
        &[
            "verify",
            "--pubkey",
            "02",
            "--address",
            "1x",
            "--signature",
            &signature,
            "m",
        ],
        &["sign", "--scheme", "ecdsa", "m"],
        &["token"],
    ] {
        let run = sigil(args);
        run.assert_code(2);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(run.stderr.starts_with("error:"), "{args:?}: {}", run.stderr);
    }
    // No command at all: the help, on standard error, still exit 2.
    let run = sigil(&[]);
    run.assert_code(2);
    assert!(run.stderr.contains("Usage: sigil"), "{}", run.stderr);
}

#[test]
fn wif_on_the_command_line_is_refused() {
    for args in [
        &["sign", "--wif", VECTOR_WIF, "m"][..],
        &["sign", &format!("--wif={VECTOR_WIF}"), "m"],
        &["sign", "--private-key", VECTOR_WIF, "m"],
        &["auth-token", "--path", "/x", "--wif", VECTOR_WIF],
    ] {
        // Even with a valid key available elsewhere, nothing is signed.
        let run = sigil_with_wif(VECTOR_WIF, args);
        run.assert_code(2);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(!run.stderr.contains(VECTOR_WIF), "{args:?}: {}", run.stderr);
    }
    let run = sigil_with_wif(VECTOR_WIF, &["sign", "--wif", VECTOR_WIF, "m"]);
    assert!(run.stderr.contains("--wif-file"), "{}", run.stderr);
}

#[test]
fn wif_sources_file_env_and_stdin_agree() {
    let expected = sign(VECTOR_WIF, "bsm", "source");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigil-cli-test-{}.wif", std::process::id()));
    std::fs::write(&path, format!("{VECTOR_WIF}\nsecond line ignored\n")).unwrap();
    let from_file = sigil(&["sign", "--wif-file", path.to_str().unwrap(), "source"]);
    std::fs::remove_file(&path).unwrap();
    from_file.assert_code(0);
    assert_eq!(from_file.stdout.trim(), expected);

    let from_stdin = run_with(
        &["sign", "source"],
        None,
        Some(&format!("  {VECTOR_WIF}  \n")),
    );
    from_stdin.assert_code(0);
    assert_eq!(from_stdin.stdout.trim(), expected);

    // The file wins over the environment.
    let other = keygen(&[]).0;
    std::fs::write(&path, &other).unwrap();
    let run = run_with(
        &["sign", "--wif-file", path.to_str().unwrap(), "source"],
        Some(VECTOR_WIF),
        None,
    );
    std::fs::remove_file(&path).unwrap();
    run.assert_code(0);
    assert_eq!(run.stdout.trim(), sign(&other, "bsm", "source"));

    let none = sigil(&["sign", "source"]);
    none.assert_code(2);
    assert!(none.stderr.contains("no WIF found"), "{}", none.stderr);
}

/// `sigil keygen > service.key` (or `--out`, text or `--json`) then
/// `sigil sign --wif-file service.key`: every form keygen writes is one
/// `--wif-file` (and standard input) reads.
#[test]
fn keygen_output_is_a_wif_file() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigil-cli-keyfile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (extra, name) in [(&[][..], "text"), (&["--json"][..], "json")] {
        // Standard output redirected to a file.
        let mut args = vec!["keygen"];
        args.extend_from_slice(extra);
        let printed = sigil(&args);
        printed.assert_code(0);
        let redirected = dir.join(format!("{name}.stdout.key"));
        std::fs::write(&redirected, &printed.stdout).expect("written");
        // --out FILE.
        let out = dir.join(format!("{name}.out.key"));
        let mut args = vec!["keygen", "--out", out.to_str().expect("UTF-8")];
        args.extend_from_slice(extra);
        sigil(&args).assert_code(0);

        for path in [&redirected, &out] {
            let text = std::fs::read_to_string(path).expect("the key file");
            let pubkey = if name == "json" {
                serde_json::from_str::<Value>(&text).expect("JSON")["pubkey"]
                    .as_str()
                    .expect("pubkey")
                    .to_owned()
            } else {
                text.lines()
                    .find_map(|line| line.strip_prefix("pubkey: "))
                    .expect("a pubkey line")
                    .to_owned()
            };
            let path_text = path.to_str().expect("UTF-8");
            let signed = sigil(&["sign", "--wif-file", path_text, "keyfile"]);
            signed.assert_code(0);
            let signature = signed.stdout.trim();
            sigil(&[
                "verify",
                "--pubkey",
                &pubkey,
                "--signature",
                signature,
                "keyfile",
            ])
            .assert_code(0);
            // The same file's text on standard input (`sigil keygen | sigil sign`).
            let piped = run_with(&["sign", "keyfile"], None, Some(&text));
            piped.assert_code(0);
            sigil(&[
                "verify",
                "--pubkey",
                &pubkey,
                "--signature",
                piped.stdout.trim(),
                "keyfile",
            ])
            .assert_code(0);
        }
    }
    // A JSON file without a wif member is refused and says what is expected.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"pubkey":"02"}"#).expect("written");
    let refused = sigil(&["sign", "--wif-file", bad.to_str().expect("UTF-8"), "x"]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("\"wif\""), "{}", refused.stderr);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn forged_brc77_sender_exits_1_and_names_the_sender() {
    let (wif_a, pubkey_a, _) = keygen(&[]);
    let (_, pubkey_b, _) = keygen(&[]);
    let signature = sign(&wif_a, "brc77", "forged?");
    let run = sigil(&[
        "verify",
        "--pubkey",
        &pubkey_b,
        "--signature",
        &signature,
        "forged?",
    ]);
    run.assert_code(1);
    assert!(run.stderr.contains(&pubkey_a), "{}", run.stderr);
    assert!(run.stderr.contains("signed by"), "{}", run.stderr);

    let run = sigil(&[
        "verify",
        "--json",
        "--pubkey",
        &pubkey_b,
        "--signature",
        &signature,
        "forged?",
    ]);
    run.assert_code(1);
    assert!(
        run.json()["error"].as_str().unwrap().contains(&pubkey_a),
        "{}",
        run.stdout
    );
}

#[test]
fn brc77_against_an_address_is_a_usage_error() {
    let (wif, _, address) = keygen(&[]);
    let signature = sign(&wif, "brc77", "m");
    let run = sigil(&[
        "verify",
        "--address",
        &address,
        "--signature",
        &signature,
        "m",
    ]);
    run.assert_code(2);
    assert!(run.stderr.contains("--pubkey"), "{}", run.stderr);
}

#[test]
fn testnet_address_is_checked_on_its_network() {
    let (wif, _, address) = keygen(&["--testnet"]);
    let signature = sign(&wif, "bsm", "which network?");
    let args = [
        "verify",
        "--address",
        &address,
        "--signature",
        &signature,
        "which network?",
    ];
    let run = sigil(&args);
    run.assert_code(1);
    assert!(run.stderr.contains("network mismatch"), "{}", run.stderr);

    let mut testnet = args.to_vec();
    testnet.push("--testnet");
    sigil(&testnet).assert_code(0);
}

/// Extra `auth-token` flags, the body as received, its encoding, the scheme.
type TokenCase<'a> = (&'a [&'a str], Option<&'a [u8]>, BodyEncoding, Scheme);

#[test]
fn auth_tokens_parse_and_verify() {
    let key = PrivateKey::from_wif(VECTOR_WIF).unwrap();
    let cases: [TokenCase<'_>; 5] = [
        (&[], None, BodyEncoding::Utf8, Scheme::Brc77),
        (&["--scheme", "bsm"], None, BodyEncoding::Utf8, Scheme::Bsm),
        (
            &["--body", r#"{"a":1}"#],
            Some(br#"{"a":1}"#),
            BodyEncoding::Utf8,
            Scheme::Brc77,
        ),
        (
            &[
                "--scheme",
                "bsm",
                "--body",
                "00ff",
                "--body-encoding",
                "hex",
            ],
            Some(b"00ff"),
            BodyEncoding::Hex,
            Scheme::Bsm,
        ),
        (
            &["--body", "AP8=", "--body-encoding", "base64"],
            Some(b"AP8="),
            BodyEncoding::Base64,
            Scheme::Brc77,
        ),
    ];
    for (extra, body, body_encoding, scheme) in cases {
        let mut args = vec!["auth-token", "--path", "/api/protected?x=1"];
        args.extend_from_slice(extra);
        let before = now_ms();
        let run = sigil_with_wif(VECTOR_WIF, &args);
        run.assert_code(0);
        let token = run.stdout.trim();
        let parsed = AuthToken::parse(token).unwrap();
        assert_eq!(parsed.scheme, scheme, "{args:?}");
        assert_eq!(parsed.pubkey, key.public_key());
        assert_eq!(parsed.request_path, "/api/protected?x=1");
        assert!(parsed.timestamp_ms >= before - 1 && parsed.timestamp_ms <= now_ms());
        let facts = RequestFacts {
            request_path: "/api/protected?x=1",
            body,
            body_encoding,
            now_ms: now_ms(),
            window: Window::SYMMETRIC_300S,
        };
        let verified = auth_token::verify(token, &facts).unwrap();
        assert_eq!(verified.signer, key.public_key());
        // Another body or path must not verify.
        let tampered = RequestFacts {
            body: Some(b"\"tampered\""),
            body_encoding: BodyEncoding::Utf8,
            ..facts
        };
        assert!(auth_token::verify(token, &tampered).is_err(), "{args:?}");
    }
}

#[test]
fn auth_token_json_and_refusals() {
    let run = sigil_with_wif(VECTOR_WIF, &["auth-token", "--json", "--path", "/p"]);
    run.assert_code(0);
    let built = run.json();
    let parsed = AuthToken::parse(built["token"].as_str().unwrap()).unwrap();
    assert_eq!(built["pubkey"], parsed.pubkey.to_hex());
    assert_eq!(built["scheme"], "brc77");
    assert_eq!(built["timestamp"], parsed.timestamp.as_str());
    assert_eq!(built["request_path"], "/p");

    for (args, needle) in [
        (&["auth-token", "--path", "no-slash"][..], "requestPath"),
        (&["auth-token", "--path", "/a|b"], "requestPath"),
        (
            &[
                "auth-token",
                "--path",
                "/p",
                "--body",
                "zz",
                "--body-encoding",
                "hex",
            ],
            "hex",
        ),
    ] {
        let run = sigil_with_wif(VECTOR_WIF, args);
        run.assert_code(2);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn serve_help_lists_the_spec_flags() {
    let run = sigil(&["serve", "--help"]);
    run.assert_code(0);
    for flag in [
        "--listen",
        "--issuer",
        "--database",
        "--redis",
        "--payload-hosts",
        "--rate-limits",
        "--config",
        "--print-config",
    ] {
        assert!(run.stdout.contains(flag), "{flag}: {}", run.stdout);
    }
    assert!(
        !run.stdout.contains("--master-key"),
        "secrets are never flags"
    );
}

/// `serve --help` names each flag's `SIGIL_…` variable, on the flag's own
/// entry.
#[test]
fn serve_help_names_each_flags_variable() {
    let run = sigil(&["serve", "--help"]);
    run.assert_code(0);
    // Entries are separated by blank lines in the long help.
    let entries: Vec<&str> = run.stdout.split("\n\n").collect();
    for (flag, variable) in [
        ("--listen", "SIGIL_LISTEN"),
        ("--issuer", "SIGIL_ISSUER"),
        ("--database", "SIGIL_DATABASE"),
        ("--redis", "SIGIL_REDIS"),
        ("--payload-hosts", "SIGIL_PAYLOAD_HOSTS"),
        ("--rate-limits", "SIGIL_RATE_LIMITS"),
    ] {
        let entry = entries
            .iter()
            .find(|e| e.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("no {flag} entry: {}", run.stdout));
        assert!(
            entry.contains(&format!("[env: {variable}]")),
            "{flag}: {entry}"
        );
    }
    assert!(
        run.stdout.contains("SIGIL_RATE_LIMIT__PER_KEY__BURST"),
        "{}",
        run.stdout
    );
    // -h (short help) too.
    let short = sigil(&["serve", "-h"]);
    assert!(
        short.stdout.contains("[env: SIGIL_LISTEN]"),
        "{}",
        short.stdout
    );
}

use sigil_testkit::now_ms;

/// A fresh temp file holding `text`.
fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = sigil_testkit::fresh_dir(&format!("cli-{name}")).join(name);
    std::fs::write(&path, text).expect("temp file written");
    path
}

#[test]
fn payload_sign_reproduces_the_seed_doc_vector() {
    let case = vector_case("signup_payloads.json", "seed-doc-example");
    let (input, want) = (&case["input"], &case["expected"]);
    let signed = sigil_with_wif(
        input["signer_wif"].as_str().unwrap(),
        &[
            "payload",
            "sign",
            "--requested-by",
            "domain.tld",
            "--data",
            input["data_json_text"].as_str().unwrap(),
            "--timestamp",
            "1599640414562",
        ],
    );
    let printed = signed.assert_code(0).json();
    assert_eq!(printed["payload"], want["payload"]);
    assert_eq!(printed["signature"], want["signature"]);
    assert_eq!(printed["address"], want["address"], "a CashAddr address");
    assert_eq!(printed.as_object().unwrap().len(), 3, "{printed}");
}

#[test]
fn payload_verify_checks_the_published_vector() {
    let case = vector_case("signup_payloads.json", "signup-utils-test-vector");
    let input = &case["input"];
    let want = &case["expected"];
    // An editor's trailing newline is not part of the signed text.
    let file = temp_file(
        "published",
        &format!("{}\n", input["payload"].as_str().unwrap()),
    );
    let file = file.to_str().unwrap();
    let signature = input["signature"].as_str().unwrap();
    let at = "1601555811427";
    for address in [
        input["address"].as_str().unwrap(),
        want["legacy_address"].as_str().unwrap(),
    ] {
        let report = sigil(&[
            "--json",
            "payload",
            "verify",
            "--payload-file",
            file,
            "--address",
            address,
            "--signature",
            signature,
            "--requested-by",
            "localhost:5000",
            "--at",
            at,
        ]);
        let report = report.assert_code(0).json();
        assert_eq!(report["verified"], true);
        assert_eq!(report["address"], address);
        assert_eq!(report["payload_sha256"], want["payload_sha256_hex"]);
        assert_eq!(report["requestedBy"], "localhost:5000");
    }
    // Human output, and standard input as the file.
    let text = run_with(
        &[
            "payload",
            "verify",
            "--payload-file",
            "-",
            "--address",
            input["address"].as_str().unwrap(),
            "--signature",
            signature,
            "--at",
            at,
        ],
        None,
        Some(input["payload"].as_str().unwrap()),
    );
    assert!(
        text.assert_code(0).stdout.contains("requestedBy"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("localhost:5000"));

    let cashaddr = input["address"].as_str().unwrap();
    // (address, signature, extra flags, exit code, phrase on stderr)
    let refusals: [(&str, &str, &[&str], i32, &str); 5] = [
        (
            cashaddr,
            signature,
            &["--requested-by", "other.example", "--at", at],
            1,
            "not allowed",
        ),
        (
            cashaddr,
            signature,
            &["--at", "1601556112428"],
            1,
            "timestamp too old",
        ),
        (cashaddr, "not base64!", &["--at", at], 2, "signature"),
        // Another address: the recovered key is not its owner.
        (
            "15CRxFdyRpGZLW9w8HnHvVduizdL5jKNbs",
            signature,
            &["--at", at],
            1,
            "signature verification failed",
        ),
        // A mixed-case CashAddr is malformed input.
        (
            "bitcoincash:QPgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qm6",
            signature,
            &["--at", at],
            2,
            "address",
        ),
    ];
    for (address, sig, extra, code, phrase) in refusals {
        let mut args = vec![
            "payload",
            "verify",
            "--payload-file",
            file,
            "--address",
            address,
            "--signature",
            sig,
        ];
        args.extend_from_slice(extra);
        let run = sigil(&args);
        run.assert_code(code);
        assert!(
            run.stderr.contains(phrase),
            "{:?} lacks {phrase:?}",
            run.stderr
        );
    }
}

#[test]
fn payload_sign_then_verify_now_and_refuse_changes() {
    let (wif, _, _) = keygen(&[]);
    let signed = sigil_with_wif(
        &wif,
        &[
            "payload",
            "sign",
            "--requested-by",
            "app.example.com:8443",
            "--data",
            r#"{"é":"€ 😀","2":[1.0,1e21]}"#,
        ],
    )
    .assert_code(0)
    .json();
    let text = signed["payload"].as_str().unwrap();
    assert!(
        text.contains(r#""data":{"2":[1,1e+21],"é":"€ 😀"}"#),
        "JSON.stringify order and numbers: {text}"
    );
    let file = temp_file("roundtrip", text);
    let args = |file: &str| {
        vec![
            "--json".to_owned(),
            "payload".into(),
            "verify".into(),
            "--payload-file".into(),
            file.into(),
            "--address".into(),
            signed["address"].as_str().unwrap().into(),
            "--signature".into(),
            signed["signature"].as_str().unwrap().into(),
            "--requested-by".into(),
            "app.example.com:8443".into(),
        ]
    };
    let ok = sigil(
        &args(file.to_str().unwrap())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(ok.assert_code(0).json()["signedBy"], "Signup.cash");
    let changed = temp_file("changed", &text.replace("8443", "8444"));
    let refused = sigil(
        &args(changed.to_str().unwrap())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    refused.assert_code(1);
    assert_eq!(refused.json()["verified"], false);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("signature verification failed"),
        "{}",
        refused.stdout
    );
}

/// A decodable (unsigned) access token for `inspect`.
const TOKEN: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImsifQ.eyJhdWQiOiJodHRwczovL2FwaS5leGFtcGxlLmNvbS94In0.c2ln";

/// A server that refuses the connection: exit 3 (`UNREACHABLE`,
/// docs/protocol.md §14) and one line asking whether sigil runs there, for
/// every command that reaches a server.
#[test]
fn refused_connections_exit_3_and_ask_whether_sigil_runs() {
    let (wif, _, _) = keygen(&[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    for args in [
        vec![
            "token",
            "--server",
            &server,
            "--endpoint",
            "https://api.example.com/x",
        ],
        vec!["call", "--server", &server, "https://api.example.com/x"],
        vec!["inspect", "--server", &server, TOKEN],
    ] {
        let run = sigil_with_wif(&wif, &args);
        run.assert_code(3);
        let question = format!("is sigil running at {server}?");
        assert!(run.stderr.contains(&question), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr.matches("Connection refused").count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// `sigil payload verify --from-file` reads what `sigil payload sign`
/// prints, from a file or standard input.
#[test]
fn payload_sign_output_is_what_verify_reads() {
    let (wif, _, _) = keygen(&[]);
    let signed = sigil_with_wif(
        &wif,
        &[
            "payload",
            "sign",
            "--requested-by",
            "app.example.com",
            "--data",
            r#"{"action":"login"}"#,
        ],
    );
    signed.assert_code(0);
    let file = temp_file("signed.json", &signed.stdout);
    let from_file = sigil(&[
        "--json",
        "payload",
        "verify",
        "--from-file",
        file.to_str().expect("UTF-8"),
        "--requested-by",
        "app.example.com",
    ]);
    assert_eq!(from_file.assert_code(0).json()["verified"], true);
    let piped = run_with(
        &["--json", "payload", "verify", "--from-file", "-"],
        None,
        Some(&signed.stdout),
    );
    let report = piped.assert_code(0).json();
    assert_eq!(report["requestedBy"], "app.example.com");
    assert_eq!(report["signedBy"], "Signup.cash");

    // Another host than the one signed for: refused (exit 1).
    let other = sigil(&[
        "payload",
        "verify",
        "--from-file",
        file.to_str().expect("UTF-8"),
        "--requested-by",
        "evil.example.com",
    ]);
    other.assert_code(1);
    assert!(
        other
            .stderr
            .contains("is not an allowed host (allowed: \"evil.example.com\")"),
        "the refusal names the allowed hosts: {}",
        other.stderr
    );
    // Not the signed object: a usage error naming the expected form.
    let bad = temp_file("signed-bad.json", r#"{"payload":{"a":1}}"#);
    let refused = sigil(&[
        "payload",
        "verify",
        "--from-file",
        bad.to_str().expect("UTF-8"),
    ]);
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("payload sign"),
        "{}",
        refused.stderr
    );
    // --from-file with --address is a clap usage error.
    sigil(&[
        "payload",
        "verify",
        "--from-file",
        file.to_str().expect("UTF-8"),
        "--address",
        "1x",
    ])
    .assert_code(2);
    std::fs::remove_file(&file).expect("clean up");
    std::fs::remove_file(&bad).expect("clean up");
}

/// `keys …` and `accounts …` on an SQLite file that does not exist refuse
/// (exit 2) and create nothing; only `sigil serve` creates the database.
#[test]
fn admin_commands_refuse_a_database_that_does_not_exist() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigil-cli-no-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("typo.db");
    let url = format!("sqlite://{}", path.display());
    let pubkey = keygen(&[]).1;
    for args in [
        vec!["keys", "list"],
        vec!["keys", "rotate"],
        vec!["keys", "seal"],
        vec!["accounts", "list"],
        vec!["accounts", "add", &pubkey],
        vec!["accounts", "revoke", &pubkey],
    ] {
        let mut args = args.clone();
        args.extend_from_slice(&["--database", &url]);
        let run = sigil(&args);
        run.assert_code(2);
        let want = format!(
            "no database at {}; start `sigil serve` once or check --database",
            path.display()
        );
        assert!(run.stderr.contains(&want), "{args:?}: {}", run.stderr);
        assert!(!path.exists(), "{args:?} created the database");
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// A new, empty SQLite database (what a first `sigil serve` creates) in a
/// fresh directory: its `sqlite://` URL.
fn created_database(name: &str) -> (std::path::PathBuf, String) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigil-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("sigil.db").display());
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(async {
            let store = sigil_store::Store::open(&url).await.expect("created");
            store.close().await.expect("closed");
        });
    (dir, url)
}

/// Exactly one JSON document on standard output, and nothing else.
#[track_caller]
fn one_document(args: &[&str], run: &Run) -> Value {
    let mut documents = serde_json::Deserializer::from_str(&run.stdout).into_iter::<Value>();
    let first = documents
        .next()
        .unwrap_or_else(|| panic!("{args:?}: no JSON on stdout ({})", run.stderr))
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {:?}", run.stdout));
    assert!(
        documents.next().is_none(),
        "{args:?}: more than one document: {:?}",
        run.stdout
    );
    assert!(first.is_object() || first.is_array(), "{args:?}: {first}");
    first
}

/// Every subcommand with `--json` (the server clients `token`, `call` and
/// `inspect` are tested against a server in tests/server) prints one JSON
/// document, success or verification failure, with `--json` before or
/// after the subcommand.
#[test]
fn json_is_one_document_everywhere() {
    for position in ["first", "last"] {
        json_documents(position);
    }
    // serve --print-config --json is the configuration itself.
    let config = one_document(&[], &sigil(&["serve", "--print-config", "--json"]));
    assert_eq!(config["listen"], "127.0.0.1:1911");
    assert_eq!(config["issuer"], "http://localhost:1911");
}

/// The cases of [`json_is_one_document_everywhere`], `--json` put `first`
/// or `last`, on a database of their own.
fn json_documents(position: &str) {
    let (dir, url) = created_database(&format!("json-{position}"));
    let (wif, pubkey, address) = keygen(&[]);
    let signature = sign(&wif, "bsm", "m");
    let signed = sigil_with_wif(
        &wif,
        &[
            "payload",
            "sign",
            "--requested-by",
            "a.example",
            "--data",
            "1",
        ],
    );
    let signed_file = dir.join("signed.json");
    std::fs::write(&signed_file, &signed.stdout).expect("written");
    let signed_path = signed_file.to_str().expect("UTF-8");
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["keygen"], 0),
        (vec!["keygen", "--testnet"], 0),
        (vec!["sign", "m"], 0),
        (vec!["sign", "--scheme", "brc77", "m"], 0),
        (
            vec![
                "verify",
                "--pubkey",
                &pubkey,
                "--signature",
                &signature,
                "m",
            ],
            0,
        ),
        (
            vec![
                "verify",
                "--address",
                &address,
                "--signature",
                &signature,
                "other",
            ],
            1,
        ),
        (
            vec!["verify", "--pubkey", &pubkey, "--signature", "garbage", "m"],
            2,
        ),
        (vec!["auth-token", "--path", "/x", "--body", "{}"], 0),
        (
            vec![
                "payload",
                "sign",
                "--requested-by",
                "a.example",
                "--data",
                "{}",
            ],
            0,
        ),
        (vec!["payload", "verify", "--from-file", signed_path], 0),
        (
            vec![
                "payload",
                "verify",
                "--from-file",
                signed_path,
                "--requested-by",
                "b.example",
            ],
            1,
        ),
        (vec!["serve", "--print-config"], 0),
        (vec!["keys", "rotate", "--database", &url], 0),
        (vec!["keys", "list", "--database", &url], 0),
        (
            vec![
                "accounts",
                "add",
                &pubkey,
                "--name",
                "n",
                "--database",
                &url,
            ],
            0,
        ),
        (vec!["accounts", "list", "--database", &url], 0),
        (
            vec![
                "accounts",
                "update",
                &pubkey,
                "--bap-id",
                "B",
                "--database",
                &url,
            ],
            0,
        ),
        (vec!["accounts", "revoke", &pubkey, "--database", &url], 0),
        (vec!["accounts", "unrevoke", &pubkey, "--database", &url], 0),
        (vec!["accounts", "remove", &pubkey, "--database", &url], 0),
    ];
    for (args, code) in &cases {
        let mut full = args.clone();
        if position == "first" {
            full.insert(0, "--json");
        } else {
            full.push("--json");
        }
        let run = run_with(&full, Some(&wif), None);
        run.assert_code(*code);
        one_document(&full, &run);
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// `accounts update`, `unrevoke` and `remove` change the registry as they
/// say; unknown keys and empty updates are refused (exit 2).
#[test]
fn accounts_update_unrevoke_and_remove() {
    let (dir, url) = created_database("accounts");
    let pubkey = keygen(&[]).1;
    let accounts = |args: &[&str]| {
        let mut full = vec!["--json", "accounts"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--database", &url]);
        sigil(&full)
    };
    let added = accounts(&["add", &pubkey, "--name", "svc", "--bap-id", "B1"]);
    added.assert_code(0);

    let renamed = accounts(&[
        "update",
        &pubkey,
        "--name",
        "billing",
        "--audience",
        "https://api.example.com/",
    ]);
    let renamed = renamed.assert_code(0).json();
    assert_eq!(renamed["name"], "billing");
    assert_eq!(renamed["bap_id"], "B1", "kept");
    assert_eq!(
        renamed["audiences"],
        serde_json::json!(["https://api.example.com/"])
    );
    let cleared = accounts(&["update", &pubkey, "--clear-bap-id", "--any-audience"]);
    let cleared = cleared.assert_code(0).json();
    assert_eq!(cleared["name"], "billing", "kept");
    assert_eq!(cleared["bap_id"], Value::Null);
    assert_eq!(cleared["audiences"], serde_json::json!([]));

    let revoked = accounts(&["revoke", &pubkey]).assert_code(0).json();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let still = accounts(&["update", &pubkey, "--name", "x"])
        .assert_code(0)
        .json();
    assert!(
        still["revoked_at"].is_string(),
        "an update keeps the revocation"
    );
    let active = accounts(&["unrevoke", &pubkey]).assert_code(0).json();
    assert_eq!(active["revoked_at"], Value::Null);
    let listed = accounts(&["list"]).assert_code(0).json();
    assert_eq!(listed[0]["revoked_at"], Value::Null);
    assert_eq!(listed[0]["name"], "x");

    let removed = accounts(&["remove", &pubkey]).assert_code(0).json();
    assert_eq!(removed["removed"], true);
    assert_eq!(
        accounts(&["list"]).assert_code(0).json(),
        serde_json::json!([])
    );

    // Refusals: unknown key, no change named, a bad audience.
    for args in [
        vec!["remove", pubkey.as_str()],
        vec!["unrevoke", pubkey.as_str()],
        vec!["update", pubkey.as_str(), "--name", "y"],
    ] {
        let run = accounts(&args);
        run.assert_code(2);
        assert!(
            run.stderr.contains("no account for"),
            "{args:?}: {}",
            run.stderr
        );
    }
    accounts(&["add", &pubkey]).assert_code(0);
    accounts(&["update", &pubkey]).assert_code(2);
    accounts(&["update", &pubkey, "--name", "a", "--clear-name"]).assert_code(2);
    let bad = accounts(&["update", &pubkey, "--audience", "not a url"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("--audience"), "{}", bad.stderr);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Refusals name the field once: no `issuer: …: endpoint: …` or
/// `WIF …: wif: …` doubled prefixes.
#[test]
fn refusals_name_the_field_once() {
    let (dir, url) = created_database("prefixes");
    let wif_file = dir.join("bad.wif");
    std::fs::write(&wif_file, "5Hbad\n").expect("written");
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["sign", "--wif-file", wif_file.to_str().expect("UTF-8"), "m"],
            "the WIF from --wif-file",
            ": wif:",
        ),
        (
            vec!["accounts", "add", "02zz", "--database", &url],
            "public key:",
            "pubkey: public key",
        ),
        (
            vec![
                "accounts",
                "add",
                "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
                "--audience",
                "ftp://x",
                "--database",
                &url,
            ],
            "--audience \"ftp://x\": must be an absolute http",
            "endpoint:",
        ),
        (
            vec!["serve", "--issuer", "ftp://x", "--print-config"],
            "issuer: \"ftp://x\": must be an absolute http",
            "endpoint:",
        ),
    ];
    for (args, want, doubled) in cases {
        let run = sigil(&args);
        run.assert_code(2);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains(doubled), "{args:?}: {}", run.stderr);
    }
    // An unknown SIGIL_ variable names the closest known one.
    let mut command = Command::new(env!("CARGO_BIN_EXE_sigil"));
    let typo = command
        .args(["serve", "--print-config"])
        .env("SIGIL_LISTNE", "127.0.0.1:1")
        .output()
        .expect("runs");
    assert_eq!(typo.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(
        stderr.contains("unknown variable SIGIL_LISTNE; did you mean SIGIL_LISTEN?"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
