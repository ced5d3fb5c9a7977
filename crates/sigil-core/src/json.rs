//! JSON parsing for JOSE inputs that refuses what `serde_json::Value`
//! silently accepts: duplicate object members (serde_json keeps the last
//! one, so `{"alg":"none","alg":"ES256"}` would read as ES256 in one parser
//! and `none` in another; RFC 8725 section 2.6, security catalogue T11).
//!
//! Input must be valid UTF-8; nesting is bounded by serde_json's recursion
//! limit (128) and by the callers' size limits.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value whose objects, at every depth, have no duplicate members.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::Number(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
        Number::from_f64(v)
            .map(|n| Strict(Value::Number(n)))
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Strict(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member {}",
                    quoted(&name)
                )));
            }
            let Strict(value) = map.next_value()?;
            members.insert(name, value);
        }
        Ok(Strict(Value::Object(members)))
    }
}

/// Parses `bytes` as one JSON object with no duplicate members anywhere.
///
/// The error is a short lower-case reason: `not valid UTF-8`, `not an
/// object`, `duplicate member "alg"`, or serde_json's syntax message.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())?;
    match serde_json::from_str::<Strict>(text) {
        Ok(Strict(Value::Object(members))) => Ok(members),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// `text` quoted for an error message: escaped and cut to 64 characters, so
/// attacker-chosen names (10 KB, NUL bytes, newlines) stay harmless.
pub fn quoted(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_at_every_depth() {
        assert!(parse_object(br#"{"alg":"ES256","kid":"a"}"#).is_ok());
        let err = parse_object(br#"{"alg":"none","alg":"ES256"}"#).unwrap_err();
        assert!(err.contains(r#"duplicate member "alg""#), "{err}");
        assert!(parse_object(br#"{"jwk":{"x":"1","x":"2"}}"#).is_err());
        assert!(parse_object(br#"{"a":[{"b":1,"b":1}]}"#).is_err());
        assert!(
            parse_object(br#"{"a":1,"A":1}"#).is_ok(),
            "names are case-sensitive"
        );
    }

    #[test]
    fn other_refusals() {
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}").unwrap_err(),
            "not valid UTF-8"
        );
        assert_eq!(parse_object(b"[1]").unwrap_err(), "not a JSON object");
        assert!(parse_object(b"{\"a\":1} x").is_err());
        assert!(
            parse_object(br#"{"a":"\ud800"}"#).is_err(),
            "lone surrogate"
        );
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(parse_object(deep.as_bytes()).is_err(), "recursion limit");
    }

    #[test]
    fn numbers_keep_their_kind() {
        let m = parse_object(br#"{"i":-1,"u":18446744073709551615,"f":1.5,"e":1e3}"#).unwrap();
        assert!(m["i"].is_i64());
        assert!(m["u"].is_u64());
        assert!(m["f"].is_f64());
        assert!(m["e"].is_f64());
    }

    #[test]
    fn quoting_cuts_and_escapes() {
        assert_eq!(quoted("a\0b"), r#""a\0b""#);
        assert!(quoted(&"k".repeat(10_000)).chars().count() < 80);
    }
}
