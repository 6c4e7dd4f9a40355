//! Reading a CTranslate2 `model.bin` (binary version 6): a header, named tensors and aliases.
//! Pure: works on the file's bytes and never copies tensor data (variables are ranges).
//! Every length is checked against the bytes that are there, so a truncated or hostile file
//! is an error, never a panic or a huge allocation.

use std::collections::HashMap;
use std::ops::Range;

use super::ModelError;

/// Element types of CTranslate2 variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// 8-bit integer (quantized models; not supported for import).
    I8,
    /// 16-bit integer (scalars such as head counts).
    I16,
    /// 32-bit integer.
    I32,
    /// IEEE half float.
    F16,
    /// bfloat16.
    Bf16,
}

impl Dtype {
    fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::Bf16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::Bf16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One variable: its shape, type and where its data lies in the file.
#[derive(Debug, Clone)]
pub struct Variable {
    /// Dimensions, outermost first (numpy order).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Dtype,
    /// Byte range of the data in the file.
    pub data: Range<usize>,
}

impl Variable {
    /// Number of elements.
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A parsed model: variables by name (aliases resolved to their targets).
#[derive(Debug)]
pub struct Ct2Model {
    /// The model's spec name (`WhisperSpec`).
    pub spec: String,
    /// Variables by name.
    pub variables: HashMap<String, Variable>,
}

/// A cursor over the file's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(ModelError::Truncated)?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ModelError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A string: `u16` length counting a trailing NUL, the bytes, the NUL.
    fn string(&mut self) -> Result<String, ModelError> {
        let n = usize::from(self.u16()?);
        let b = self.take(n)?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        String::from_utf8(b.to_vec()).map_err(|_| ModelError::Format("a name is not UTF-8"))
    }
}

/// Most variables a Whisper model has (large-v3 has about 1,300).
const MAX_VARIABLES: u32 = 100_000;

/// Parses `bytes` as a CTranslate2 model file.
pub fn parse(bytes: &[u8]) -> Result<Ct2Model, ModelError> {
    let mut r = Reader { bytes, at: 0 };
    let version = r.u32()?;
    if version != 6 {
        return Err(ModelError::Format(
            "not a CTranslate2 model of binary version 6",
        ));
    }
    let spec = r.string()?;
    let _revision = r.u32()?;
    let n = r.u32()?;
    if n > MAX_VARIABLES {
        return Err(ModelError::Format("implausibly many variables"));
    }
    let mut variables = HashMap::new();
    for _ in 0..n {
        let name = r.string()?;
        let ndim = r.u8()?;
        let mut shape = Vec::with_capacity(usize::from(ndim));
        for _ in 0..ndim {
            let d = r.u32()? as usize;
            if d == 0 {
                return Err(ModelError::Format("a variable has an empty dimension"));
            }
            shape.push(d);
        }
        let dtype = Dtype::from_id(r.u8()?).ok_or(ModelError::Format("unknown element type"))?;
        let nbytes = r.u32()? as usize;
        let elements = shape
            .iter()
            .try_fold(1usize, |a, d| a.checked_mul(*d))
            .ok_or(ModelError::Format("a shape overflows"))?;
        if elements.checked_mul(dtype.size()) != Some(nbytes) {
            return Err(ModelError::Format(
                "a variable's size does not match its shape",
            ));
        }
        let start = r.at;
        r.take(nbytes)?;
        variables.insert(
            name,
            Variable {
                shape,
                dtype,
                data: start..start + nbytes,
            },
        );
    }
    let aliases = r.u32()?;
    for _ in 0..aliases.min(MAX_VARIABLES) {
        let alias = r.string()?;
        let target = r.string()?;
        if let Some(v) = variables.get(&target).cloned() {
            variables.insert(alias, v);
        }
    }
    Ok(Ct2Model { spec, variables })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Vec<u8> {
        let mut out = u16::try_from(s.len() + 1).unwrap().to_le_bytes().to_vec();
        out.extend_from_slice(s.as_bytes());
        out.push(0);
        out
    }

    /// A tiny model: one f32 vector `a/x` = [1, 2] and an alias `b` to it.
    fn tiny() -> Vec<u8> {
        let mut f = 6u32.to_le_bytes().to_vec();
        f.extend(string("WhisperSpec"));
        f.extend(3u32.to_le_bytes());
        f.extend(1u32.to_le_bytes());
        f.extend(string("a/x"));
        f.push(1);
        f.extend(2u32.to_le_bytes());
        f.push(0);
        f.extend(8u32.to_le_bytes());
        f.extend(1f32.to_le_bytes());
        f.extend(2f32.to_le_bytes());
        f.extend(1u32.to_le_bytes());
        f.extend(string("b"));
        f.extend(string("a/x"));
        f
    }

    #[test]
    fn variables_and_aliases_are_read_as_ranges() {
        let bytes = tiny();
        let m = parse(&bytes).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        let x = &m.variables["a/x"];
        assert_eq!((x.shape.as_slice(), x.dtype), (&[2usize][..], Dtype::F32));
        assert_eq!(&bytes[x.data.clone()], &[0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
        assert_eq!(m.variables["b"].data, x.data);
    }

    #[test]
    fn truncated_or_inconsistent_files_are_errors() {
        let bytes = tiny();
        for cut in 0..bytes.len() - 1 {
            assert!(parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = bytes.clone();
        wrong[0] = 5;
        assert!(parse(&wrong).is_err(), "another binary version");
        let mut lying = bytes;
        // The data size no longer matches two f32s.
        let at = lying.len() - 8 - 4 - 4 - 4 - 2 - 4;
        lying[at] = 9;
        assert!(parse(&lying).is_err());
    }
}
