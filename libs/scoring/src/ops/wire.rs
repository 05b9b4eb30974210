//! Just enough of the protobuf wire format to walk an ONNX file's messages without
//! decoding them: fields as (number, payload) over borrowed bytes, and the writing of a
//! length-delimited field. [`super::lean`] uses it to take the tree ensembles' attribute
//! lists out of a model before tract decodes the rest.

use tract_onnx::tract_hir::internal::*;

/// A field's payload: a varint or fixed number, or a length-delimited byte range (a
/// string, a sub-message, a packed list).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    Varint(u64),
    /// A fixed64 number (no ONNX field this code reads).
    Fixed64,
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// One field of a message: its number, its payload, and its whole encoding (tag
/// included), to copy it as it is.
#[derive(Clone, Copy, Debug)]
pub(super) struct Field<'a> {
    pub number: u32,
    pub value: Value<'a>,
    pub raw: &'a [u8],
}

impl<'a> Field<'a> {
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// The fields of a message, in file order; an error ends it (a truncated or malformed
/// message).
pub(super) struct Fields<'a> {
    rest: &'a [u8],
}

pub(super) fn fields(message: &[u8]) -> Fields<'_> {
    Fields { rest: message }
}

pub(super) fn varint(bytes: &mut &[u8]) -> TractResult<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first().context("a truncated protobuf varint")?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("a protobuf varint of more than 10 bytes")
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> TractResult<&'a [u8]> {
    ensure!(n <= bytes.len(), "a truncated protobuf field");
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

impl<'a> Iterator for Fields<'a> {
    type Item = TractResult<Field<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let start = self.rest;
        let field = (|| {
            let tag = varint(&mut self.rest)?;
            let number = u32::try_from(tag >> 3).context("a protobuf field number too large")?;
            let value = match tag & 7 {
                0 => Value::Varint(varint(&mut self.rest)?),
                1 => {
                    take(&mut self.rest, 8)?;
                    Value::Fixed64
                }
                2 => {
                    let len = usize::try_from(varint(&mut self.rest)?)?;
                    Value::Bytes(take(&mut self.rest, len)?)
                }
                5 => Value::Fixed32(u32::from_le_bytes(
                    take(&mut self.rest, 4)?.try_into().expect("4 bytes"),
                )),
                t => bail!("protobuf wire type {t} is not supported"),
            };
            let raw = &start[..start.len() - self.rest.len()];
            Ok(Field { number, value, raw })
        })();
        if field.is_err() {
            self.rest = &[];
        }
        Some(field)
    }
}

/// A repeated number field's element type: int64 (varints) or float (fixed32), each
/// element in a field of its own or packed into one.
pub(crate) trait Repeated: Sized {
    /// The `AttributeProto` field and type of a list of these.
    const FIELD: u32;
    const TYPE: u64;
    fn push(value: Value, out: &mut Vec<Self>) -> TractResult<()>;
}

impl Repeated for i64 {
    const FIELD: u32 = 8;
    const TYPE: u64 = 7;
    fn push(value: Value, out: &mut Vec<i64>) -> TractResult<()> {
        match value {
            Value::Varint(v) => out.push(v as i64),
            Value::Bytes(mut packed) => {
                while !packed.is_empty() {
                    out.push(varint(&mut packed)? as i64);
                }
            }
            _ => bail!("an int list holds a value of another wire type"),
        }
        Ok(())
    }
}

impl Repeated for f32 {
    const FIELD: u32 = 7;
    const TYPE: u64 = 6;
    fn push(value: Value, out: &mut Vec<f32>) -> TractResult<()> {
        match value {
            Value::Fixed32(v) => out.push(f32::from_bits(v)),
            Value::Bytes(packed) => {
                ensure!(packed.len() % 4 == 0, "a truncated packed float list");
                out.extend(
                    packed
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))),
                );
            }
            _ => bail!("a float list holds a value of another wire type"),
        }
        Ok(())
    }
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes field `number` as a length-delimited `payload`.
pub(super) fn put_bytes(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_the_writer() {
        let mut message = Vec::new();
        put_varint(&mut message, 1 << 3); // field 1, varint
        put_varint(&mut message, 300);
        put_bytes(&mut message, 7, b"graph");
        message.extend_from_slice(&[(2 << 3) | 5, 1, 0, 0, 0]); // field 2, fixed32
        let got: Vec<Field> = fields(&message).collect::<TractResult<_>>().unwrap();
        assert_eq!(got.len(), 3);
        assert!(matches!(got[0].value, Value::Varint(300)));
        assert_eq!((got[1].number, got[1].bytes()), (7, Some(&b"graph"[..])));
        assert!(matches!(got[2].value, Value::Fixed32(1)));
        let raw: Vec<u8> = got.iter().flat_map(|f| f.raw.to_vec()).collect();
        assert_eq!(raw, message);
    }

    #[test]
    fn truncated_messages_are_errors() {
        let mut message = Vec::new();
        put_bytes(&mut message, 7, b"graph");
        message.pop();
        assert!(fields(&message).any(|f| f.is_err()));
        assert!(fields(&[0x80]).any(|f| f.is_err()));
    }
}
