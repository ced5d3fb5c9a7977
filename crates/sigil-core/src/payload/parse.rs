//! A JSON parser that reads text as JavaScript's `JSON.parse` does (RFC 8259
//! grammar, member order kept, lone surrogates kept, numbers as doubles),
//! and that can refuse repeated keys instead of letting the last one win.

use std::collections::HashMap;
use std::ops::Range;

use super::value::{JsString, JsValue};
use crate::json::quoted;

/// Deeper nesting is refused (JavaScript's limit is the stack; a payload
/// never comes close).
const MAX_DEPTH: usize = 128;

/// What to do with a key that appears twice in one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Duplicates {
    /// `JSON.parse`: first position, last value.
    LastWins,
    /// Refuse the text (JSON.stringify never writes a repeated key).
    Refuse,
}

/// A parsed text, with the byte ranges of the top-level object's member
/// values (so a caller can read a number exactly as it was written).
pub(crate) struct Parsed {
    pub(crate) value: JsValue,
    pub(crate) member_spans: Vec<(JsString, Range<usize>)>,
}

/// Parses `text`; the error is a lower-case reason with a byte offset.
pub(crate) fn parse(text: &str, duplicates: Duplicates) -> Result<Parsed, String> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        duplicates,
        member_spans: Vec::new(),
    };
    let value = parser.value()?;
    parser.whitespace();
    if parser.pos < text.len() {
        return Err(parser.unexpected("after the JSON value"));
    }
    Ok(Parsed {
        value,
        member_spans: parser.member_spans,
    })
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    duplicates: Duplicates,
    member_spans: Vec<(JsString, Range<usize>)>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, context: &str) -> String {
        match self.text[self.pos..].chars().next() {
            Some(c) => format!("unexpected character {c:?} {context} at byte {}", self.pos),
            None => format!("unexpected end of input {context}"),
        }
    }

    fn expect(&mut self, byte: u8, context: &str) -> Result<(), String> {
        self.whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(context))
        }
    }

    fn value(&mut self) -> Result<JsValue, String> {
        self.whitespace();
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(JsValue::String),
            Some(b't') => self.literal("true", JsValue::Bool(true)),
            Some(b'f') => self.literal("false", JsValue::Bool(false)),
            Some(b'n') => self.literal("null", JsValue::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("where a value was expected")),
        }
    }

    fn nested(
        &mut self,
        inner: fn(&mut Self) -> Result<JsValue, String>,
    ) -> Result<JsValue, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "nesting deeper than {MAX_DEPTH} levels at byte {}",
                self.pos
            ));
        }
        self.pos += 1; // the opening bracket
        let value = inner(self)?;
        self.depth -= 1;
        Ok(value)
    }

    fn literal(&mut self, word: &str, value: JsValue) -> Result<JsValue, String> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected("where a value was expected"))
        }
    }

    fn array(&mut self) -> Result<JsValue, String> {
        let mut items = Vec::new();
        self.whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(JsValue::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(JsValue::Array(items));
                }
                _ => return Err(self.unexpected("where ',' or ']' was expected")),
            }
        }
    }

    fn object(&mut self) -> Result<JsValue, String> {
        let mut members: Vec<(JsString, JsValue)> = Vec::new();
        let mut index: HashMap<JsString, usize> = HashMap::new();
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(JsValue::Object(members));
        }
        loop {
            self.whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("where an object key was expected"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            self.expect(b':', "where ':' was expected after an object key")?;
            self.whitespace();
            let start = self.pos;
            let value = self.value()?;
            if self.depth == 1 {
                self.member_spans.push((key.clone(), start..self.pos));
            }
            match index.get(&key) {
                Some(_) if self.duplicates == Duplicates::Refuse => {
                    let place = if self.depth == 1 {
                        ""
                    } else {
                        " in a nested object"
                    };
                    return Err(format!(
                        "duplicate key {}{place} at byte {key_at}",
                        quoted(&key.to_string_lossy())
                    ));
                }
                Some(&i) => members[i].1 = value,
                None => {
                    index.insert(key.clone(), members.len());
                    members.push((key, value));
                }
            }
            self.whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(JsValue::Object(members));
                }
                _ => return Err(self.unexpected("where ',' or '}' was expected")),
            }
        }
    }

    /// A string token starting at the opening quote.
    fn string(&mut self) -> Result<JsString, String> {
        self.pos += 1;
        let mut units: Vec<u16> = Vec::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Stops only at ASCII bytes, so the run is whole characters.
            units.extend(self.text[run_start..self.pos].encode_utf16());
            match self.peek() {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(JsString::from_utf16(units));
                }
                Some(b'\\') => units.push(self.escape()?),
                Some(b) => {
                    return Err(format!(
                        "control character U+{b:04X} inside a string at byte {} (it must be escaped)",
                        self.pos
                    ));
                }
            }
        }
    }

    /// One escape starting at the backslash; `\u` with four hex digits gives one UTF-16 unit
    /// (surrogate pairs are joined by [`JsString::from_utf16`]).
    fn escape(&mut self) -> Result<u16, String> {
        let at = self.pos;
        let bad = || format!("invalid escape sequence at byte {at}");
        let unit = match self.bytes.get(at + 1).copied() {
            Some(b'"') => u16::from(b'"'),
            Some(b'\\') => u16::from(b'\\'),
            Some(b'/') => u16::from(b'/'),
            Some(b'b') => 0x08,
            Some(b'f') => 0x0C,
            Some(b'n') => u16::from(b'\n'),
            Some(b'r') => u16::from(b'\r'),
            Some(b't') => u16::from(b'\t'),
            Some(b'u') => {
                let hex = self.text.get(at + 2..at + 6).ok_or_else(bad)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad());
                }
                self.pos = at + 6;
                return u16::from_str_radix(hex, 16).map_err(|_| bad());
            }
            _ => return Err(bad()),
        };
        self.pos = at + 2;
        Ok(unit)
    }

    /// A number token (RFC 8259 grammar), read as the nearest double.
    fn number(&mut self) -> Result<JsValue, String> {
        let start = self.pos;
        let bad = |at: usize| format!("malformed number at byte {at}");
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(bad(start)),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(start));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(start));
            }
            self.digits();
        }
        // Rust's conversion is correctly rounded, as ECMAScript requires, and
        // gives ±infinity beyond the double range (JavaScript: ±Infinity).
        self.text[start..self.pos]
            .parse::<f64>()
            .map(JsValue::Number)
            .map_err(|_| bad(start))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refuse(text: &str) -> String {
        parse(text, Duplicates::LastWins)
            .err()
            .unwrap_or_else(|| panic!("{text:?} parsed"))
    }

    #[test]
    fn grammar_refusals() {
        for text in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "1e",
            "0x10",
            "NaN",
            "Infinity",
            "'a'",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"tab\there\"",
            "{\"a\" 1}",
            "{a:1}",
            "[1] [2]",
            "\u{feff}{}",
            "tru",
            "nul",
        ] {
            assert!(parse(text, Duplicates::LastWins).is_err(), "{text:?}");
        }
        assert!(refuse("\"a\nb\"").contains("control character U+000A"));
        assert!(refuse("[1] x").contains("after the JSON value"));
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok, Duplicates::LastWins).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(refuse(&deep).contains("nesting deeper than 128"));
    }

    #[test]
    fn duplicates_last_wins_or_refused() {
        let parsed = parse(r#"{"a":1,"b":2,"a":3}"#, Duplicates::LastWins).unwrap();
        assert_eq!(
            parsed.value,
            JsValue::Object(vec![
                ("a".into(), JsValue::Number(3.0)),
                ("b".into(), JsValue::Number(2.0)),
            ])
        );
        let err = parse(r#"{"a":1,"a":1}"#, Duplicates::Refuse).err().unwrap();
        assert_eq!(err, r#"duplicate key "a" at byte 7"#);
        let err = parse(r#"{"x":{"a":1,"a":1}}"#, Duplicates::Refuse)
            .err()
            .unwrap();
        assert!(
            err.contains(r#"duplicate key "a" in a nested object"#),
            "{err}"
        );
        // "\u0061" is the key "a": the same key in another spelling.
        assert!(parse(r#"{"a":1,"\u0061":2}"#, Duplicates::Refuse).is_err());
    }

    #[test]
    fn strings_and_numbers_as_javascript_reads_them() {
        let parsed = parse(
            r#"["\ud83d\ude00","\ud800",1e400,-0,9007199254740993]"#,
            Duplicates::LastWins,
        )
        .unwrap()
        .value;
        let JsValue::Array(items) = parsed else {
            panic!("array")
        };
        assert_eq!(items[0].as_str(), Some("😀"));
        assert_eq!(
            items[1],
            JsValue::String(JsString::from_utf16(vec![0xD800]))
        );
        assert_eq!(items[2], JsValue::Number(f64::INFINITY));
        assert!(matches!(items[3], JsValue::Number(z) if z == 0.0 && z.is_sign_negative()));
        assert_eq!(items[4], JsValue::Number(9_007_199_254_740_992.0));
    }

    #[test]
    fn top_level_member_spans() {
        let text = r#"{ "a" : 1.50 , "b":{"c":2} }"#;
        let parsed = parse(text, Duplicates::Refuse).unwrap();
        let spans: Vec<(String, &str)> = parsed
            .member_spans
            .iter()
            .map(|(k, r)| (k.to_string_lossy().into_owned(), &text[r.clone()]))
            .collect();
        assert_eq!(spans, [("a".into(), "1.50"), ("b".into(), r#"{"c":2}"#)]);
    }
}
