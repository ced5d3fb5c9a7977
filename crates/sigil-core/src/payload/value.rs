//! What `JSON.parse` produces in JavaScript: [`JsValue`] and [`JsString`].
//!
//! `serde_json::Value` cannot stand in for it: without serde_json's
//! `preserve_order` feature (not enabled in this workspace) its objects are
//! sorted by key, its strings cannot hold lone surrogates (`"\ud800"`), and
//! it refuses numbers beyond the double range (`1e400`, which JavaScript
//! reads as `Infinity`). Each of those changes what `JSON.stringify` writes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use crate::error::Result;

/// A JavaScript string: a sequence of UTF-16 code units, which may contain
/// lone surrogates (JSON text can write them as `\ud800`; Rust's `String`
/// cannot hold them).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsString(Repr);

/// `Utf16` only when the units contain a lone surrogate, so that equal
/// strings have equal representations.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Utf8(String),
    Utf16(Vec<u16>),
}

impl JsString {
    /// A string from UTF-16 code units; pairs of surrogates form one character.
    #[must_use]
    pub fn from_utf16(units: Vec<u16>) -> Self {
        match String::from_utf16(&units) {
            Ok(text) => Self(Repr::Utf8(text)),
            Err(_) => Self(Repr::Utf16(units)),
        }
    }

    /// The text, or `None` when the string contains a lone surrogate.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            Repr::Utf8(text) => Some(text),
            Repr::Utf16(_) => None,
        }
    }

    /// The text with every lone surrogate replaced by U+FFFD.
    #[must_use]
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        match &self.0 {
            Repr::Utf8(text) => Cow::Borrowed(text),
            Repr::Utf16(units) => Cow::Owned(String::from_utf16_lossy(units)),
        }
    }

    /// The characters, each lone surrogate as `Err(unit)`.
    pub(crate) fn chars(&self) -> Box<dyn Iterator<Item = Result<char, u16>> + '_> {
        match &self.0 {
            Repr::Utf8(text) => Box::new(text.chars().map(Ok)),
            Repr::Utf16(units) => Box::new(
                char::decode_utf16(units.iter().copied())
                    .map(|r| r.map_err(|e| e.unpaired_surrogate())),
            ),
        }
    }

    /// The value of an array-index key: canonical decimal text of an
    /// integer in 0 ..= 2³² − 2 (`"0"`, `"10"`, not `"01"`, `"-1"`, `"4294967295"`).
    /// JavaScript objects list such keys first, in ascending order.
    #[must_use]
    pub fn array_index(&self) -> Option<u32> {
        let text = self.as_str()?;
        let canonical = !text.is_empty()
            && text.len() <= 10
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        if !canonical {
            return None;
        }
        text.parse::<u32>().ok().filter(|&i| i != u32::MAX)
    }
}

impl From<&str> for JsString {
    fn from(text: &str) -> Self {
        Self(Repr::Utf8(text.to_owned()))
    }
}

impl From<String> for JsString {
    fn from(text: String) -> Self {
        Self(Repr::Utf8(text))
    }
}

impl fmt::Debug for JsString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Utf8(text) => fmt::Debug::fmt(text, f),
            Repr::Utf16(units) => write!(f, "JsString({units:04x?})"),
        }
    }
}

/// A value as JavaScript's `JSON.parse` returns it, with object members in
/// insertion order.
///
/// Build one with [`JsValue::parse`] or by hand; write it with
/// [`stringify()`](super::stringify()).
#[derive(Debug, Clone, PartialEq)]
pub enum JsValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number: always a double, as in JavaScript (so `9007199254740993`
    /// is `9007199254740992.0` and `1e400` is infinite).
    Number(f64),
    /// A string.
    String(JsString),
    /// An array.
    Array(Vec<JsValue>),
    /// An object's members in insertion order. [`stringify()`](super::stringify()) writes
    /// array-index keys ([`JsString::array_index`]) first, as JavaScript
    /// does. Keys are expected to be distinct (a JavaScript object cannot
    /// repeat a key; [`JsValue::parse`] never produces a repeat).
    Object(Vec<(JsString, JsValue)>),
}

impl JsValue {
    /// Parses JSON text exactly as JavaScript's `JSON.parse` does: a
    /// repeated key keeps its first position and its last value
    /// (`{"a":1,"b":2,"a":3}` is `{a: 3, b: 2}`), `\ud800` is a lone
    /// surrogate, numbers are read as the nearest double (`1e400` is
    /// infinite, `-0` is negative zero). Only JSON whitespace (space, tab,
    /// line feed, carriage return) is allowed around tokens; nesting is
    /// limited to 128 levels.
    ///
    /// # Errors
    /// [`crate::Error::Payload`] with the reason and its byte offset.
    pub fn parse(text: &str) -> Result<Self> {
        super::parse::parse(text, super::parse::Duplicates::LastWins)
            .map(|parsed| parsed.value)
            .map_err(|reason| {
                crate::error::PayloadFault::NotJson {
                    reason: reason.to_string(),
                }
                .into()
            })
    }

    /// An object from members in insertion order. A key given twice keeps
    /// its first position and its last value, as in JavaScript.
    #[must_use]
    pub fn object<K: Into<JsString>>(members: impl IntoIterator<Item = (K, JsValue)>) -> Self {
        let mut out: Vec<(JsString, JsValue)> = Vec::new();
        let mut index: HashMap<JsString, usize> = HashMap::new();
        for (key, value) in members {
            let key = key.into();
            match index.get(&key) {
                Some(&i) => out[i].1 = value,
                None => {
                    index.insert(key.clone(), out.len());
                    out.push((key, value));
                }
            }
        }
        Self::Object(out)
    }

    /// The member `key` of an object, `None` for anything else.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&JsValue> {
        match self {
            Self::Object(members) => members
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string value without lone surrogates.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => s.as_str(),
            _ => None,
        }
    }

    /// What `typeof`-like word describes this value in an error message.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }
}

impl From<&str> for JsValue {
    fn from(text: &str) -> Self {
        Self::String(text.into())
    }
}

impl From<String> for JsValue {
    fn from(text: String) -> Self {
        Self::String(text.into())
    }
}

impl From<f64> for JsValue {
    fn from(number: f64) -> Self {
        Self::Number(number)
    }
}

impl From<bool> for JsValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<Vec<JsValue>> for JsValue {
    fn from(items: Vec<JsValue>) -> Self {
        Self::Array(items)
    }
}
