//! whisper.cpp's legacy ggml model file: header, mel filterbank, vocabulary,
//! then tensors (`n_dims, name_len, type, dims[n_dims] (innermost first), name, data`).
//!
//! [`write_header`] and [`write_tensor`] produce it; [`inspect`] walks a file and
//! refuses anything whisper.cpp would choke on (it can abort the process on a
//! bad file), so it runs before a model is ever handed to whisper.cpp.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::ModelError;

pub const MAGIC: u32 = 0x6767_6d6c;

/// Model dimensions, in the order of the file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    /// 0 = all f32, 1 = f16 matrices; quantized files add 1000 * quantization version.
    pub ftype: i32,
}

impl Hparams {
    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    /// Tensor count whisper.cpp's loader expects for these dimensions.
    pub fn expected_tensor_count(&self) -> usize {
        // encoder: conv1 w/b, conv2 w/b, positional, ln_post w/b; 15 per block.
        // decoder: positional, token embedding, ln w/b; 24 per block (with cross-attention).
        7 + 15 * self.n_audio_layer as usize + 4 + 24 * self.n_text_layer as usize
    }
}

/// ggml element types used by Whisper model files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
}

impl GgmlType {
    pub fn id(self) -> i32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q5_0 => 6,
            Self::Q5_1 => 7,
            Self::Q8_0 => 8,
        }
    }

    fn from_id(id: i32) -> Option<Self> {
        [
            Self::F32,
            Self::F16,
            Self::Q4_0,
            Self::Q4_1,
            Self::Q5_0,
            Self::Q5_1,
            Self::Q8_0,
        ]
        .into_iter()
        .find(|t| t.id() == id)
    }

    /// The weight types `podcap model fetch --quantize` writes, by their ggml names.
    pub fn parse_weights(name: &str) -> Option<Self> {
        match name {
            "f16" => Some(Self::F16),
            "q8_0" => Some(Self::Q8_0),
            "q5_1" => Some(Self::Q5_1),
            _ => None,
        }
    }

    /// The ggml name ("q8_0").
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q4_0 => "q4_0",
            Self::Q4_1 => "q4_1",
            Self::Q5_0 => "q5_0",
            Self::Q5_1 => "q5_1",
            Self::Q8_0 => "q8_0",
        }
    }

    /// The header's `ftype` for a file whose matrices are of this type
    /// (ggml_ftype, plus the quantization format version 2 x 1000 for quantized files).
    pub fn file_type(self) -> i32 {
        const QNT_VERSION: i32 = 2 * 1000;
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2 + QNT_VERSION,
            Self::Q4_1 => 3 + QNT_VERSION,
            Self::Q8_0 => 7 + QNT_VERSION,
            Self::Q5_0 => 8 + QNT_VERSION,
            Self::Q5_1 => 9 + QNT_VERSION,
        }
    }

    /// (elements per block, bytes per block)
    fn block(self) -> (u64, u64) {
        match self {
            Self::F32 => (1, 4),
            Self::F16 => (1, 2),
            Self::Q4_0 => (32, 18),
            Self::Q4_1 => (32, 20),
            Self::Q5_0 => (32, 22),
            Self::Q5_1 => (32, 24),
            Self::Q8_0 => (32, 34),
        }
    }
}

fn put_i32(out: &mut dyn Write, v: i32) -> io::Result<()> {
    out.write_all(&v.to_le_bytes())
}

/// Writes the header, the `n_mels x n_fft` filterbank and the vocabulary (token byte strings).
pub fn write_header(
    out: &mut dyn Write,
    hparams: &Hparams,
    mel_filters: &[f32],
    n_fft: usize,
    vocab: &[Vec<u8>],
) -> io::Result<()> {
    put_i32(out, MAGIC as i32)?;
    for v in hparams.fields() {
        put_i32(out, v)?;
    }
    put_i32(out, hparams.n_mels)?;
    put_i32(out, n_fft as i32)?;
    for &w in mel_filters {
        out.write_all(&w.to_le_bytes())?;
    }
    put_i32(out, vocab.len() as i32)?;
    for token in vocab {
        put_i32(out, token.len() as i32)?;
        out.write_all(token)?;
    }
    Ok(())
}

/// Writes one tensor. `shape` is outermost-first (PyTorch order); the file stores it innermost-first.
pub fn write_tensor(
    out: &mut dyn Write,
    name: &str,
    shape: &[usize],
    values: &[f32],
    ty: GgmlType,
) -> io::Result<()> {
    debug_assert_eq!(shape.iter().product::<usize>(), values.len());
    put_i32(out, shape.len() as i32)?;
    put_i32(out, name.len() as i32)?;
    put_i32(out, ty.id())?;
    for &d in shape.iter().rev() {
        put_i32(out, d as i32)?;
    }
    out.write_all(name.as_bytes())?;
    let mut buf = Vec::with_capacity(values.len() * 4);
    match ty {
        GgmlType::F32 => values
            .iter()
            .for_each(|v| buf.extend_from_slice(&v.to_le_bytes())),
        GgmlType::F16 => values
            .iter()
            .for_each(|v| buf.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
        GgmlType::Q8_0 | GgmlType::Q5_1 => {
            let row = shape.last().copied().unwrap_or(0);
            if row % QK != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{name}: rows of {row} values do not split into blocks of {QK}"),
                ));
            }
            for block in values.chunks_exact(QK) {
                let block: &[f32; QK] = block.try_into().expect("a whole block");
                if ty == GgmlType::Q8_0 {
                    quantize_q8_0(block, &mut buf);
                } else {
                    quantize_q5_1(block, &mut buf);
                }
            }
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the converter does not write {} tensors", ty.name()),
            ))
        }
    };
    out.write_all(&buf)
}

/// Values per quantization block.
const QK: usize = 32;

/// ggml's `block_q8_0`: an f16 scale, then 32 signed bytes (ggml's reference quantizer).
fn quantize_q8_0(block: &[f32; QK], out: &mut Vec<u8>) {
    let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
    out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
}

/// ggml's `block_q5_1`: f16 scale and minimum, the 32 fifth bits, then 32 low nibbles
/// (value j in the low nibble of byte j, value 16 + j in its high nibble).
fn quantize_q5_1(block: &[f32; QK], out: &mut Vec<u8>) {
    let min = block.iter().copied().fold(f32::INFINITY, f32::min);
    let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let d = (max - min) / 31.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let q = |v: f32| ((v - min) * id + 0.5) as u8;
    let mut qh: u32 = 0;
    let mut qs = [0u8; QK / 2];
    for j in 0..QK / 2 {
        let (lo, hi) = (q(block[j]), q(block[j + QK / 2]));
        qs[j] = (lo & 0x0f) | ((hi & 0x0f) << 4);
        qh |= u32::from((lo & 0x10) >> 4) << j;
        qh |= u32::from((hi & 0x10) >> 4) << (j + QK / 2);
    }
    out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
    out.extend_from_slice(&half::f16::from_f32(min).to_le_bytes());
    out.extend_from_slice(&qh.to_le_bytes());
    out.extend_from_slice(&qs);
}

/// What [`inspect`] found in a valid model file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    pub hparams: Hparams,
    pub vocab_len: usize,
    pub tensor_count: usize,
    pub size_bytes: u64,
    /// Every tensor, in file order.
    pub tensors: Vec<TensorEntry>,
}

/// One row of the tensor table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TensorEntry {
    pub name: String,
    /// Innermost first, as stored.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Offset of the data in the file.
    pub data_offset: u64,
}

impl ModelInfo {
    pub fn is_multilingual(&self) -> bool {
        self.hparams.n_vocab >= 51865
    }
}

fn bad(path: &Path, detail: impl Into<String>) -> ModelError {
    ModelError::BadModel {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Walks a ggml Whisper model file and checks every structure whisper.cpp will read.
pub fn inspect(path: &Path) -> Result<ModelInfo, ModelError> {
    let file = File::open(path).map_err(|e| ModelError::Missing {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let size_bytes = file.metadata().map_err(|e| bad(path, e.to_string()))?.len();
    let mut r = BufReader::new(file);
    let mut pos: u64 = 0;
    let truncated = |what: &str, pos: u64| {
        bad(
            path,
            format!("is truncated: it ends inside {what} (byte {pos} of a {size_bytes}-byte file)"),
        )
    };
    let read_i32 =
        |r: &mut BufReader<File>, pos: &mut u64, what: &str| -> Result<i32, ModelError> {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(|_| truncated(what, *pos))?;
            *pos += 4;
            Ok(i32::from_le_bytes(b))
        };
    let magic = read_i32(&mut r, &mut pos, "the header")? as u32;
    if magic != MAGIC {
        return Err(bad(
            path,
            format!("is not a ggml Whisper model (magic {magic:#010x}, expected {MAGIC:#010x})"),
        ));
    }
    let mut f = [0i32; 11];
    for v in f.iter_mut() {
        *v = read_i32(&mut r, &mut pos, "the header")?;
    }
    let hparams = Hparams {
        n_vocab: f[0],
        n_audio_ctx: f[1],
        n_audio_state: f[2],
        n_audio_head: f[3],
        n_audio_layer: f[4],
        n_text_ctx: f[5],
        n_text_state: f[6],
        n_text_head: f[7],
        n_text_layer: f[8],
        n_mels: f[9],
        ftype: f[10],
    };
    let sane = (50_000..=52_000).contains(&hparams.n_vocab)
        && hparams.n_audio_ctx == 1500
        && hparams.n_text_ctx == 448
        && (1..=64).contains(&hparams.n_audio_layer)
        && (1..=64).contains(&hparams.n_text_layer)
        && (1..=64).contains(&hparams.n_audio_head)
        && (1..=64).contains(&hparams.n_text_head)
        && (64..=4096).contains(&hparams.n_audio_state)
        && (64..=4096).contains(&hparams.n_text_state)
        && (hparams.n_mels == 80 || hparams.n_mels == 128)
        && (0..10_000).contains(&hparams.ftype);
    if !sane {
        return Err(bad(path, format!("has implausible dimensions {hparams:?}")));
    }
    let n_mel = read_i32(&mut r, &mut pos, "the mel filters")?;
    let n_fft = read_i32(&mut r, &mut pos, "the mel filters")?;
    if n_mel != hparams.n_mels || n_fft != 201 {
        return Err(bad(
            path,
            format!(
                "has a {n_mel}x{n_fft} mel filterbank, expected {}x201",
                hparams.n_mels
            ),
        ));
    }
    let skip =
        |r: &mut BufReader<File>, pos: &mut u64, n: u64, what: &str| -> Result<(), ModelError> {
            if *pos + n > size_bytes {
                return Err(truncated(what, size_bytes));
            }
            r.seek(SeekFrom::Current(n as i64))
                .map_err(|e| bad(path, e.to_string()))?;
            *pos += n;
            Ok(())
        };
    skip(
        &mut r,
        &mut pos,
        (n_mel * n_fft) as u64 * 4,
        "the mel filters",
    )?;
    let vocab_len = read_i32(&mut r, &mut pos, "the vocabulary")?;
    if !(0..=hparams.n_vocab).contains(&vocab_len) {
        return Err(bad(
            path,
            format!(
                "has {vocab_len} vocabulary entries for {} tokens",
                hparams.n_vocab
            ),
        ));
    }
    for _ in 0..vocab_len {
        let len = read_i32(&mut r, &mut pos, "the vocabulary")?;
        if !(0..=1024).contains(&len) {
            return Err(bad(path, format!("has a vocabulary entry of {len} bytes")));
        }
        skip(&mut r, &mut pos, len as u64, "the vocabulary")?;
    }
    let mut tensor_count = 0usize;
    let mut tensors = Vec::new();
    while pos < size_bytes {
        let what = format!("tensor #{}", tensor_count + 1);
        let n_dims = read_i32(&mut r, &mut pos, &what)?;
        let name_len = read_i32(&mut r, &mut pos, &what)?;
        let ty_id = read_i32(&mut r, &mut pos, &what)?;
        if !(1..=4).contains(&n_dims) || !(1..=256).contains(&name_len) {
            return Err(bad(
                path,
                format!("{what} has a broken header (dims {n_dims}, name length {name_len})"),
            ));
        }
        let ty = GgmlType::from_id(ty_id)
            .ok_or_else(|| bad(path, format!("{what} has unknown type {ty_id}")))?;
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let d = read_i32(&mut r, &mut pos, &what)?;
            if d <= 0 {
                return Err(bad(path, format!("{what} has dimension {d}")));
            }
            dims.push(d as u64);
        }
        let elements: u64 = dims.iter().product();
        let mut name = vec![0u8; name_len as usize];
        r.read_exact(&mut name).map_err(|_| truncated(&what, pos))?;
        pos += name_len as u64;
        let name = String::from_utf8_lossy(&name).into_owned();
        if !(name.starts_with("encoder.") || name.starts_with("decoder.")) {
            return Err(bad(path, format!("{what} has unexpected name {name:?}")));
        }
        let (per_block, block_bytes) = ty.block();
        if !elements.is_multiple_of(per_block) {
            return Err(bad(
                path,
                format!("tensor {name} does not fill whole {ty:?} blocks"),
            ));
        }
        let data_offset = pos;
        let data_bytes = elements / per_block * block_bytes;
        skip(&mut r, &mut pos, data_bytes, &format!("tensor {name}"))?;
        tensors.push(TensorEntry {
            name,
            dims,
            ty,
            data_offset,
        });
        tensor_count += 1;
    }
    if tensor_count != hparams.expected_tensor_count() {
        return Err(bad(
            path,
            format!(
                "has {tensor_count} tensors; a model of these dimensions has {}",
                hparams.expected_tensor_count()
            ),
        ));
    }
    Ok(ModelInfo {
        hparams,
        vocab_len: vocab_len as usize,
        tensor_count,
        size_bytes,
        tensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f16_at(b: &[u8], at: usize) -> f32 {
        half::f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
    }

    /// ggml's dequantizers, written out from its block layouts.
    fn dequantize(ty: GgmlType, bytes: &[u8]) -> Vec<f32> {
        let (_, block_bytes) = ty.block();
        let mut out = Vec::new();
        for b in bytes.chunks_exact(block_bytes as usize) {
            match ty {
                GgmlType::Q8_0 => {
                    let d = f16_at(b, 0);
                    out.extend(b[2..].iter().map(|&q| q as i8 as f32 * d));
                }
                GgmlType::Q5_1 => {
                    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
                    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                    let qs = &b[8..];
                    let mut block = [0f32; QK];
                    for j in 0..QK / 2 {
                        let lo = (qs[j] & 0x0f) | ((((qh >> j) & 1) as u8) << 4);
                        let hi = (qs[j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
                        block[j] = lo as f32 * d + m;
                        block[j + QK / 2] = hi as f32 * d + m;
                    }
                    out.extend(block);
                }
                _ => unreachable!(),
            }
        }
        out
    }

    #[test]
    fn quantized_tensors_round_trip_within_one_step() {
        // Two rows of 64 values with a wide range, and an all-zero block.
        let mut values: Vec<f32> = (0..128)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        values[64..96].fill(0.0);
        for (ty, steps) in [(GgmlType::Q8_0, 127.0), (GgmlType::Q5_1, 31.0)] {
            let mut file = Vec::new();
            write_tensor(&mut file, "w", &[2, 64], &values, ty).unwrap();
            let header = 4 * 3 + 4 * 2 + 1;
            let data = &file[header..];
            assert_eq!(data.len() as u64, 4 * ty.block().1, "{ty:?}: 4 blocks");
            let back = dequantize(ty, data);
            for (block, got) in values.chunks(QK).zip(back.chunks(QK)) {
                let range = block.iter().fold(0f32, |m, v| m.max(v.abs())) * 2.0;
                for (v, g) in block.iter().zip(got) {
                    assert!(
                        (v - g).abs() <= range / steps,
                        "{ty:?}: {v} came back as {g}"
                    );
                }
            }
            assert!(
                back[64..96].iter().all(|&v| v == 0.0),
                "{ty:?}: zeros stay zero"
            );
        }
    }

    #[test]
    fn rows_that_do_not_fill_blocks_are_refused() {
        let err =
            write_tensor(&mut Vec::new(), "w", &[2, 48], &[0.0; 96], GgmlType::Q8_0).unwrap_err();
        assert!(err.to_string().contains("blocks of 32"), "{err}");
    }
}
