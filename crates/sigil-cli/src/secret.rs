//! Where the private key (WIF) comes from: `--wif-file PATH`, else the
//! `SIGIL_WIF` environment variable, else the first line of standard input;
//! each holds a bare WIF or what `sigil keygen` writes (text or `--json`).
//! Never from a flag's value (docs/protocol.md §14): a value on the command line
//! ends up in shell history and in every process listing. And where a new
//! one goes: a new file readable by its owner only.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::{Context as _, bail};
use sigil_core::PrivateKey;
use zeroize::Zeroize as _;

use crate::cli::KeySource;

/// The environment variable that may hold the WIF.
pub(crate) const WIF_ENV: &str = "SIGIL_WIF";

/// Reads and decodes the private key named by `source`.
///
/// # Errors
/// When a WIF was passed as a flag value, none was found, it cannot be read,
/// or it is not a valid WIF (the error never contains the key).
pub(crate) fn private_key(source: &KeySource) -> anyhow::Result<PrivateKey> {
    if source.refused_wif_flag.is_some() {
        bail!(
            "a WIF is never accepted as a flag value (it is now in your shell history; \
             consider the key exposed); use --wif-file PATH, {WIF_ENV} or standard input"
        );
    }
    let (text, origin) = match &source.wif_file {
        Some(path) => (read_file(path)?, format!("--wif-file {}", path.display())),
        None => match std::env::var(WIF_ENV) {
            Ok(text) => (text, WIF_ENV.to_owned()),
            Err(std::env::VarError::NotUnicode(_)) => bail!("{WIF_ENV} is not valid UTF-8"),
            Err(std::env::VarError::NotPresent) => (read_stdin()?, "standard input".to_owned()),
        },
    };
    let key = decode(&text).with_context(|| format!("the WIF from {origin}"));
    wipe(text);
    key
}

/// The WIF in `text`: what `sigil keygen` writes (its `key: value` lines,
/// the `wif:` one holding the key, or its `--json` object's `wif` member),
/// or a bare WIF on the first non-empty line.
fn decode(text: &str) -> anyhow::Result<PrivateKey> {
    /// `sigil keygen --json`'s object; the other members are ignored. The
    /// WIF is borrowed (base58 has no JSON escapes), never copied.
    #[derive(serde::Deserialize)]
    struct KeygenJson<'a> {
        wif: &'a str,
    }
    let trimmed = text.trim();
    let wif = if trimmed.starts_with('{') {
        serde_json::from_str::<KeygenJson<'_>>(trimmed)
            .map_err(|_| {
                anyhow::anyhow!(
                    "a JSON key file must be an object with a \"wif\" string, as `sigil keygen --json` writes"
                )
            })?
            .wif
            .trim()
    } else {
        let mut lines = trimmed.lines().map(str::trim);
        match lines.clone().find_map(|line| line.strip_prefix("wif:")) {
            Some(wif) => wif.trim(),
            None => lines.find(|line| !line.is_empty()).unwrap_or_default(),
        }
    };
    if wif.is_empty() {
        bail!("no WIF found (give --wif-file PATH, set {WIF_ENV}, or write it on standard input)");
    }
    match PrivateKey::from_wif(wif) {
        Ok(key) => Ok(key),
        // "the WIF from …: <why>", not "…: wif: <why>".
        Err(sigil_core::Error::Wif(why)) => bail!("{why}"),
        Err(e) => Err(e.into()),
    }
}

fn read_file(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading --wif-file {}", path.display()))
}

fn read_stdin() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!(
            "reading the WIF from standard input (or use --wif-file PATH or {WIF_ENV}); \
             it will be echoed:"
        );
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the WIF from standard input")?;
    Ok(line)
}

/// Overwrites the text that held the WIF (best effort: earlier copies made
/// while reading are not reached).
fn wipe(mut text: String) {
    text.zeroize();
}

/// Writes `contents` (holding a private key) to the new file `path`, created
/// with mode 0600 whatever the umask; an existing file is refused, never
/// overwritten or re-permissioned.
///
/// # Errors
/// When `path` exists or cannot be created or written.
pub(crate) fn write_new_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "--out {}: the file exists; a key file is never overwritten (remove it or choose another name)",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("--out {}: cannot create the file", path.display()))
        }
    })?;
    #[cfg(unix)]
    {
        // The umask may have taken bits away (never added any): exactly 0600.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("--out {}: cannot set mode 600", path.display()))?;
    }
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("--out {}: cannot write the key", path.display()))
}
