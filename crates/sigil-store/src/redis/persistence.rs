//! Whether a Redis restart keeps the replay records (docs/protocol.md §12).
//!
//! Only the append-only file keeps every record: without it a restart
//! loads the last RDB snapshot at best, and every record written since is
//! gone, so a statement used just before the restart verifies again while
//! it is still inside its signature window.

use tracing::debug;

use super::RedisReplayStore;
use crate::error::Result;
use crate::replay::Durability;

/// Reads `CONFIG GET appendonly`; where `CONFIG` is refused, `INFO
/// persistence`'s `aof_enabled`.
pub(super) async fn read(store: &RedisReplayStore) -> Result<Durability> {
    let mut config = redis::cmd("CONFIG");
    config.arg("GET").arg("appendonly");
    match store
        .query::<redis::Value>("reading the persistence settings", &config)
        .await
    {
        Ok(answer) => {
            if let Some(durability) = from_config(&answer) {
                return Ok(durability);
            }
            debug!(?answer, "CONFIG GET appendonly gave no value; reading INFO");
        }
        Err(error) => debug!(%error, "CONFIG GET refused; reading INFO persistence"),
    }
    let mut info = redis::cmd("INFO");
    info.arg("persistence");
    let text: String = store.query("reading INFO persistence", &info).await?;
    Ok(from_info(&text))
}

/// The finding for `appendonly`'s value.
fn finding(aof: bool, source: &str) -> Durability {
    if aof {
        Durability::Durable
    } else {
        Durability::LostOnRestart {
            reason: format!(
                "Redis has no append-only file ({source}): a restart keeps at most its last snapshot"
            ),
        }
    }
}

/// The reply of `CONFIG GET appendonly`: `["appendonly", "yes"]` (RESP2)
/// or a map (RESP3); `None` when it holds no value.
fn from_config(answer: &redis::Value) -> Option<Durability> {
    let pairs: Vec<(String, String)> = match answer {
        redis::Value::Array(items) => items
            .chunks(2)
            .filter_map(|pair| match pair {
                [name, value] => Some((text(name)?, text(value)?)),
                _ => None,
            })
            .collect(),
        redis::Value::Map(items) => items
            .iter()
            .filter_map(|(name, value)| Some((text(name)?, text(value)?)))
            .collect(),
        _ => return None,
    };
    let (_, value) = pairs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("appendonly"))?;
    Some(finding(value.eq_ignore_ascii_case("yes"), "appendonly no"))
}

/// `INFO persistence`'s `aof_enabled:0|1`; a reply without it is taken
/// as no AOF.
fn from_info(text: &str) -> Durability {
    let enabled = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("aof_enabled:"))
        .map(str::trim);
    match enabled {
        Some(value) => finding(value == "1", "INFO persistence: aof_enabled:0"),
        None => Durability::LostOnRestart {
            reason: "INFO persistence does not say whether Redis has an append-only file".into(),
        },
    }
}

fn text(value: &redis::Value) -> Option<String> {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn config_replies() {
        let cases = [
            (
                "resp2 yes",
                Value::Array(vec![bulk("appendonly"), bulk("yes")]),
                Some(true),
            ),
            (
                "resp2 no",
                Value::Array(vec![bulk("appendonly"), bulk("no")]),
                Some(false),
            ),
            (
                "resp3 map",
                Value::Map(vec![(bulk("appendonly"), bulk("yes"))]),
                Some(true),
            ),
            ("empty: CONFIG hid it", Value::Array(vec![]), None),
            ("not an array", Value::Okay, None),
        ];
        for (name, reply, durable) in cases {
            let found = from_config(&reply).map(|d| d == Durability::Durable);
            assert_eq!(found, durable, "{name}");
        }
    }

    #[test]
    fn info_replies() {
        let on = "# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\n";
        let off = "# Persistence\r\nloading:0\r\naof_enabled:0\r\n";
        assert_eq!(from_info(on), Durability::Durable);
        assert!(
            matches!(from_info(off), Durability::LostOnRestart { ref reason } if reason.contains("aof_enabled:0"))
        );
        assert!(matches!(
            from_info("# Persistence\r\n"),
            Durability::LostOnRestart { .. }
        ));
    }
}
