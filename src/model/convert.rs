//! CTranslate2 Whisper (`WhisperSpec`) -> whisper.cpp ggml.
//!
//! CTranslate2 fuses the self-attention q/k/v projections into one matrix
//! (`self_attention/linear_0`, rows q | k | v) and the cross-attention k/v into
//! one (`attention/linear_1`, rows k | v); whisper.cpp wants them apart, and has
//! no key bias (CTranslate2 stores zeros there). Matrices are written as f16,
//! norms, biases and positional embeddings as f32, as whisper.cpp's loader expects.
//! The vocabulary comes as GPT-2 byte-level unicode strings and is mapped back
//! to raw bytes; whisper.cpp appends the special tokens itself.

use std::io::Write;

use super::ct2::{Ct2Model, Ct2Tensor};
use super::ggml::{self, GgmlType, Hparams};
use super::{mel, ModelError};

fn err(detail: impl Into<String>) -> ModelError {
    ModelError::Ct2Format(detail.into())
}

fn var<'m, 'a>(model: &'m Ct2Model<'a>, name: &str) -> Result<&'m Ct2Tensor<'a>, ModelError> {
    model
        .variables
        .get(name)
        .ok_or_else(|| err(format!("has no variable {name}; is it a Whisper model?")))
}

fn count_layers(model: &Ct2Model, stack: &str) -> usize {
    (0..)
        .take_while(|i| {
            let prefix = format!("{stack}/layer_{i}/");
            model
                .variables
                .range(prefix.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&prefix))
        })
        .count()
}

fn scalar(model: &Ct2Model, name: &str) -> Result<i32, ModelError> {
    var(model, name)?
        .scalar_i64()
        .map(|v| v as i32)
        .ok_or_else(|| err(format!("{name} is not an integer scalar")))
}

/// GPT-2's byte <-> printable-unicode table, inverted: unicode char -> byte.
fn unicode_to_byte() -> std::collections::HashMap<char, u8> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut chars: Vec<u32> = printable.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    printable
        .into_iter()
        .zip(chars)
        .map(|(b, c)| (char::from_u32(c).expect("valid code point"), b as u8))
        .collect()
}

/// The ordinary (non-special) tokens of `vocabulary.txt` as raw bytes: every line
/// before `<|endoftext|>`.
pub fn decode_vocabulary(vocabulary_txt: &str) -> Result<Vec<Vec<u8>>, ModelError> {
    let table = unicode_to_byte();
    let mut tokens = Vec::new();
    for (i, line) in vocabulary_txt.lines().enumerate() {
        if line == "<|endoftext|>" {
            return Ok(tokens);
        }
        let bytes = line
            .chars()
            .map(|c| table.get(&c).copied())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| {
                err(format!(
                    "vocabulary line {} ({line:?}) is not GPT-2 byte-level text",
                    i + 1
                ))
            })?;
        tokens.push(bytes);
    }
    Err(err("vocabulary has no <|endoftext|> token"))
}

/// Rows `[from, to)` of a row-major tensor, as f32.
fn rows(
    t: &Ct2Tensor,
    from: usize,
    to: usize,
    name: &str,
) -> Result<(Vec<usize>, Vec<f32>), ModelError> {
    let row_len: usize = t.shape[1..].iter().product();
    let all = t.to_f32().map_err(|e| err(format!("{name}: {e}")))?;
    let mut shape = t.shape.clone();
    shape[0] = to - from;
    Ok((shape, all[from * row_len..to * row_len].to_vec()))
}

struct Emitter<'o> {
    out: &'o mut dyn Write,
    written: usize,
    /// The type of the weight matrices (f16, or quantized).
    weights: GgmlType,
}

impl Emitter<'_> {
    fn put(&mut self, name: &str, shape: &[usize], values: &[f32]) -> Result<(), ModelError> {
        // whisper.cpp keeps vectors, conv biases and positional embeddings in
        // f32, convolution kernels in f16, and the other matrices in the file's type.
        let keep_f32 = shape.len() < 2
            || name.ends_with("conv1.bias")
            || name.ends_with("conv2.bias")
            || name.ends_with("positional_embedding");
        let ty = if keep_f32 {
            GgmlType::F32
        } else if shape.len() == 2 {
            self.weights
        } else {
            GgmlType::F16
        };
        ggml::write_tensor(self.out, name, shape, values, ty).map_err(ModelError::Io)?;
        self.written += 1;
        Ok(())
    }

    /// A whole CTranslate2 variable under a ggml name.
    fn copy(
        &mut self,
        model: &Ct2Model,
        ct2_name: &str,
        ggml_name: &str,
    ) -> Result<(), ModelError> {
        let t = var(model, ct2_name)?;
        let values = t.to_f32().map_err(|e| err(format!("{ct2_name}: {e}")))?;
        self.put(ggml_name, &t.shape, &values)
    }

    /// Rows `[part * d, (part + 1) * d)` of a fused projection.
    fn split(
        &mut self,
        model: &Ct2Model,
        ct2_name: &str,
        part: usize,
        d: usize,
        ggml_name: &str,
    ) -> Result<(), ModelError> {
        let t = var(model, ct2_name)?;
        if t.shape[0] % d != 0 || t.shape[0] < (part + 1) * d {
            return Err(err(format!(
                "{ct2_name} has shape {:?}, not a fused projection of width {d}",
                t.shape
            )));
        }
        let (shape, values) = rows(t, part * d, (part + 1) * d, ct2_name)?;
        self.put(ggml_name, &shape, &values)
    }

    fn linear(&mut self, model: &Ct2Model, ct2: &str, ggml_name: &str) -> Result<(), ModelError> {
        self.copy(
            model,
            &format!("{ct2}/weight"),
            &format!("{ggml_name}.weight"),
        )?;
        self.copy(model, &format!("{ct2}/bias"), &format!("{ggml_name}.bias"))
    }

    fn norm(&mut self, model: &Ct2Model, ct2: &str, ggml_name: &str) -> Result<(), ModelError> {
        self.copy(
            model,
            &format!("{ct2}/gamma"),
            &format!("{ggml_name}.weight"),
        )?;
        self.copy(model, &format!("{ct2}/beta"), &format!("{ggml_name}.bias"))
    }

    /// Self-attention, MLP and their norms: shared by encoder and decoder blocks.
    fn block_common(
        &mut self,
        model: &Ct2Model,
        ct2: &str,
        ggml_prefix: &str,
        d: usize,
    ) -> Result<(), ModelError> {
        let qkv = format!("{ct2}/self_attention/linear_0");
        self.split(
            model,
            &format!("{qkv}/weight"),
            0,
            d,
            &format!("{ggml_prefix}.attn.query.weight"),
        )?;
        self.split(
            model,
            &format!("{qkv}/bias"),
            0,
            d,
            &format!("{ggml_prefix}.attn.query.bias"),
        )?;
        self.split(
            model,
            &format!("{qkv}/weight"),
            1,
            d,
            &format!("{ggml_prefix}.attn.key.weight"),
        )?;
        self.split(
            model,
            &format!("{qkv}/weight"),
            2,
            d,
            &format!("{ggml_prefix}.attn.value.weight"),
        )?;
        self.split(
            model,
            &format!("{qkv}/bias"),
            2,
            d,
            &format!("{ggml_prefix}.attn.value.bias"),
        )?;
        self.linear(
            model,
            &format!("{ct2}/self_attention/linear_1"),
            &format!("{ggml_prefix}.attn.out"),
        )?;
        self.norm(
            model,
            &format!("{ct2}/self_attention/layer_norm"),
            &format!("{ggml_prefix}.attn_ln"),
        )?;
        self.linear(
            model,
            &format!("{ct2}/ffn/linear_0"),
            &format!("{ggml_prefix}.mlp.0"),
        )?;
        self.linear(
            model,
            &format!("{ct2}/ffn/linear_1"),
            &format!("{ggml_prefix}.mlp.2"),
        )?;
        self.norm(
            model,
            &format!("{ct2}/ffn/layer_norm"),
            &format!("{ggml_prefix}.mlp_ln"),
        )
    }
}

/// Reads the model dimensions from a parsed CTranslate2 Whisper model, for a
/// file whose weight matrices are of type `weights`.
pub fn hparams(model: &Ct2Model, weights: GgmlType) -> Result<Hparams, ModelError> {
    if model.spec_name != "WhisperSpec" {
        return Err(err(format!(
            "is a {} model, not WhisperSpec",
            model.spec_name
        )));
    }
    let embeddings = var(model, "decoder/embeddings/weight")?;
    let enc_pos = var(model, "encoder/position_encodings/encodings")?;
    let dec_pos = var(model, "decoder/position_encodings/encodings")?;
    let conv1 = var(model, "encoder/conv1/weight")?;
    if embeddings.shape.len() != 2
        || enc_pos.shape.len() != 2
        || dec_pos.shape.len() != 2
        || conv1.shape.len() != 3
    {
        return Err(err("has embeddings or convolutions of unexpected rank"));
    }
    Ok(Hparams {
        n_vocab: embeddings.shape[0] as i32,
        n_audio_ctx: enc_pos.shape[0] as i32,
        n_audio_state: enc_pos.shape[1] as i32,
        n_audio_head: scalar(model, "encoder/num_heads")?,
        n_audio_layer: count_layers(model, "encoder") as i32,
        n_text_ctx: dec_pos.shape[0] as i32,
        n_text_state: dec_pos.shape[1] as i32,
        n_text_head: scalar(model, "decoder/num_heads")?,
        n_text_layer: count_layers(model, "decoder") as i32,
        n_mels: conv1.shape[1] as i32,
        ftype: weights.file_type(),
    })
}

/// Writes the whole ggml file for `model` with `vocabulary_txt`, its weight
/// matrices as `weights` (f16, or quantized like whisper.cpp's `quantize`);
/// returns its dimensions.
pub fn write_ggml(
    model: &Ct2Model,
    vocabulary_txt: &str,
    weights: GgmlType,
    out: &mut dyn Write,
) -> Result<Hparams, ModelError> {
    let hp = hparams(model, weights)?;
    let vocab = decode_vocabulary(vocabulary_txt)?;
    let filters = mel::filterbank(hp.n_mels as usize);
    ggml::write_header(out, &hp, &filters, mel::N_FREQ_BINS, &vocab).map_err(ModelError::Io)?;

    let mut e = Emitter {
        out,
        written: 0,
        weights,
    };
    let d_audio = hp.n_audio_state as usize;
    let d_text = hp.n_text_state as usize;
    e.copy(
        model,
        "encoder/position_encodings/encodings",
        "encoder.positional_embedding",
    )?;
    for (conv, name) in [("conv1", "encoder.conv1"), ("conv2", "encoder.conv2")] {
        e.copy(
            model,
            &format!("encoder/{conv}/weight"),
            &format!("{name}.weight"),
        )?;
        // whisper.cpp holds conv biases as [n_state, 1].
        let bias = var(model, &format!("encoder/{conv}/bias"))?;
        let values = bias
            .to_f32()
            .map_err(|x| err(format!("{conv} bias: {x}")))?;
        e.put(&format!("{name}.bias"), &[values.len(), 1], &values)?;
    }
    for i in 0..hp.n_audio_layer {
        e.block_common(
            model,
            &format!("encoder/layer_{i}"),
            &format!("encoder.blocks.{i}"),
            d_audio,
        )?;
    }
    e.norm(model, "encoder/layer_norm", "encoder.ln_post")?;

    e.copy(
        model,
        "decoder/position_encodings/encodings",
        "decoder.positional_embedding",
    )?;
    e.copy(
        model,
        "decoder/embeddings/weight",
        "decoder.token_embedding.weight",
    )?;
    for i in 0..hp.n_text_layer {
        let ct2 = format!("decoder/layer_{i}");
        let g = format!("decoder.blocks.{i}");
        e.block_common(model, &ct2, &g, d_text)?;
        e.linear(
            model,
            &format!("{ct2}/attention/linear_0"),
            &format!("{g}.cross_attn.query"),
        )?;
        let kv = format!("{ct2}/attention/linear_1");
        e.split(
            model,
            &format!("{kv}/weight"),
            0,
            d_text,
            &format!("{g}.cross_attn.key.weight"),
        )?;
        e.split(
            model,
            &format!("{kv}/weight"),
            1,
            d_text,
            &format!("{g}.cross_attn.value.weight"),
        )?;
        e.split(
            model,
            &format!("{kv}/bias"),
            1,
            d_text,
            &format!("{g}.cross_attn.value.bias"),
        )?;
        e.linear(
            model,
            &format!("{ct2}/attention/linear_2"),
            &format!("{g}.cross_attn.out"),
        )?;
        e.norm(
            model,
            &format!("{ct2}/attention/layer_norm"),
            &format!("{g}.cross_attn_ln"),
        )?;
    }
    e.norm(model, "decoder/layer_norm", "decoder.ln")?;

    if e.written != hp.expected_tensor_count() {
        return Err(err(format!(
            "produced {} tensors, expected {}",
            e.written,
            hp.expected_tensor_count()
        )));
    }
    Ok(hp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_maps_byte_level_unicode_back_to_bytes() {
        // 'Ġ' is the GPT-2 stand-in for a space, 'Ċ' for a newline; 'Ã©' is the UTF-8 of 'é'.
        let v =
            decode_vocabulary("!\nĠthe\nĊ\nÃ©\n<|endoftext|>\n<|startoftranscript|>\n").unwrap();
        assert_eq!(
            v,
            vec![
                b"!".to_vec(),
                b" the".to_vec(),
                b"\n".to_vec(),
                "é".as_bytes().to_vec()
            ]
        );
        assert!(decode_vocabulary("a\nb\n").is_err());
        assert!(decode_vocabulary("a\u{4e00}\n<|endoftext|>\n").is_err());
    }

    #[test]
    fn byte_table_is_a_bijection() {
        let t = unicode_to_byte();
        assert_eq!(t.len(), 256);
        let mut bytes: Vec<u8> = t.values().copied().collect();
        bytes.sort();
        bytes.dedup();
        assert_eq!(bytes.len(), 256);
    }
}
