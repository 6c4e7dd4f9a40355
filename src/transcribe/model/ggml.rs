//! Writing whisper.cpp's legacy ggml model file from a parsed CTranslate2 Whisper model: the
//! hyper-parameters (from the tensors' shapes), the mel filters, the vocabulary, then every
//! tensor under whisper.cpp's name and in the type its loader allocates. CTranslate2 fuses the
//! attention projections along rows, so each split is a contiguous row range. Pure apart from
//! the `Write` it is given.

use std::collections::BTreeSet;
use std::io::Write;
use std::ops::Range;

use half::f16;

use super::ModelError;
use super::ct2::{Ct2Model, Dtype, Variable};
use super::tensor::{QK8_0, elements, quantize_q8_0, to_f32};

/// How the large weight matrices are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightType {
    /// IEEE half floats (as the CTranslate2 files ship them).
    F16,
    /// 8-bit blocks of 32 with a half-float scale: about 45 % smaller, same accuracy.
    Q8_0,
}

/// ggml's type ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q8_0 = 8,
}

/// The model's dimensions, as whisper.cpp's header lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    /// Vocabulary size (51864 for English-only models, 51865 multilingual).
    pub n_vocab: usize,
    /// Encoder positions (1500).
    pub n_audio_ctx: usize,
    /// Width.
    pub n_state: usize,
    /// Encoder attention heads.
    pub n_audio_head: usize,
    /// Encoder layers.
    pub n_audio_layer: usize,
    /// Decoder positions (448).
    pub n_text_ctx: usize,
    /// Decoder attention heads.
    pub n_text_head: usize,
    /// Decoder layers.
    pub n_text_layer: usize,
    /// Mel bins (80, or 128 for large-v3).
    pub n_mels: usize,
}

impl Hparams {
    /// End-of-text token id: the vocabulary written is the tokens below it.
    pub fn eot(&self) -> usize {
        if self.n_vocab >= 51865 { 50257 } else { 50256 }
    }
}

/// One tensor to write: whisper.cpp's name, its shape (numpy order), where its data comes
/// from, and its ggml type.
#[derive(Debug, Clone)]
struct Planned {
    name: String,
    shape: Vec<usize>,
    source: String,
    rows: Option<Range<usize>>,
    ttype: GgmlType,
}

fn var<'a>(m: &'a Ct2Model, name: &str) -> Result<&'a Variable, ModelError> {
    m.variables
        .get(name)
        .ok_or_else(|| ModelError::Missing(name.to_owned()))
}

fn scalar(m: &Ct2Model, bytes: &[u8], name: &str) -> Result<usize, ModelError> {
    let v = var(m, name)?;
    let b = &bytes[v.data.clone()];
    let n = match (v.dtype, b.len()) {
        (Dtype::I16, 2) => i64::from(i16::from_le_bytes([b[0], b[1]])),
        (Dtype::I32, 4) => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        _ => return Err(ModelError::Format("a head count is not an integer scalar")),
    };
    usize::try_from(n).map_err(|_| ModelError::Format("a negative head count"))
}

/// Distinct `prefix/layer_N/` numbers.
fn layers(m: &Ct2Model, prefix: &str) -> usize {
    let p = format!("{prefix}/layer_");
    m.variables
        .keys()
        .filter_map(|k| {
            let rest = k.strip_prefix(&p)?;
            let (n, _) = rest.split_once('/')?;
            n.parse::<usize>().ok()
        })
        .collect::<BTreeSet<_>>()
        .len()
}

/// Reads the dimensions from the tensors' shapes, and checks they are a Whisper model's.
pub fn hparams(m: &Ct2Model, bytes: &[u8]) -> Result<Hparams, ModelError> {
    let h = read_hparams(m, bytes)?;
    // Only shapes real Whisper models have: the file sizes buffers and the loader trusts them.
    let fits = (51_864..=51_866).contains(&h.n_vocab)
        && h.n_audio_ctx == 1500
        && h.n_text_ctx == 448
        && (h.n_mels == 80 || h.n_mels == 128)
        && (256..=2048).contains(&h.n_state)
        && (1..=64).contains(&h.n_audio_head)
        && (1..=64).contains(&h.n_text_head)
        && h.n_state.is_multiple_of(h.n_audio_head)
        && h.n_state.is_multiple_of(h.n_text_head)
        && (1..=64).contains(&h.n_audio_layer)
        && (1..=64).contains(&h.n_text_layer)
        && var(m, "encoder/conv1/weight")?.shape == [h.n_state, h.n_mels, 3]
        && var(m, "decoder/position_encodings/encodings")?.shape == [h.n_text_ctx, h.n_state];
    if !fits {
        return Err(ModelError::Format(
            "its dimensions are not a Whisper model's",
        ));
    }
    Ok(h)
}

fn read_hparams(m: &Ct2Model, bytes: &[u8]) -> Result<Hparams, ModelError> {
    let dim = |name: &str, i: usize| -> Result<usize, ModelError> {
        var(m, name)?
            .shape
            .get(i)
            .copied()
            .ok_or(ModelError::Format(
                "a tensor has fewer dimensions than Whisper's",
            ))
    };
    Ok(Hparams {
        n_vocab: dim("decoder/embeddings/weight", 0)?,
        n_audio_ctx: dim("encoder/position_encodings/encodings", 0)?,
        n_state: dim("encoder/position_encodings/encodings", 1)?,
        n_audio_head: scalar(m, bytes, "encoder/num_heads")?,
        n_audio_layer: layers(m, "encoder"),
        n_text_ctx: dim("decoder/position_encodings/encodings", 0)?,
        n_text_head: scalar(m, bytes, "decoder/num_heads")?,
        n_text_layer: layers(m, "decoder"),
        n_mels: dim("encoder/conv1/weight", 1)?,
    })
}

/// Every tensor whisper.cpp expects, mapped from the CTranslate2 variables.
fn plan(m: &Ct2Model, h: &Hparams, wtype: WeightType) -> Result<Vec<Planned>, ModelError> {
    let s = h.n_state;
    let w2 = match wtype {
        WeightType::F16 => GgmlType::F16,
        WeightType::Q8_0 => GgmlType::Q8_0,
    };
    let mut out = Vec::new();
    // A whole variable, typed by its rank: matrices take the file's type, vectors are F32.
    let mut whole = |name: String, source: String| -> Result<(), ModelError> {
        let v = var(m, &source)?;
        let ttype = if v.shape.len() == 2 {
            w2
        } else {
            GgmlType::F32
        };
        out.push(Planned {
            name,
            shape: v.shape.clone(),
            source,
            rows: None,
            ttype,
        });
        Ok(())
    };
    for side in ["encoder", "decoder"] {
        let n = if side == "encoder" {
            h.n_audio_layer
        } else {
            h.n_text_layer
        };
        for i in 0..n {
            let (src, dst) = (format!("{side}/layer_{i}"), format!("{side}.blocks.{i}"));
            whole(
                format!("{dst}.attn.out.weight"),
                format!("{src}/self_attention/linear_1/weight"),
            )?;
            whole(
                format!("{dst}.attn.out.bias"),
                format!("{src}/self_attention/linear_1/bias"),
            )?;
            whole(
                format!("{dst}.attn_ln.weight"),
                format!("{src}/self_attention/layer_norm/gamma"),
            )?;
            whole(
                format!("{dst}.attn_ln.bias"),
                format!("{src}/self_attention/layer_norm/beta"),
            )?;
            for (to, from) in [("mlp.0", "ffn/linear_0"), ("mlp.2", "ffn/linear_1")] {
                whole(format!("{dst}.{to}.weight"), format!("{src}/{from}/weight"))?;
                whole(format!("{dst}.{to}.bias"), format!("{src}/{from}/bias"))?;
            }
            whole(
                format!("{dst}.mlp_ln.weight"),
                format!("{src}/ffn/layer_norm/gamma"),
            )?;
            whole(
                format!("{dst}.mlp_ln.bias"),
                format!("{src}/ffn/layer_norm/beta"),
            )?;
            if side == "decoder" {
                let a = format!("{src}/attention");
                whole(
                    format!("{dst}.cross_attn.query.weight"),
                    format!("{a}/linear_0/weight"),
                )?;
                whole(
                    format!("{dst}.cross_attn.query.bias"),
                    format!("{a}/linear_0/bias"),
                )?;
                whole(
                    format!("{dst}.cross_attn.out.weight"),
                    format!("{a}/linear_2/weight"),
                )?;
                whole(
                    format!("{dst}.cross_attn.out.bias"),
                    format!("{a}/linear_2/bias"),
                )?;
                whole(
                    format!("{dst}.cross_attn_ln.weight"),
                    format!("{a}/layer_norm/gamma"),
                )?;
                whole(
                    format!("{dst}.cross_attn_ln.bias"),
                    format!("{a}/layer_norm/beta"),
                )?;
            }
        }
    }
    whole(
        "encoder.ln_post.weight".into(),
        "encoder/layer_norm/gamma".into(),
    )?;
    whole(
        "encoder.ln_post.bias".into(),
        "encoder/layer_norm/beta".into(),
    )?;
    whole(
        "decoder.ln.weight".into(),
        "decoder/layer_norm/gamma".into(),
    )?;
    whole("decoder.ln.bias".into(), "decoder/layer_norm/beta".into())?;
    whole(
        "decoder.token_embedding.weight".into(),
        "decoder/embeddings/weight".into(),
    )?;
    // Rows of a fused variable.
    let mut split = |name: String, source: String, rows: Range<usize>, ttype| {
        let v = var(m, &source)?;
        if v.shape.first().is_none_or(|r| *r < rows.end) {
            return Err(ModelError::Format(
                "a fused projection is smaller than expected",
            ));
        }
        let mut shape = v.shape.clone();
        shape[0] = rows.len();
        out.push(Planned {
            name,
            shape,
            source,
            rows: Some(rows),
            ttype,
        });
        Ok(())
    };
    for (side, n) in [("encoder", h.n_audio_layer), ("decoder", h.n_text_layer)] {
        for i in 0..n {
            let (src, dst) = (format!("{side}/layer_{i}"), format!("{side}.blocks.{i}"));
            let fused = format!("{src}/self_attention/linear_0");
            for (part, rows) in [("query", 0..s), ("key", s..2 * s), ("value", 2 * s..3 * s)] {
                split(
                    format!("{dst}.attn.{part}.weight"),
                    format!("{fused}/weight"),
                    rows,
                    w2,
                )?;
            }
            // The key bias is zero in CTranslate2 and absent in whisper.cpp (softmax would
            // cancel it anyway).
            split(
                format!("{dst}.attn.query.bias"),
                format!("{fused}/bias"),
                0..s,
                GgmlType::F32,
            )?;
            split(
                format!("{dst}.attn.value.bias"),
                format!("{fused}/bias"),
                2 * s..3 * s,
                GgmlType::F32,
            )?;
            if side == "decoder" {
                let kv = format!("{src}/attention/linear_1");
                split(
                    format!("{dst}.cross_attn.key.weight"),
                    format!("{kv}/weight"),
                    0..s,
                    w2,
                )?;
                split(
                    format!("{dst}.cross_attn.value.weight"),
                    format!("{kv}/weight"),
                    s..2 * s,
                    w2,
                )?;
                split(
                    format!("{dst}.cross_attn.value.bias"),
                    format!("{kv}/bias"),
                    s..2 * s,
                    GgmlType::F32,
                )?;
            }
        }
    }
    // Fixed types: positional tables F32, convolutions F16 with their biases as [S, 1].
    for side in ["encoder", "decoder"] {
        let source = format!("{side}/position_encodings/encodings");
        let shape = var(m, &source)?.shape.clone();
        out.push(Planned {
            name: format!("{side}.positional_embedding"),
            shape,
            source,
            rows: None,
            ttype: GgmlType::F32,
        });
    }
    for conv in ["conv1", "conv2"] {
        let source = format!("encoder/{conv}/weight");
        let shape = var(m, &source)?.shape.clone();
        out.push(Planned {
            name: format!("encoder.{conv}.weight"),
            shape,
            source,
            rows: None,
            ttype: GgmlType::F16,
        });
        let source = format!("encoder/{conv}/bias");
        let len = var(m, &source)?.elements();
        out.push(Planned {
            name: format!("encoder.{conv}.bias"),
            shape: vec![len, 1],
            source,
            rows: None,
            ttype: GgmlType::F32,
        });
    }
    Ok(out)
}

fn i32le(n: usize) -> Result<[u8; 4], ModelError> {
    i32::try_from(n)
        .map(i32::to_le_bytes)
        .map_err(|_| ModelError::Format("a dimension does not fit the ggml header"))
}

/// Writes the ggml file for model `m` (parsed from `bytes`) with `tokens` and `mel`, calling
/// `progress` with the share written. Returns the number of tensors.
pub fn write(
    out: &mut impl Write,
    (m, bytes): (&Ct2Model, &[u8]),
    h: &Hparams,
    tokens: &[Vec<u8>],
    mel: &[f32],
    wtype: WeightType,
    progress: &mut dyn FnMut(f64),
) -> Result<usize, ModelError> {
    let tensors = plan(m, h, wtype)?;
    let ftype = match wtype {
        WeightType::F16 => 1,
        WeightType::Q8_0 => 2007,
    };
    let mut head = 0x6767_6d6c_u32.to_le_bytes().to_vec();
    for n in [
        h.n_vocab,
        h.n_audio_ctx,
        h.n_state,
        h.n_audio_head,
        h.n_audio_layer,
        h.n_text_ctx,
        h.n_state,
        h.n_text_head,
        h.n_text_layer,
        h.n_mels,
        ftype,
    ] {
        head.extend(i32le(n)?);
    }
    head.extend(i32le(h.n_mels)?);
    head.extend(i32le(super::mel::N_FFT / 2 + 1)?);
    for w in mel {
        head.extend(w.to_le_bytes());
    }
    head.extend(i32le(tokens.len())?);
    for t in tokens {
        head.extend(i32le(t.len())?);
        head.extend_from_slice(t);
    }
    out.write_all(&head)?;
    let total: usize = tensors
        .iter()
        .map(|t| t.shape.iter().product::<usize>())
        .sum();
    let mut done = 0usize;
    for t in &tensors {
        let v = var(m, &t.source)?;
        let raw = elements(bytes, v, t.rows.as_ref())?;
        let data: Vec<u8> = match (t.ttype, v.dtype) {
            (GgmlType::F16, Dtype::F16) => raw.to_vec(),
            (GgmlType::F16, d) => to_f32(raw, d)?
                .into_iter()
                .flat_map(|x| f16::from_f32(x).to_le_bytes())
                .collect(),
            (GgmlType::F32, d) => to_f32(raw, d)?
                .into_iter()
                .flat_map(f32::to_le_bytes)
                .collect(),
            (GgmlType::Q8_0, d) => {
                if t.shape.last().is_none_or(|n| n % QK8_0 != 0) {
                    return Err(ModelError::Format("a row does not split into blocks of 32"));
                }
                quantize_q8_0(&to_f32(raw, d)?)
            }
        };
        let mut header = Vec::new();
        header.extend(i32le(t.shape.len())?);
        header.extend(i32le(t.name.len())?);
        header.extend(i32le(t.ttype as usize)?);
        for d in t.shape.iter().rev() {
            header.extend(i32le(*d)?);
        }
        header.extend_from_slice(t.name.as_bytes());
        out.write_all(&header)?;
        out.write_all(&data)?;
        done += t.shape.iter().product::<usize>();
        progress(done as f64 / total.max(1) as f64);
    }
    Ok(tensors.len())
}
