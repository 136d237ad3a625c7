//! JSON forms of the apimachinery messages that Go marshals specially (Time, Quantity, ...).

use base64::Engine as _;
use serde_json::Value;

use super::schema::{Message, Shape};
use super::wire::{LEN, Reader, VARINT, WireError};

/// Go's `time.Time` JSON range: years 0000 through 9999.
const MIN_SECONDS: i64 = -62_167_219_200;
const MAX_SECONDS: i64 = 253_402_300_799;
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Decodes a message of a non-object shape; `Value::Null` means "the zero value, omit it".
pub(crate) fn decode(
    message: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Value, WireError> {
    match message.shape {
        Shape::Quantity => quantity(message, bytes),
        Shape::Time => time(message, bytes, false),
        Shape::MicroTime => time(message, bytes, true),
        Shape::Duration => duration(message, bytes),
        Shape::IntOrString => int_or_string(message, bytes),
        Shape::RawJson => raw_json(message, bytes, depth),
        // Object and Items are table driven, see convert.rs.
        Shape::Object | Shape::Items => Ok(Value::Null),
    }
}

/// Calls `on_field` for each field, which returns false for a tag it does not know.
fn scan<'a>(
    message: &'static Message,
    bytes: &'a [u8],
    mut on_field: impl FnMut(u32, u8, &mut Reader<'a>) -> Result<bool, WireError>,
) -> Result<(), WireError> {
    let mut reader = Reader::new(bytes);
    while !reader.is_empty() {
        let (tag, wire_type) = reader.key()?;
        if !on_field(tag, wire_type, &mut reader)? {
            return Err(WireError::UnknownField {
                message: message.name,
                tag,
            });
        }
    }
    Ok(())
}

fn expect(tag: u32, found: u8, expected: u8) -> Result<(), WireError> {
    if found == expected {
        Ok(())
    } else {
        Err(WireError::WireTypeMismatch {
            tag,
            found,
            expected,
        })
    }
}

fn quantity(message: &'static Message, bytes: &[u8]) -> Result<Value, WireError> {
    let mut text = "0";
    scan(message, bytes, |tag, wire_type, reader| {
        if tag != 1 {
            return Ok(false);
        }
        expect(tag, wire_type, LEN)?;
        text = std::str::from_utf8(reader.bytes()?).map_err(|_| WireError::InvalidUtf8)?;
        Ok(true)
    })?;
    Ok(Value::String(text.to_owned()))
}

fn time(message: &'static Message, bytes: &[u8], micro: bool) -> Result<Value, WireError> {
    let (mut seconds, mut nanos) = (0i64, 0i64);
    scan(message, bytes, |tag, wire_type, reader| {
        match tag {
            1 => {
                expect(tag, wire_type, VARINT)?;
                seconds = reader.varint()? as i64;
            }
            2 => {
                expect(tag, wire_type, VARINT)?;
                // int32 on the wire: the low 32 bits carry the value.
                nanos = i64::from(reader.varint()? as i32);
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if seconds == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let bad = || WireError::BadTimestamp { seconds, nanos };
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) || !(0..1_000_000_000).contains(&nanos) {
        return Err(bad());
    }
    let timestamp = jiff::Timestamp::from_second(seconds).map_err(|_| bad())?;
    let whole = timestamp.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Ok(Value::String(if micro {
        format!("{whole}.{:06}Z", nanos / 1000)
    } else {
        format!("{whole}Z")
    }))
}

fn duration(message: &'static Message, bytes: &[u8]) -> Result<Value, WireError> {
    let mut nanos = 0i64;
    scan(message, bytes, |tag, wire_type, reader| {
        if tag != 1 {
            return Ok(false);
        }
        expect(tag, wire_type, VARINT)?;
        nanos = reader.varint()? as i64;
        Ok(true)
    })?;
    Ok(Value::String(go_duration(nanos)))
}

/// Formats nanoseconds the way Go's `time.Duration.String` does (`1h0m5.5s`, `1.5ms`, `0s`).
pub(crate) fn go_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let total = nanos.unsigned_abs();
    if total == 0 {
        return "0s".to_owned();
    }
    if total < NANOS_PER_SECOND {
        let (unit, precision) = match total {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let scale = 10u64.pow(precision);
        let fraction = fraction(total % scale, precision);
        return format!("{sign}{}{fraction}{unit}", total / scale);
    }
    let fraction = fraction(total % NANOS_PER_SECOND, 9);
    let seconds = total / NANOS_PER_SECOND;
    let minutes = seconds / 60;
    let mut out = sign.to_owned();
    if minutes > 0 {
        if minutes >= 60 {
            out.push_str(&format!("{}h", minutes / 60));
        }
        out.push_str(&format!("{}m", minutes % 60));
    }
    out.push_str(&format!("{}{fraction}s", seconds % 60));
    out
}

/// `.5` for 500 at precision 3: the digits after the point, trailing zeros dropped.
fn fraction(value: u64, precision: u32) -> String {
    if value == 0 {
        return String::new();
    }
    let digits = format!("{value:0width$}", width = precision as usize);
    format!(".{}", digits.trim_end_matches('0'))
}

fn int_or_string(message: &'static Message, bytes: &[u8]) -> Result<Value, WireError> {
    let (mut kind, mut int_val, mut str_val) = (0i64, 0i32, String::new());
    scan(message, bytes, |tag, wire_type, reader| {
        match tag {
            1 => {
                expect(tag, wire_type, VARINT)?;
                kind = reader.varint()? as i64;
            }
            2 => {
                expect(tag, wire_type, VARINT)?;
                int_val = reader.varint()? as i32;
            }
            3 => {
                expect(tag, wire_type, LEN)?;
                let text =
                    std::str::from_utf8(reader.bytes()?).map_err(|_| WireError::InvalidUtf8)?;
                str_val = text.to_owned();
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    match kind {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::String(str_val)),
        other => Err(WireError::BadIntOrStringType(other)),
    }
}

fn raw_json(message: &'static Message, bytes: &[u8], depth: usize) -> Result<Value, WireError> {
    let mut raw: &[u8] = &[];
    scan(message, bytes, |tag, wire_type, reader| {
        if tag != 1 {
            return Ok(false);
        }
        expect(tag, wire_type, LEN)?;
        raw = reader.bytes()?;
        Ok(true)
    })?;
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(super::MAGIC) {
        return super::decode_nested(raw, depth + 1)
            .map_err(|e| WireError::RawNotProtobuf(Box::new(e)));
    }
    serde_json::from_slice(raw).map_err(WireError::RawNotJson)
}

/// Bytes fields are base64 in JSON, like Go's `[]byte`.
pub(crate) fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_matches_go_formatting() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1), "1ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(5_000_000_000), "5s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(3_725_500_000_000), "1h2m5.5s");
        assert_eq!(go_duration(-2_000_000_000), "-2s");
        assert_eq!(go_duration(i64::MIN), "-2562047h47m16.854775808s");
    }
}
