//! Numbers as JavaScript writes them (ECMA-262 `Number::toString`, radix 10).
//!
//! The digits are the shortest that read back as the same double, the
//! nearest when several are as short, and the even one when two of those are
//! equally near (`1010967912279640.25` → `1010967912279640.2`). Rust's `{:e}`
//! gives the shortest nearest digits but breaks that tie upwards, so
//! [`shortest_digits`] corrects it. The layout rules, with `k` digits and
//! decimal exponent `n` (value = 0.digits × 10ⁿ):
//!
//! - `k ≤ n ≤ 21`: the digits and `n − k` zeros (`1e20` → `100000000000000000000`);
//! - `0 < n ≤ 21`: a decimal point after `n` digits (`1.5`);
//! - `−6 < n ≤ 0`: `0.`, `−n` zeros, the digits (`0.000001`, `0.000025`);
//! - otherwise exponent form `d[.ddd]e±x` (`1e+21`, `1.5e+300`, `1e-7`, `5e-324`).
//!
//! `-0` is written `0`. `JSON.stringify` writes non-finite numbers as `null`.

/// Appends `value` as `JSON.stringify` writes a number.
pub(crate) fn write_json_number(out: &mut String, value: f64) {
    if !value.is_finite() {
        out.push_str("null");
        return;
    }
    if value == 0.0 {
        out.push('0'); // also -0
        return;
    }
    if value < 0.0 {
        out.push('-');
    }
    let (digits, exponent) = shortest_digits(value.abs());
    let k = i32::try_from(digits.len()).expect("at most 17 significant digits");
    let n = exponent + 1;
    let zeros = |count: i32| "0".repeat(usize::try_from(count).expect("count is positive here"));
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.push_str(&zeros(n - k));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(n).expect("0 < n"));
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.push_str(&zeros(-n));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).unsigned_abs().to_string());
    }
}

/// The significant digits and decimal exponent of `{:e}`: `1.25e-3` → ("125", -3).
fn scientific(value: f64, precision: Option<usize>) -> (String, i32) {
    let text = match precision {
        None => format!("{value:e}"),
        Some(p) => format!("{value:.p$e}"),
    };
    let (mantissa, exponent) = text
        .split_once('e')
        .expect("{:e} of a finite f64 always has an exponent");
    let digits = mantissa.chars().filter(|&c| c != '.').collect();
    let exponent = exponent
        .parse()
        .expect("{:e} writes the exponent as a decimal integer");
    (digits, exponent)
}

/// The shortest round-trip digits of a positive finite `value` as
/// ECMAScript chooses them, with their decimal exponent (`d.ddd × 10^e`).
fn shortest_digits(value: f64) -> (String, i32) {
    let (digits, exponent) = scientific(value, None);
    // ASCII '0' is 48: a digit's byte has the digit's parity.
    if digits.bytes().last().is_some_and(|d| d % 2 == 0) {
        return (digits, exponent);
    }
    // A tie needs `value` to lie exactly halfway between two k-digit
    // strings: its exact expansion (at most 767 significant digits) is then
    // those k digits followed by a single 5.
    let (exact, exact_exponent) = scientific(value, Some(767));
    let exact = exact.trim_end_matches('0');
    if exact_exponent != exponent || exact.len() != digits.len() + 1 || !exact.ends_with('5') {
        return (digits, exponent);
    }
    let lower = &exact[..digits.len()];
    let other = if lower == digits {
        // Rust rounded down to an odd digit: the even neighbour is one up.
        // After a 9 that would carry into a shorter string, which cannot
        // round-trip (Rust would have found it as the shortest).
        let mut up = lower.as_bytes().to_vec();
        let last = up.last_mut().expect("at least one digit");
        if *last == b'9' {
            return (digits, exponent);
        }
        *last += 1;
        String::from_utf8(up).expect("ASCII digits")
    } else {
        lower.to_owned()
    };
    let (first, rest) = other.split_at(1);
    let round_trips = format!("{first}.{rest}0e{exponent}").parse::<f64>() == Ok(value);
    if round_trips {
        (other, exponent)
    } else {
        (digits, exponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(value: f64) -> String {
        let mut out = String::new();
        write_json_number(&mut out, value);
        out
    }

    #[test]
    fn layouts_of_number_to_string() {
        for (value, want) in [
            (1.0, "1"),
            (-1.0, "-1"),
            (0.0, "0"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (123.456, "123.456"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (123_456_789_012_345_678_901.0, "123456789012345680000"),
            (0.000_001, "0.000001"),
            (1e-7, "1e-7"),
            (2.5e-5, "0.000025"),
            (1.234_5e-7, "1.2345e-7"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (9_007_199_254_740_993.0, "9007199254740992"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1_700_000_000_000.0, "1700000000000"),
            (1_010_967_912_279_640.0 + 0.25, "1010967912279640.2"),
            (128_984_155_531_111.0 + 0.125, "128984155531111.12"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
            (f64::NEG_INFINITY, "null"),
        ] {
            assert_eq!(js(value), want, "{value:e}");
        }
    }
}
