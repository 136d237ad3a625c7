//! Table-driven conversion of one protobuf message into its Kubernetes JSON form: `message`.

use serde_json::{Map, Value};

use super::schema::{Card, Emit, Field, Message, Shape, Ty};
use super::special;
use super::wire::{FIXED32, FIXED64, LEN, Reader, VARINT, WireError};

/// Deeper than any built-in type needs; bounds recursion on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

/// A decoding failure and the JSON path to the field where it happened.
#[derive(Debug)]
pub(crate) struct Fault {
    /// Innermost segment first; reversed when rendered.
    path: Vec<String>,
    pub(crate) source: WireError,
}

impl Fault {
    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    pub(crate) fn path(&self) -> String {
        let mut out = String::new();
        for segment in self.path.iter().rev() {
            if !out.is_empty() && !segment.starts_with('[') {
                out.push('.');
            }
            out.push_str(segment);
        }
        out
    }
}

impl From<WireError> for Fault {
    fn from(source: WireError) -> Self {
        Fault {
            path: Vec::new(),
            source,
        }
    }
}

/// What has been read for one field so far.
enum Slot {
    Empty,
    Single(Value),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

/// Decodes `bytes` as `message`; `Value::Null` stands for a zero value that JSON leaves out.
pub(crate) fn message(
    message: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Value, Fault> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep(MAX_DEPTH).into());
    }
    match message.shape {
        Shape::Object => object(message, bytes, depth).map(Value::Object),
        Shape::Items => {
            let slots = read_slots(message, bytes, depth)?;
            Ok(match slots.into_iter().next() {
                Some(Slot::List(items)) => Value::Array(items),
                _ => Value::Array(Vec::new()),
            })
        }
        _ => Ok(special::decode(message, bytes, depth)?),
    }
}

fn object(
    message: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Map<String, Value>, Fault> {
    let slots = read_slots(message, bytes, depth)?;
    let mut out = Map::new();
    for (field, slot) in message.fields.iter().zip(slots) {
        match slot {
            Slot::Single(Value::Null) => {}
            Slot::Single(value) => {
                if field.emit == Emit::Inline {
                    if let Value::Object(inner) = value {
                        out.extend(inner);
                    }
                } else if !(field.emit == Emit::OmitEmpty && is_empty(field.ty, &value)) {
                    out.insert(field.json.to_owned(), value);
                }
            }
            Slot::List(items) => {
                out.insert(field.json.to_owned(), Value::Array(items));
            }
            Slot::Map(entries) => {
                out.insert(field.json.to_owned(), Value::Object(entries));
            }
            Slot::Empty => {
                if let (Emit::Always, Card::Single, Some(zero)) =
                    (field.emit, field.card, zero_scalar(field.ty))
                {
                    out.insert(field.json.to_owned(), zero);
                }
            }
        }
    }
    Ok(out)
}

fn read_slots(message: &'static Message, bytes: &[u8], depth: usize) -> Result<Vec<Slot>, Fault> {
    let mut slots: Vec<Slot> = message.fields.iter().map(|_| Slot::Empty).collect();
    let mut reader = Reader::new(bytes);
    while !reader.is_empty() {
        let (tag, wire_type) = reader.key()?;
        let Some(index) = message.fields.iter().position(|f| f.tag == tag) else {
            return Err(WireError::UnknownField {
                message: message.name,
                tag,
            }
            .into());
        };
        let (Some(field), Some(slot)) = (message.fields.get(index), slots.get_mut(index)) else {
            continue;
        };
        read_field(field, slot, wire_type, &mut reader, depth).map_err(|f| f.at(segment(field)))?;
    }
    Ok(slots)
}

fn segment(field: &Field) -> String {
    if field.json.is_empty() {
        format!("<field {}>", field.tag)
    } else {
        field.json.to_owned()
    }
}

fn read_field(
    field: &Field,
    slot: &mut Slot,
    wire_type: u8,
    reader: &mut Reader<'_>,
    depth: usize,
) -> Result<(), Fault> {
    match field.card {
        Card::Single => {
            let value = value(field.ty, field.tag, wire_type, reader, depth)?;
            *slot = match std::mem::replace(slot, Slot::Empty) {
                // A repeated singular message merges into the earlier one, as in protobuf.
                Slot::Single(Value::Object(mut earlier)) => match value {
                    Value::Object(later) => {
                        earlier.extend(later);
                        Slot::Single(Value::Object(earlier))
                    }
                    other => Slot::Single(other),
                },
                _ => Slot::Single(value),
            };
        }
        Card::Repeated => {
            if !matches!(slot, Slot::List(_)) {
                *slot = Slot::List(Vec::new());
            }
            let Slot::List(items) = slot else {
                return Ok(());
            };
            if wire_type == LEN && packable(field.ty) {
                let mut packed = Reader::new(reader.bytes()?);
                while !packed.is_empty() {
                    let element = value(
                        field.ty,
                        field.tag,
                        scalar_wire_type(field.ty),
                        &mut packed,
                        depth,
                    )
                    .map_err(|f| f.at(format!("[{}]", items.len())))?;
                    items.push(element);
                }
            } else {
                let element = value(field.ty, field.tag, wire_type, reader, depth)
                    .map_err(|f| f.at(format!("[{}]", items.len())))?;
                items.push(element);
            }
        }
        Card::Map(key_ty) => {
            expect(field.tag, wire_type, LEN)?;
            let (key, value) = map_entry(key_ty, field.ty, reader.bytes()?, depth)?;
            if !matches!(slot, Slot::Map(_)) {
                *slot = Slot::Map(Map::new());
            }
            let Slot::Map(entries) = slot else {
                return Ok(());
            };
            entries.insert(key, value);
        }
    }
    Ok(())
}

fn map_entry(
    key_ty: Ty,
    value_ty: Ty,
    bytes: &[u8],
    depth: usize,
) -> Result<(String, Value), Fault> {
    let mut reader = Reader::new(bytes);
    let (mut key, mut value) = (None, None);
    while !reader.is_empty() {
        let (tag, wire_type) = reader.key()?;
        match tag {
            1 => key = Some(self::value(key_ty, tag, wire_type, &mut reader, depth)?),
            2 => {
                let v = self::value(value_ty, tag, wire_type, &mut reader, depth);
                value = Some(v.map_err(|f| f.at("<value>".to_owned()))?);
            }
            _ => {
                return Err(WireError::UnknownField {
                    message: "map entry",
                    tag,
                }
                .into());
            }
        }
    }
    let key = match key.or_else(|| zero_scalar(key_ty)) {
        Some(Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let value = match value {
        Some(v) => v,
        None => match value_ty {
            Ty::Message(m) => message(m, &[], depth + 1)?,
            scalar => zero_scalar(scalar).unwrap_or(Value::Null),
        },
    };
    Ok((key, value))
}

fn value(
    ty: Ty,
    tag: u32,
    wire_type: u8,
    reader: &mut Reader<'_>,
    depth: usize,
) -> Result<Value, Fault> {
    expect(tag, wire_type, scalar_wire_type(ty))?;
    Ok(match ty {
        Ty::String => {
            let text = std::str::from_utf8(reader.bytes()?).map_err(|_| WireError::InvalidUtf8)?;
            Value::String(text.to_owned())
        }
        Ty::Bytes => special::base64(reader.bytes()?),
        Ty::Bool => Value::Bool(reader.varint()? != 0),
        // Narrowing keeps the low bits, which is how protobuf defines int32 on the wire.
        Ty::Int32 => Value::from(reader.varint()? as i32),
        Ty::Int64 => Value::from(reader.varint()? as i64),
        Ty::Uint32 => Value::from(reader.varint()? as u32),
        Ty::Uint64 => Value::from(reader.varint()?),
        Ty::Double => finite(f64::from_bits(reader.fixed64()?))?,
        Ty::Float => finite(f64::from(f32::from_bits(reader.fixed32()?)))?,
        Ty::Message(m) => message(m, reader.bytes()?, depth + 1)?,
    })
}

fn finite(number: f64) -> Result<Value, WireError> {
    serde_json::Number::from_f64(number)
        .map(Value::Number)
        .ok_or(WireError::NonFinite(number))
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

fn scalar_wire_type(ty: Ty) -> u8 {
    match ty {
        Ty::String | Ty::Bytes | Ty::Message(_) => LEN,
        Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Uint32 | Ty::Uint64 => VARINT,
        Ty::Double => FIXED64,
        Ty::Float => FIXED32,
    }
}

fn packable(ty: Ty) -> bool {
    scalar_wire_type(ty) != LEN
}

fn zero_scalar(ty: Ty) -> Option<Value> {
    Some(match ty {
        Ty::String | Ty::Bytes => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::Int32 | Ty::Int64 | Ty::Uint32 | Ty::Uint64 => Value::from(0),
        Ty::Double | Ty::Float => Value::from(0.0),
        Ty::Message(_) => return None,
    })
}

/// Go's `omitempty`: zero scalars and empty named slices; structs are never empty to Go.
fn is_empty(ty: Ty, value: &Value) -> bool {
    match (ty, value) {
        (Ty::Message(m), Value::Array(items)) => m.shape == Shape::Items && items.is_empty(),
        (Ty::Message(_), _) => false,
        (_, Value::String(text)) => text.is_empty(),
        (_, Value::Bool(flag)) => !flag,
        (_, Value::Number(number)) => number.as_f64() == Some(0.0),
        _ => false,
    }
}
