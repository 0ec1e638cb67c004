//! The record beside an episode's outputs of what made them: the audio and
//! transcript (by SHA-256), the model and settings, podcap's version, and
//! the outputs themselves. A rerun compares it with what it would use now
//! and redoes only what changed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "podcap-batch-record";
pub const VERSION: u32 = 1;

/// An input file as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub path: String,
    pub sha256: String,
    pub size_bytes: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: u128,
}

impl FileStamp {
    /// Stamps `path`. Like make and rsync, a file whose size and
    /// modification time are those of `known` is taken to be unchanged and
    /// not read again; any other is hashed.
    pub fn of(path: &Path, known: Option<&FileStamp>) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        let modified_ns = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let size_bytes = meta.len();
        let sha256 = match known {
            Some(k) if k.size_bytes == size_bytes && k.modified_ns == modified_ns => {
                k.sha256.clone()
            }
            _ => crate::fsutil::sha256_file(path)?,
        };
        Ok(FileStamp {
            path: path.display().to_string(),
            sha256,
            size_bytes,
            modified_ns,
        })
    }
}

/// What decides the recognized words: a change redoes the recognition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recognition {
    pub podcap_version: String,
    pub model_name: String,
    pub model_sha256: String,
    pub beam_size: usize,
    pub language: String,
    /// whisper.cpp threads per chunk (OpenBLAS sums in another order with another count).
    pub threads_per_job: usize,
}

/// What decides the outputs from the recognized words: a change only aligns again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendering {
    pub formats: Vec<String>,
    /// [`crate::captions::CueOptions`], as written.
    pub cues: serde_json::Value,
}

/// An output file and the SHA-256 of the bytes written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub file: String,
    pub sha256: String,
}

/// The figures of the run that made the outputs, for the summary of a rerun that skips it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub audio_duration_ms: u64,
    pub transcript_words: Option<usize>,
    pub words_matched: Option<usize>,
    pub disagreements: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema: String,
    pub version: u32,
    pub audio: FileStamp,
    pub transcript: Option<FileStamp>,
    pub recognition: Recognition,
    pub rendering: Rendering,
    /// In the episode's output folder.
    pub outputs: Vec<Output>,
    pub figures: Figures,
}

/// Where the record of episode `id` whose outputs go to `out_dir` is kept.
pub fn path(out_dir: &Path, id: &str) -> PathBuf {
    out_dir.join(".podcap").join(format!("{id}.record.json"))
}

/// The record at `path`, if there is a readable one of this version.
pub fn read(path: &Path) -> Option<Record> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<Record>(&bytes)
        .ok()
        .filter(|r| r.schema == SCHEMA && r.version == VERSION)
}

pub fn write(path: &Path, record: &Record) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomically(path, |w| w.write_all(&json))
}

/// What a rerun must do for an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The outputs are those the inputs and settings would give.
    Skip,
    /// The recognized words stand (same audio, model and settings) but the
    /// transcript, the caption settings or an output changed: align again
    /// from the saved JSON.
    Realign,
    /// Run the model.
    Caption,
}

/// Compares the record of the last run with what this run would use.
pub fn decide(
    previous: Option<&Record>,
    audio: &FileStamp,
    transcript: Option<&FileStamp>,
    recognition: &Recognition,
    rendering: &Rendering,
    out_dir: &Path,
) -> Action {
    let Some(previous) = previous else {
        return Action::Caption;
    };
    if previous.audio.sha256 != audio.sha256 || &previous.recognition != recognition {
        return Action::Caption;
    }
    let intact = |o: &Output| {
        crate::fsutil::sha256_file(&out_dir.join(&o.file)).is_ok_and(|sha| sha == o.sha256)
    };
    let same_transcript =
        previous.transcript.as_ref().map(|t| &t.sha256) == transcript.map(|t| &t.sha256);
    if same_transcript && &previous.rendering == rendering && previous.outputs.iter().all(intact) {
        return Action::Skip;
    }
    // Aligning again needs the saved recognized words, and a transcript.
    let json = previous.outputs.iter().find(|o| o.file.ends_with(".json"));
    if transcript.is_some() && json.is_some_and(intact) {
        Action::Realign
    } else {
        Action::Caption
    }
}
