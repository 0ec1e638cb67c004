//! The main job, end to end: episode (+ published transcript) -> report and
//! caption files. Inputs and the output folder are checked before the slow
//! part starts; every output is rendered in memory first and then written
//! atomically, so a failure leaves nothing half-written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::align::{self, Alignment, WordStatus};
use crate::audio::{self, AudioInfo};
use crate::captions::{self, CaptionDoc, Cue, CueOptions};
use crate::progress::Progress;
use crate::transcribe::{self, whisper, RecognizedWord, RunOptions};
use crate::transcript;
use crate::Error;

/// What `podcap caption` does, as plain options.
#[derive(Debug, Clone)]
pub struct CaptionOptions {
    pub episode: PathBuf,
    pub transcript: Option<PathBuf>,
    /// A ggml model file (see [`crate::model::resolve`]).
    pub model_path: PathBuf,
    /// The name reported in outputs.
    pub model_name: String,
    pub out_dir: PathBuf,
    /// Output formats by extension: "vtt", "srt", "json".
    pub formats: Vec<String>,
    pub run: RunOptions,
    pub engine: whisper::EngineOptions,
    pub cues: CueOptions,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpisodeInfo {
    pub path: String,
    #[serde(flatten)]
    pub audio: AudioInfo,
}

/// The model and the decoding settings that shape the result. How the work
/// was spread (jobs, threads) is left out: it does not change the output.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ModelReport {
    pub name: String,
    pub path: String,
    pub beam_size: usize,
    pub language: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TranscriptReport {
    pub path: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub transcript_words: usize,
    pub matched: usize,
    pub substituted: usize,
    pub interpolated: usize,
    pub unspoken: usize,
    pub recognized_words: usize,
    pub cues: usize,
    pub audio_duration_ms: u64,
}

/// How long the stages took; printed, not in the JSON, so the same input
/// always gives the same bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Decoding and transcription (they overlap).
    pub transcribe_ms: u64,
    pub align_ms: u64,
    /// `transcribe_ms` / audio duration.
    pub realtime_factor: f64,
}

/// Everything podcap learned about an episode; the JSON output is this, serialized.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub podcap_version: String,
    pub episode: EpisodeInfo,
    pub model: ModelReport,
    pub transcript: Option<TranscriptReport>,
    pub words: Vec<align::AlignedWord>,
    pub cues: Vec<Cue>,
    pub unscripted: Vec<align::UnscriptedRegion>,
    pub unspoken: Vec<align::UnspokenSpan>,
    pub substitutions: Vec<align::Substitution>,
    pub recognized: Vec<RecognizedWord>,
    pub stats: Stats,
    #[serde(skip)]
    pub timings: Timings,
}

pub const SCHEMA_VERSION: u32 = 1;

/// What was written.
#[derive(Debug, Clone)]
pub struct CaptionOutcome {
    pub report: Report,
    pub written: Vec<PathBuf>,
}

/// Fails early, with the fix, when the output folder cannot take files.
pub fn check_output_dir(dir: &Path) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::Output {
        path: dir.to_path_buf(),
        detail: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    tempfile::Builder::new()
        .prefix(".podcap-check-")
        .tempfile_in(dir)
        .map_err(fail)?;
    Ok(())
}

fn output_stem(episode: &Path) -> String {
    episode
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "episode".into())
}

/// Recognizes, aligns and builds cues; no files are written.
pub fn analyze(options: &CaptionOptions, progress: &dyn Progress) -> Result<Report, Error> {
    // Cheap checks first, so a bad input fails before the slow part.
    let transcript = options
        .transcript
        .as_deref()
        .map(transcript::read)
        .transpose()?;
    crate::model::inspect(&options.model_path)?;
    let announced_s = audio::probe(&options.episode)?;

    progress.stage("loading model");
    let engine = whisper::WhisperEngine::load(&options.model_path, options.engine.clone())?;

    // Decoding feeds transcription as it goes: the episode is never held whole.
    progress.stage("transcribing");
    progress.start_audio(announced_s.unwrap_or(0.0));
    let t = Instant::now();
    let episode = options.episode.clone();
    let (recognized, decoded) = transcribe::transcribe_stream(
        &engine,
        options.run,
        move |push| {
            let mut samples = 0usize;
            let info = audio::stream_16k_mono(&episode, &mut |block| {
                samples += block.len();
                push(block)
            });
            info.map(|i| (i, samples))
        },
        &|s| progress.audio_done(s),
    )?;
    let (audio_info, samples) = decoded?;
    let transcribe_ms = t.elapsed().as_millis() as u64;
    let duration_s = samples as f64 / audio::SAMPLE_RATE_HZ as f64;
    progress.stage("aligning");
    let mut report = build_report(
        EpisodeInfo {
            path: options.episode.display().to_string(),
            audio: audio_info,
        },
        ModelReport {
            name: options.model_name.clone(),
            path: options.model_path.display().to_string(),
            beam_size: options.engine.beam_size,
            language: options.engine.language.clone(),
        },
        transcript.as_ref(),
        recognized,
        (duration_s * 1000.0) as u64,
        &options.cues,
    );
    report.timings.transcribe_ms = transcribe_ms;
    report.timings.realtime_factor = transcribe_ms as f64 / 1000.0 / duration_s.max(1e-9);
    Ok(report)
}

/// Aligns recognized words to the transcript (if any) and builds the cues.
fn build_report(
    episode: EpisodeInfo,
    model: ModelReport,
    transcript: Option<&transcript::Transcript>,
    recognized: Vec<RecognizedWord>,
    duration_ms: u64,
    cue_options: &CueOptions,
) -> Report {
    let t = Instant::now();
    let alignment: Alignment = match transcript {
        Some(tr) => align::align(&tr.words, &recognized, duration_ms),
        None => align::from_recognized(&recognized),
    };
    let align_ms = t.elapsed().as_millis() as u64;
    let cues = captions::build_cues(&alignment.words, cue_options);
    let counts = align::status_counts(&alignment.words);
    let count = |s| counts.get(&s).copied().unwrap_or(0);
    let stats = Stats {
        transcript_words: if transcript.is_some() {
            alignment.words.len()
        } else {
            0
        },
        matched: count(WordStatus::Matched),
        substituted: count(WordStatus::Substituted),
        interpolated: count(WordStatus::Interpolated),
        unspoken: count(WordStatus::Unspoken),
        recognized_words: recognized.len(),
        cues: cues.len(),
        audio_duration_ms: duration_ms,
    };
    Report {
        schema_version: SCHEMA_VERSION,
        podcap_version: env!("CARGO_PKG_VERSION").to_string(),
        episode,
        model,
        transcript: transcript.map(|t| TranscriptReport {
            path: t.path.display().to_string(),
        }),
        words: alignment.words,
        cues,
        unscripted: alignment.unscripted,
        unspoken: alignment.unspoken,
        substitutions: alignment.substitutions,
        recognized,
        stats,
        timings: Timings {
            align_ms,
            ..Default::default()
        },
    }
}

/// What `podcap align` reads back from an earlier JSON report.
#[derive(serde::Deserialize)]
struct SavedRecognition {
    episode: EpisodeInfo,
    model: ModelReport,
    recognized: Vec<RecognizedWord>,
    stats: SavedStats,
}

#[derive(serde::Deserialize)]
struct SavedStats {
    audio_duration_ms: u64,
}

/// Aligns again from the recognized words an earlier run saved in its JSON,
/// against a (new or edited) transcript, without running the model; writes
/// the outputs like [`caption`].
pub fn realign(
    report_json: &Path,
    transcript_path: &Path,
    out_dir: &Path,
    formats: &[String],
    cue_options: &CueOptions,
) -> Result<CaptionOutcome, Error> {
    let formats = parse_formats(formats)?;
    let bad = |detail: String| {
        Error::Usage(format!(
            "'{}' is not a podcap JSON report: {detail}; run podcap caption first",
            report_json.display()
        ))
    };
    let bytes = std::fs::read(report_json).map_err(|e| bad(e.to_string()))?;
    let saved: SavedRecognition = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    let transcript = transcript::read(transcript_path)?;
    check_output_dir(out_dir)?;
    let report = build_report(
        saved.episode,
        saved.model,
        Some(&transcript),
        saved.recognized,
        saved.stats.audio_duration_ms,
        cue_options,
    );
    let stem = output_stem(Path::new(&report.episode.path));
    let written = write_outputs(&report, out_dir, &stem, &formats)?;
    Ok(CaptionOutcome { report, written })
}

fn parse_formats(names: &[String]) -> Result<Vec<Box<dyn captions::Format>>, Error> {
    names
        .iter()
        .map(|f| {
            captions::format_by_name(f).ok_or_else(|| {
                Error::Usage(format!(
                    "unknown output format '{f}'; use vtt, srt, json or review"
                ))
            })
        })
        .collect()
}

/// Renders every format first, then writes each atomically.
fn write_outputs(
    report: &Report,
    out_dir: &Path,
    stem: &str,
    formats: &[Box<dyn captions::Format>],
) -> Result<Vec<PathBuf>, Error> {
    let doc = CaptionDoc { report, out_dir };
    let rendered: Vec<(PathBuf, Vec<u8>)> = formats
        .iter()
        .map(|f| {
            (
                out_dir.join(format!("{stem}.{}", f.extension())),
                f.render(&doc),
            )
        })
        .collect();
    let mut written = Vec::new();
    for (path, bytes) in rendered {
        crate::fsutil::write_atomically(&path, |w| w.write_all(&bytes)).map_err(|e| {
            Error::Output {
                path: path.clone(),
                detail: e.to_string(),
            }
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The main job: analyze, then write every requested format into `out_dir`.
pub fn caption(options: &CaptionOptions, progress: &dyn Progress) -> Result<CaptionOutcome, Error> {
    let formats = parse_formats(&options.formats)?;
    check_output_dir(&options.out_dir)?;
    let report = analyze(options, progress)?;
    let written = write_outputs(
        &report,
        &options.out_dir,
        &output_stem(&options.episode),
        &formats,
    )?;
    progress.finish();
    Ok(CaptionOutcome { report, written })
}
