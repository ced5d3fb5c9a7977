//! `JSON.stringify` as V8 writes it, for values that came from JSON text.

use std::fmt::Write as _;

use super::number::write_json_number;
use super::value::{JsString, JsValue};

/// Writes `value` exactly as JavaScript's `JSON.stringify(value)` does
/// (ECMA-262 `JSON.stringify` with no replacer and no indentation, object
/// key order of `OrdinaryOwnPropertyKeys`; byte-for-byte what V8 writes):
///
/// - no whitespace anywhere;
/// - object members in JavaScript property order: first every array-index
///   key (canonical decimal `"0"` ..= `"4294967294"`, see
///   [`JsString::array_index`]) in ascending numeric order, then every other
///   key in insertion order: `{"b":1,"2":0,"a":2,"10":0}` is written
///   `{"2":0,"10":0,"b":1,"a":2}`;
/// - strings: `"` and `\` escaped, U+0008 U+0009 U+000A U+000C U+000D as
///   `\b \t \n \f \r`, other U+0000–U+001F as `\u00xx` (lower-case hex), a
///   lone surrogate as `\ud` and three lower-case hex digits (e.g. `\ud800`); everything else, `/`,
///   U+007F, U+2028 and U+2029 included, as raw UTF-8;
/// - numbers as `Number::toString` writes them: shortest round-trip digits,
///   `1` for `1.0`, `0` for `-0`, `1e+21` from 10²¹ up and `1e-7` below
///   10⁻⁶, plain decimals in between; `NaN` and ±infinity as `null`.
///
/// A `serde_json::Value` cannot be given here: without serde_json's
/// `preserve_order` feature its objects are already sorted, and it cannot
/// hold lone surrogates or `1e400`. Parse the text with [`JsValue::parse`].
///
/// # Examples
/// ```
/// use sigil_core::payload::{JsValue, stringify};
///
/// let value = JsValue::parse(r#"{ "b": 1.0, "2": "two", "a": 1e21, "10": -0 }"#)?;
/// assert_eq!(stringify(&value), r#"{"2":"two","10":0,"b":1,"a":1e+21}"#);
/// # Ok::<(), sigil_core::Error>(())
/// ```
#[must_use]
pub fn stringify(value: &JsValue) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &JsValue) {
    match value {
        JsValue::Null => out.push_str("null"),
        JsValue::Bool(true) => out.push_str("true"),
        JsValue::Bool(false) => out.push_str("false"),
        JsValue::Number(number) => write_json_number(out, *number),
        JsValue::String(text) => write_string(out, text),
        JsValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        JsValue::Object(members) => {
            out.push('{');
            for (i, (key, item)) in property_order(members).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Array-index keys first, ascending; then the rest in insertion order.
fn property_order(members: &[(JsString, JsValue)]) -> Vec<&(JsString, JsValue)> {
    let mut indexed: Vec<(u32, &(JsString, JsValue))> = members
        .iter()
        .filter_map(|member| member.0.array_index().map(|i| (i, member)))
        .collect();
    indexed.sort_by_key(|&(i, _)| i); // stable: repeats (hand-built) keep their order
    let mut ordered: Vec<&(JsString, JsValue)> = indexed.into_iter().map(|(_, m)| m).collect();
    ordered.extend(members.iter().filter(|m| m.0.array_index().is_none()));
    ordered
}

/// Writes a string with `JSON.stringify`'s escapes (ECMA-262 `QuoteJSONString`).
pub(crate) fn write_string(out: &mut String, text: &JsString) {
    out.push('"');
    for c in text.chars() {
        match c {
            Ok('"') => out.push_str("\\\""),
            Ok('\\') => out.push_str("\\\\"),
            Ok('\u{8}') => out.push_str("\\b"),
            Ok('\t') => out.push_str("\\t"),
            Ok('\n') => out.push_str("\\n"),
            Ok('\u{c}') => out.push_str("\\f"),
            Ok('\r') => out.push_str("\\r"),
            Ok(c) if c < ' ' => {
                write!(out, "\\u{:04x}", u32::from(c)).expect("writing to a String cannot fail");
            }
            Ok(c) => out.push(c),
            Err(lone) => {
                write!(out, "\\u{lone:04x}").expect("writing to a String cannot fail");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_values() {
        let value = JsValue::object([
            ("z", JsValue::from("a\u{0}\u{1f}\u{7f}\u{2028}/é😀")),
            (
                "1",
                JsValue::Array(vec![JsValue::Null, true.into(), 0.5.into()]),
            ),
            (
                "lone",
                JsValue::String(JsString::from_utf16(vec![0x61, 0xDC00])),
            ),
            ("0", JsValue::Object(vec![])),
        ]);
        assert_eq!(
            stringify(&value),
            "{\"0\":{},\"1\":[null,true,0.5],\"z\":\"a\\u0000\\u001f\u{7f}\u{2028}/é😀\",\"lone\":\"a\\udc00\"}"
        );
    }

    #[test]
    fn object_builder_keeps_first_position_last_value() {
        let value = JsValue::object([
            ("a", JsValue::from(1.0)),
            ("b", 2.0.into()),
            ("a", 3.0.into()),
        ]);
        assert_eq!(stringify(&value), r#"{"a":3,"b":2}"#);
    }
}
