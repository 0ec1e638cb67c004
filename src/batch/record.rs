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
    /// With a transcript, the decoding loop's tolerance.
    #[serde(default)]
    pub draft_tolerance_nats: f32,
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

impl Record {
    /// The JSON report among the outputs: its recognized words let a rerun align again.
    pub fn saved_json(&self) -> Option<&Output> {
        self.outputs.iter().find(|o| o.file.ends_with(".json"))
    }
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
    if transcript.is_some() && previous.saved_json().is_some_and(intact) {
        Action::Realign
    } else {
        Action::Caption
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sha256: &str) -> FileStamp {
        FileStamp {
            path: "x".into(),
            sha256: sha256.into(),
            size_bytes: 1,
            modified_ns: 1,
        }
    }

    #[test]
    fn a_rerun_skips_realigns_or_captions_by_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("e.vtt"), "vtt").unwrap();
        std::fs::write(dir.path().join("e.json"), "{}").unwrap();
        let recognition = Recognition {
            podcap_version: "1".into(),
            model_name: "tiny.en".into(),
            model_sha256: "m".into(),
            beam_size: 5,
            draft_tolerance_nats: 0.0,
            language: "en".into(),
            threads_per_job: 1,
        };
        let rendering = Rendering {
            formats: vec!["vtt".into(), "json".into()],
            cues: serde_json::json!({"max_chars_per_line": 42}),
        };
        let output = |file: &str| Output {
            file: file.into(),
            sha256: crate::fsutil::sha256_file(&dir.path().join(file)).unwrap(),
        };
        let record = Record {
            schema: SCHEMA.into(),
            version: VERSION,
            audio: stamp("a"),
            transcript: Some(stamp("t")),
            recognition: recognition.clone(),
            rendering: rendering.clone(),
            outputs: vec![output("e.vtt"), output("e.json")],
            figures: Figures {
                audio_duration_ms: 1,
                transcript_words: None,
                words_matched: None,
                disagreements: None,
            },
        };
        let decide_with = |audio: &str,
                           transcript: Option<&str>,
                           recognition: &Recognition,
                           rendering: &Rendering| {
            decide(
                Some(&record),
                &stamp(audio),
                transcript.map(stamp).as_ref(),
                recognition,
                rendering,
                dir.path(),
            )
        };
        assert_eq!(
            decide_with("a", Some("t"), &recognition, &rendering),
            Action::Skip
        );
        assert_eq!(
            decide(
                None,
                &stamp("a"),
                None,
                &recognition,
                &rendering,
                dir.path()
            ),
            Action::Caption
        );
        // Only the transcript or the cue settings changed: align again.
        assert_eq!(
            decide_with("a", Some("t2"), &recognition, &rendering),
            Action::Realign
        );
        let mut wider = rendering.clone();
        wider.cues = serde_json::json!({"max_chars_per_line": 37});
        assert_eq!(
            decide_with("a", Some("t"), &recognition, &wider),
            Action::Realign
        );
        // Without a transcript now, there is nothing to align to.
        assert_eq!(
            decide_with("a", None, &recognition, &rendering),
            Action::Caption
        );
        // New audio, another model or another beam: recognize again.
        assert_eq!(
            decide_with("a2", Some("t"), &recognition, &rendering),
            Action::Caption
        );
        let mut other = recognition.clone();
        other.model_sha256 = "m2".into();
        assert_eq!(
            decide_with("a", Some("t"), &other, &rendering),
            Action::Caption
        );
        // A damaged caption file is made again from the saved words...
        std::fs::write(dir.path().join("e.vtt"), "vt").unwrap();
        assert_eq!(
            decide_with("a", Some("t"), &recognition, &rendering),
            Action::Realign
        );
        // ...unless the saved words are damaged too.
        std::fs::write(dir.path().join("e.json"), "{").unwrap();
        assert_eq!(
            decide_with("a", Some("t"), &recognition, &rendering),
            Action::Caption
        );
    }

    #[test]
    fn a_file_is_hashed_again_only_when_its_size_or_time_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "one").unwrap();
        let first = FileStamp::of(&path, None).unwrap();
        assert_eq!(first.sha256, crate::fsutil::sha256_bytes(b"one"));
        // Same size and time: the known hash is taken as is.
        let known = FileStamp {
            sha256: "known".into(),
            ..first.clone()
        };
        assert_eq!(FileStamp::of(&path, Some(&known)).unwrap().sha256, "known");
        std::fs::write(&path, "three").unwrap();
        assert_eq!(
            FileStamp::of(&path, Some(&known)).unwrap().sha256,
            crate::fsutil::sha256_bytes(b"three")
        );
    }
}
