//! Tensor data as the ggml writer needs it: a variable's bytes (or a range of its rows),
//! widened to f32, or quantized to ggml's Q8_0 blocks. Pure.

use std::ops::Range;

use half::f16;

use super::ModelError;
use super::ct2::{Dtype, Variable};

/// Elements per Q8_0 block.
pub(super) const QK8_0: usize = 32;

/// The bytes of a variable, or of a range of its rows.
pub(super) fn elements<'a>(
    bytes: &'a [u8],
    v: &Variable,
    rows: Option<&Range<usize>>,
) -> Result<&'a [u8], ModelError> {
    let data = &bytes[v.data.clone()];
    let Some(rows) = rows else {
        return Ok(data);
    };
    let row_bytes = v.shape.iter().skip(1).product::<usize>() * v.dtype.size();
    data.get(rows.start * row_bytes..rows.end * row_bytes)
        .ok_or(ModelError::Truncated)
}

pub(super) fn to_f32(raw: &[u8], dtype: Dtype) -> Result<Vec<f32>, ModelError> {
    match dtype {
        Dtype::F32 => Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()),
        Dtype::F16 => Ok(raw
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect()),
        _ => Err(ModelError::Unsupported(
            "only float16 and float32 CTranslate2 models can be imported",
        )),
    }
}

/// ggml's Q8_0: per block of 32, scale = max|x| / 127 (as f16), then round(x / scale) as i8.
pub(super) fn quantize_q8_0(x: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(x.len() / QK8_0 * (2 + QK8_0));
    for block in x.chunks_exact(QK8_0) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_blocks_scale_by_the_largest_magnitude() {
        let mut x = vec![0f32; 32];
        x[0] = 1.27;
        x[1] = -0.635;
        x[2] = 0.001;
        let q = quantize_q8_0(&x);
        assert_eq!(q.len(), 34);
        let d = f16::from_le_bytes([q[0], q[1]]).to_f32();
        assert!((d - 0.01).abs() < 1e-5, "{d}");
        assert_eq!(q[2] as i8, 127);
        assert_eq!(q[3] as i8, -64, "-63.5 rounds away from zero");
        assert_eq!(q[4] as i8, 0);
        assert_eq!(
            quantize_q8_0(&[0.0; 32])[2..],
            [0u8; 32],
            "a zero block stays zero"
        );
    }
}
