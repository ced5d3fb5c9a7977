//! The few pieces of DER (ITU-T X.690) that a self-signed X.509 certificate
//! needs: a writer for definite-length TLVs and a reader that walks them.
//!
//! Only what [`crate::x509`] uses: no indefinite lengths, no high tag
//! numbers. The reader exists for the tests that parse certificates back.

/// `SEQUENCE` (constructed).
pub(crate) const SEQUENCE: u8 = 0x30;
/// `SET` (constructed).
pub(crate) const SET: u8 = 0x31;
/// `BOOLEAN`.
pub(crate) const BOOLEAN: u8 = 0x01;
/// `INTEGER`.
pub(crate) const INTEGER: u8 = 0x02;
/// `BIT STRING`.
pub(crate) const BIT_STRING: u8 = 0x03;
/// `OCTET STRING`.
pub(crate) const OCTET_STRING: u8 = 0x04;
/// `OBJECT IDENTIFIER`.
pub(crate) const OID: u8 = 0x06;
/// `UTF8String`.
pub(crate) const UTF8_STRING: u8 = 0x0C;
/// `UTCTime`.
pub(crate) const UTC_TIME: u8 = 0x17;
/// `GeneralizedTime`.
pub(crate) const GENERALIZED_TIME: u8 = 0x18;

/// One TLV: `tag ‖ length ‖ content`, the length in its shortest DER form.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        // Short form: one byte. The cast cannot truncate (len < 128).
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = &bytes[skip..];
        // Long form: 0x80 | number of length bytes (at most 8 on 64-bit).
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// A constructed TLV whose content is the concatenation of `parts`.
pub(crate) fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// `SEQUENCE { parts… }`.
pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    constructed(SEQUENCE, parts)
}

/// `[n] EXPLICIT` context-specific constructed wrapper.
pub(crate) fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xA0 | n, inner)
}

/// A non-negative `INTEGER` from big-endian magnitude bytes: leading zeros
/// stripped, one `0x00` added when the top bit is set, zero encoded as `00`.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let significant = &magnitude[skip..];
    let mut content = Vec::with_capacity(significant.len() + 1);
    if significant.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(significant);
    tlv(INTEGER, &content)
}

/// A `BIT STRING` with no unused bits.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    constructed(BIT_STRING, &[&[0], bytes])
}

/// An `OBJECT IDENTIFIER` from its already-encoded content bytes.
pub(crate) fn oid(encoded: &[u8]) -> Vec<u8> {
    tlv(OID, encoded)
}

/// One TLV read from the front of an input.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    /// The tag byte.
    pub(crate) tag: u8,
    /// The content octets.
    pub(crate) content: &'a [u8],
    /// The whole encoding, tag and length included.
    pub(crate) raw: &'a [u8],
}

/// Reads one TLV from the front of `input`; returns it and the rest.
///
/// `None` for a truncated input, a high tag number, an indefinite or
/// non-minimal length.
#[cfg(test)]
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    if tag & 0x1F == 0x1F {
        return None;
    }
    let (&first, after_len) = after_tag.split_first()?;
    let (len, body) = if first < 0x80 {
        (usize::from(first), after_len)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > std::mem::size_of::<usize>() || after_len.len() < count {
            return None;
        }
        let (len_bytes, body) = after_len.split_at(count);
        if len_bytes[0] == 0 {
            return None;
        }
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 0x80 {
            return None;
        }
        (len, body)
    };
    if body.len() < len {
        return None;
    }
    let header_len = input.len() - body.len();
    let (content, rest) = body.split_at(len);
    let raw = &input[..header_len + len];
    Some((Tlv { tag, content, raw }, rest))
}

/// Reads every TLV of `input` (the content of a constructed value).
#[cfg(test)]
pub(crate) fn read_all(mut input: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (item, rest) = read(input)?;
        out.push(item);
        input = rest;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_short_and_long() {
        assert_eq!(tlv(OCTET_STRING, &[1, 2]), vec![0x04, 0x02, 1, 2]);
        let long = tlv(OCTET_STRING, &[0u8; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = tlv(OCTET_STRING, &[0u8; 300]);
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2C]);
        let (item, rest) = read(&longer).unwrap();
        assert_eq!(item.content.len(), 300);
        assert!(rest.is_empty());
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[0, 0, 5]), vec![0x02, 0x01, 0x05]);
        assert_eq!(unsigned_integer(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0]), vec![0x02, 0x01, 0x00]);
        assert_eq!(unsigned_integer(&[]), vec![0x02, 0x01, 0x00]);
    }

    #[test]
    fn reader_refuses_bad_lengths() {
        assert!(read(&[0x04, 0x80]).is_none(), "indefinite length");
        assert!(
            read(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).is_none(),
            "non-minimal"
        );
        assert!(read(&[0x04, 0x03, 1, 2]).is_none(), "truncated");
        assert!(read(&[0x1F, 0x01, 0x00]).is_none(), "high tag number");
        assert!(read(&[]).is_none());
        let two = [sequence(&[&unsigned_integer(&[1])]), bit_string(&[7])].concat();
        let items = read_all(&two).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].tag, SEQUENCE);
        assert_eq!(items[1].content, &[0, 7]);
    }
}
