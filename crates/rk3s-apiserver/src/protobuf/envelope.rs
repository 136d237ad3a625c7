//! The `runtime.Unknown` envelope that wraps every protobuf body: `parse`.

use super::wire::{LEN, Reader, WireError};

/// The envelope's fields, borrowed from the body.
pub(crate) struct Unknown<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub raw: &'a [u8],
    pub content_encoding: &'a str,
    pub content_type: &'a str,
}

/// Parses the bytes after the magic prefix.
pub(crate) fn parse(bytes: &[u8]) -> Result<Unknown<'_>, WireError> {
    let mut unknown = Unknown {
        api_version: "",
        kind: "",
        raw: &[],
        content_encoding: "",
        content_type: "",
    };
    let mut reader = Reader::new(bytes);
    while !reader.is_empty() {
        let (tag, wire_type) = reader.key()?;
        if wire_type != LEN {
            return Err(WireError::WireTypeMismatch {
                tag,
                found: wire_type,
                expected: LEN,
            });
        }
        let value = reader.bytes()?;
        match tag {
            1 => {
                let mut type_meta = Reader::new(value);
                while !type_meta.is_empty() {
                    let (tag, wire_type) = type_meta.key()?;
                    if wire_type != LEN {
                        return Err(WireError::WireTypeMismatch {
                            tag,
                            found: wire_type,
                            expected: LEN,
                        });
                    }
                    let text = utf8(type_meta.bytes()?)?;
                    match tag {
                        1 => unknown.api_version = text,
                        2 => unknown.kind = text,
                        _ => {
                            return Err(WireError::UnknownField {
                                message: "runtime.TypeMeta",
                                tag,
                            });
                        }
                    }
                }
            }
            2 => unknown.raw = value,
            3 => unknown.content_encoding = utf8(value)?,
            4 => unknown.content_type = utf8(value)?,
            _ => {
                return Err(WireError::UnknownField {
                    message: "runtime.Unknown",
                    tag,
                });
            }
        }
    }
    Ok(unknown)
}

fn utf8(bytes: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(bytes).map_err(|_| WireError::InvalidUtf8)
}
