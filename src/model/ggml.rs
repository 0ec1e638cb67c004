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
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the converter writes f32 and f16 tensors only",
            ))
        }
    };
    out.write_all(&buf)
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
        if elements % per_block != 0 {
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
