//! Writing results to standard output: `key: value` lines or one JSON object.
//!
//! Writes go through `io::Result` (not `println!`) so that a closed pipe is an
//! error message, not a panic.

use std::io::Write as _;

use anyhow::Context as _;
use serde::Serialize;

/// Writes `value` as one line of compact JSON.
///
/// # Errors
/// When standard output cannot be written.
pub(crate) fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    write(&json_text(value)?)
}

/// `value` as one line of compact JSON, with its newline.
///
/// # Errors
/// When `value` cannot be encoded.
pub(crate) fn json_text<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut text = serde_json::to_string(value).context("encoding the JSON output")?;
    text.push('\n');
    Ok(text)
}

/// Writes `key: value` lines.
///
/// # Errors
/// When standard output cannot be written.
pub(crate) fn fields(pairs: &[(&str, &str)]) -> anyhow::Result<()> {
    write(&fields_text(pairs))
}

/// `key: value` lines.
pub(crate) fn fields_text(pairs: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (key, value) in pairs {
        text.push_str(key);
        text.push_str(": ");
        text.push_str(value);
        text.push('\n');
    }
    text
}

/// Writes a table: a header row of the column names, then `rows`, each
/// column left-aligned to its width (the last one is not padded).
///
/// # Errors
/// When standard output cannot be written.
pub(crate) fn table(columns: &[(&str, usize)], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let header: Vec<String> = columns.iter().map(|(name, _)| (*name).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(columns)
            .map(|(cell, (_, width))| format!("{cell:<width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    write(&text)
}

/// Writes `text` followed by a newline.
///
/// # Errors
/// When standard output cannot be written.
pub(crate) fn line(text: &str) -> anyhow::Result<()> {
    write(&format!("{text}\n"))
}

fn write(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to standard output")
}
