//! Protobuf wire-format reader over a borrowed buffer; `Reader` never allocates.

/// What was wrong with the bytes, independent of which message held them.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("input ends inside a field")]
    Truncated,
    #[error("varint longer than ten bytes")]
    VarintOverflow,
    #[error("field number {0} is out of range")]
    BadFieldNumber(u64),
    #[error("unsupported wire type {0}")]
    BadWireType(u8),
    #[error("field {tag} has wire type {found}, expected {expected}")]
    WireTypeMismatch { tag: u32, found: u8, expected: u8 },
    #[error("field {tag} is not part of {message}")]
    UnknownField { message: &'static str, tag: u32 },
    #[error("string is not valid utf-8")]
    InvalidUtf8,
    #[error("messages nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("timestamp {seconds}s {nanos}ns is out of range")]
    BadTimestamp { seconds: i64, nanos: i64 },
    #[error("floating point value {0} has no json form")]
    NonFinite(f64),
    #[error("intorstring type {0} is neither 0 (int) nor 1 (string)")]
    BadIntOrStringType(i64),
    #[error("embedded raw object is not json")]
    RawNotJson(#[source] serde_json::Error),
    #[error("embedded protobuf object is malformed")]
    RawNotProtobuf(#[source] Box<super::ProtobufError>),
}

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const FIXED32: u8 = 5;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self.buf.split_first().ok_or(WireError::Truncated)?;
            self.buf = rest;
            // The tenth byte may only contribute the top bit of a u64.
            if i == 9 && byte > 1 {
                return Err(WireError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::VarintOverflow)
    }

    /// The next field's number and wire type.
    pub(crate) fn key(&mut self) -> Result<(u32, u8), WireError> {
        let key = self.varint()?;
        let tag = key >> 3;
        if tag == 0 || tag > 0x1fff_ffff {
            return Err(WireError::BadFieldNumber(tag));
        }
        // Lossless: checked against the 29-bit field number limit above.
        Ok((tag as u32, (key & 7) as u8))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
        if len > self.buf.len() {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64, WireError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<8>()
            .ok_or(WireError::Truncated)?;
        self.buf = rest;
        Ok(u64::from_le_bytes(*head))
    }

    pub(crate) fn fixed32(&mut self) -> Result<u32, WireError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<4>()
            .ok_or(WireError::Truncated)?;
        self.buf = rest;
        Ok(u32::from_le_bytes(*head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_decodes_multi_byte_values() {
        assert_eq!(Reader::new(&[0xac, 0x02]).varint().ok(), Some(300));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&max).varint().ok(), Some(u64::MAX));
    }

    #[test]
    fn varint_rejects_eleven_byte_and_unterminated_encodings() {
        let long = [0xff; 11];
        assert!(matches!(
            Reader::new(&long).varint(),
            Err(WireError::VarintOverflow)
        ));
        assert!(matches!(
            Reader::new(&[0x80, 0x80]).varint(),
            Err(WireError::Truncated)
        ));
    }

    #[test]
    fn length_beyond_the_buffer_is_truncation_not_allocation() {
        // Declares an 2^63-byte string with two bytes behind it.
        let buf = [
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, b'a', b'b',
        ];
        assert!(matches!(
            Reader::new(&buf).bytes(),
            Err(WireError::Truncated)
        ));
    }

    #[test]
    fn field_number_zero_is_rejected() {
        assert!(matches!(
            Reader::new(&[0x02]).key(),
            Err(WireError::BadFieldNumber(0))
        ));
    }
}
