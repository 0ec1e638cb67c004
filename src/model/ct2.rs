//! Reader for CTranslate2 `model.bin` files (binary format version 5 and 6).
//!
//! Takes the bytes of a `model.bin`; gives named tensors (shape, dtype, raw
//! little-endian data) and the alias table. Only what the Whisper conversion
//! needs is decoded: float32, float16, bfloat16 and int16/int32/int8 scalars.

use std::collections::BTreeMap;

use super::ModelError;

/// Element type ids, in the order of CTranslate2's `DataType` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Ct2Dtype {
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

    pub fn size_bytes(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::Bf16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One stored variable: a view into the model bytes.
#[derive(Debug, Clone)]
pub struct Ct2Tensor<'a> {
    pub shape: Vec<usize>,
    pub dtype: Ct2Dtype,
    pub data: &'a [u8],
}

impl Ct2Tensor<'_> {
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values as f32, whatever the stored float type.
    pub fn to_f32(&self) -> Result<Vec<f32>, String> {
        let chunks = self.data.chunks_exact(self.dtype.size_bytes());
        Ok(match self.dtype {
            Ct2Dtype::F32 => chunks
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Ct2Dtype::F16 => chunks
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Ct2Dtype::Bf16 => chunks
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => return Err(format!("{other:?} weights (quantized models are not supported; use a float16 or float32 export)")),
        })
    }

    /// A scalar integer (CTranslate2 stores `num_heads` and similar as int8/16/32).
    pub fn scalar_i64(&self) -> Option<i64> {
        if self.element_count() != 1 {
            return None;
        }
        let d = self.data;
        Some(match self.dtype {
            Ct2Dtype::I8 => d[0] as i8 as i64,
            Ct2Dtype::I16 => i16::from_le_bytes([d[0], d[1]]) as i64,
            Ct2Dtype::I32 => i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64,
            _ => return None,
        })
    }
}

/// A parsed `model.bin`: the spec name and its variables by name (aliases resolved).
#[derive(Debug)]
pub struct Ct2Model<'a> {
    pub spec_name: String,
    pub variables: BTreeMap<String, Ct2Tensor<'a>>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(ModelError::Ct2Format(format!(
                "ends early: wanted {n} bytes at offset {} of {}",
                self.pos,
                self.bytes.len()
            ))),
        }
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
    /// u16 length (including the trailing NUL), bytes, NUL.
    fn string(&mut self) -> Result<String, ModelError> {
        let len = self.u16()? as usize;
        let raw = self.take(len)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec())
            .map_err(|_| ModelError::Ct2Format("a variable name is not UTF-8".into()))
    }
}

/// Parses a CTranslate2 model. The returned tensors borrow from `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Ct2Model<'_>, ModelError> {
    let mut cur = Cursor { bytes, pos: 0 };
    let version = cur.u32()?;
    if !(5..=6).contains(&version) {
        return Err(ModelError::Ct2Format(format!(
            "binary version {version} (supported: 5 and 6)"
        )));
    }
    let spec_name = cur.string()?;
    let _revision = cur.u32()?;
    let count = cur.u32()? as usize;
    let mut variables = BTreeMap::new();
    for _ in 0..count {
        let name = cur.string()?;
        let rank = cur.u8()? as usize;
        let mut shape = Vec::with_capacity(rank);
        for _ in 0..rank {
            shape.push(cur.u32()? as usize);
        }
        let dtype_id = cur.u8()?;
        let dtype = Ct2Dtype::from_id(dtype_id).ok_or_else(|| {
            ModelError::Ct2Format(format!("variable {name} has unknown dtype id {dtype_id}"))
        })?;
        let num_bytes = cur.u32()? as usize;
        let expected = shape.iter().product::<usize>() * dtype.size_bytes();
        if num_bytes != expected {
            return Err(ModelError::Ct2Format(format!(
                "variable {name}: {num_bytes} bytes stored, shape {shape:?} needs {expected}"
            )));
        }
        let data = cur.take(num_bytes)?;
        variables.insert(name, Ct2Tensor { shape, dtype, data });
    }
    let alias_count = cur.u32()? as usize;
    for _ in 0..alias_count {
        let alias = cur.string()?;
        let target = cur.string()?;
        let tensor = variables.get(&target).cloned().ok_or_else(|| {
            ModelError::Ct2Format(format!("alias {alias} points to missing {target}"))
        })?;
        variables.insert(alias, tensor);
    }
    Ok(Ct2Model {
        spec_name,
        variables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    #[test]
    fn parses_variables_and_aliases() {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        string(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        string(&mut b, "a/weight");
        b.push(2);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        b.push(0);
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&1.5f32.to_le_bytes());
        b.extend_from_slice(&(-2.0f32).to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        string(&mut b, "b/weight");
        string(&mut b, "a/weight");
        let m = parse(&b).unwrap();
        assert_eq!(m.spec_name, "WhisperSpec");
        assert_eq!(m.variables["a/weight"].shape, vec![1, 2]);
        assert_eq!(m.variables["b/weight"].to_f32().unwrap(), vec![1.5, -2.0]);
        assert!(parse(&b[..b.len() - 3]).is_err());
    }
}
