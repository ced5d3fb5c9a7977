//! The database file's permissions: owner only (0600).
//!
//! The database holds the signing keys (sealed or not) and the account
//! registry. SQLite creates a new file with mode 0644 (less the umask) and
//! gives the `-wal` and `-shm` files the mode of the main file, so the main
//! file is created here, 0600, before SQLite opens it; a file found
//! readable by the group or by others is tightened to 0600, with a warning.
//! See `docs/decisions/0011-keys-at-rest.md`.

use std::path::Path;

use crate::error::{Error, Result};

/// Owner read and write.
#[cfg(unix)]
const OWNER_ONLY: u32 = 0o600;

/// Creates `path` with mode 0600 when it does not exist; tightens the modes
/// of an existing database and of its `-wal` and `-shm` files to 0600 when
/// the group or others may read or write them.
///
/// # Errors
///
/// [`Error::Unavailable`] when the file cannot be created or its mode
/// changed.
#[cfg(unix)]
pub(super) fn secure(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;

    // No truncation: an existing database is left as it is. An empty file
    // is a new, empty database to SQLite.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(OWNER_ONLY)
        .open(path)
        .map_err(|e| Error::unavailable(format!("cannot create the database file: {e}")))?;
    tighten(path)?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        tighten(Path::new(&companion))?;
    }
    Ok(())
}

/// Nothing to do where there are no Unix modes.
#[cfg(not(unix))]
pub(super) fn secure(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn tighten(file: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;

    let metadata = match std::fs::metadata(file) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::unavailable(format!(
                "cannot read the mode of {}: {e}",
                file.display()
            )));
        }
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(OWNER_ONLY)).map_err(|e| {
        Error::unavailable(format!(
            "{} is readable by other users (mode {mode:o}) and its mode cannot be changed to 600: {e}",
            file.display()
        ))
    })?;
    tracing::warn!(
        file = %file.display(),
        was = format_args!("{mode:o}"),
        "the database file was accessible to other users; its mode is now 600 (owner only)"
    );
    Ok(())
}
