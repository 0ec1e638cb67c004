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
    /// Of the audio file's bytes (empty in reports of schema 1): `podcap
    /// check --from-json` refuses a report of other audio.
    #[serde(default)]
    pub sha256: String,
    #[serde(flatten)]
    pub audio: AudioInfo,
}

/// The model and the decoding settings that shape the result. How the work
/// was spread (jobs, threads) is left out: it does not change the output.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ModelReport {
    pub name: String,
    pub path: String,
    /// Of the ggml model file.
    #[serde(default)]
    pub sha256: String,
    /// Without a transcript (or where the transcript-guided loop fell back).
    pub beam_size: usize,
    pub language: String,
    /// Decoded with the transcript as the draft, accepting its tokens
    /// within this margin ([`transcribe::decode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_tolerance_nats: Option<f32>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TranscriptReport {
    pub path: String,
    /// Of the transcript file's bytes.
    pub sha256: String,
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
    /// Asking the model about the disagreements ([`verify`]).
    pub verify_ms: u64,
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
    /// The stretches of audio loud enough to be speech ([`audio::speech`]):
    /// they place the transcript words the recognizer left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sounding_ms: Vec<[u64; 2]>,
    pub stats: Stats,
    #[serde(skip)]
    pub timings: Timings,
}

impl Report {
    /// What the model's verdicts on the words ([`align::AlignedWord::margin`]) say
    /// of the disagreements: the substitutions, and the unscripted regions
    /// that are not transcript words it confirmed there.
    pub fn take_verdicts(&mut self) {
        self.substitutions = align::substitutions(&self.words);
        align::drop_confirmed_unscripted(&mut self.unscripted, &self.words);
    }
}

/// A place where transcript and audio disagree, as a producer is shown it.
#[derive(Debug, Clone, PartialEq)]
pub enum Disagreement {
    /// Transcript text the audio does not have.
    NotInAudio { at_ms: u64, transcript: String },
    /// Speech the transcript does not have (4 words or more: fewer are most
    /// often the recognizer's, from a stretch it misheard).
    NotInTranscript { at_ms: u64, audio: String },
    /// Transcript words said otherwise, that the model refused when asked
    /// (`audio` is empty where it recognized other words than these).
    Changed {
        at_ms: u64,
        transcript: String,
        audio: String,
    },
    /// The transcript's written times stop matching the audio here
    /// ([`align::written_time_shifts`]).
    TimesShift {
        at_ms: u64,
        written_ms: u64,
        offset_ms: i64,
    },
}

impl Disagreement {
    pub fn at_ms(&self) -> u64 {
        match self {
            Self::NotInAudio { at_ms, .. }
            | Self::NotInTranscript { at_ms, .. }
            | Self::Changed { at_ms, .. }
            | Self::TimesShift { at_ms, .. } => *at_ms,
        }
    }
}

impl Report {
    /// Where transcript and audio disagree, in time order: what `podcap
    /// caption` lists. Not listed: page text around the episode (expected
    /// not to be heard), short unscripted stretches, and substitutions the
    /// model confirms ([`Report::recognizer_slips`]). Empty without a transcript.
    pub fn disagreements(&self) -> Vec<Disagreement> {
        if self.transcript.is_none() {
            return Vec::new();
        }
        let mut list: Vec<Disagreement> = self
            .unspoken
            .iter()
            .filter(|u| u.reason == align::UnspokenReason::NotHeard)
            .map(|u| Disagreement::NotInAudio {
                at_ms: u.near_ms,
                transcript: u.text.clone(),
            })
            .chain(self.unscripted.iter().filter(|u| !u.is_short()).map(|u| {
                Disagreement::NotInTranscript {
                    at_ms: u.start_ms,
                    audio: u.text.clone(),
                }
            }))
            .chain(
                self.substitutions
                    .iter()
                    .filter(|s| s.transcript_verified != Some(true))
                    .map(|s| Disagreement::Changed {
                        at_ms: s.start_ms,
                        transcript: s.transcript.clone(),
                        audio: s.audio.clone(),
                    }),
            )
            .chain(
                align::written_time_shifts(&self.words)
                    .into_iter()
                    .map(|s| Disagreement::TimesShift {
                        at_ms: s.heard_ms,
                        written_ms: s.written_ms,
                        offset_ms: s.offset_ms,
                    }),
            )
            .collect();
        list.sort_by_key(Disagreement::at_ms);
        list
    }

    /// Substitutions whose transcript text the model confirms when asked:
    /// the recognizer heard otherwise, the transcript stands.
    pub fn recognizer_slips(&self) -> usize {
        self.substitutions
            .iter()
            .filter(|s| s.transcript_verified == Some(true))
            .count()
    }
}

/// 2: the SHA-256 of the audio, model and transcript.
pub const SCHEMA_VERSION: u32 = 2;

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
    // A probe file, dropped unwritten; what a killed run left of one goes.
    let probe = dir.join(".podcap-check");
    crate::fsutil::remove_stale_temps(&probe).map_err(fail)?;
    crate::fsutil::AtomicFile::create(&probe).map_err(fail)?;
    Ok(())
}

fn output_stem(episode: &Path) -> String {
    episode
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "episode".into())
}

/// A loaded model and what identifies it in reports.
pub struct Engine {
    pub whisper: whisper::WhisperEngine,
    /// Of the model file.
    pub model_sha256: String,
}

/// Loads the model of `options` (after checking it), for [`analyze_with`].
pub fn load_engine(options: &CaptionOptions) -> Result<Engine, Error> {
    crate::model::inspect(&options.model_path)?;
    let model_sha256 =
        crate::fsutil::sha256_file(&options.model_path).map_err(crate::model::ModelError::from)?;
    Ok(Engine {
        whisper: whisper::WhisperEngine::load(&options.model_path, options.engine.clone())?,
        model_sha256,
    })
}

/// Recognizes, aligns and builds cues; no files are written.
pub fn analyze(options: &CaptionOptions, progress: &dyn Progress) -> Result<Report, Error> {
    // Cheap checks first, so a bad input fails before the slow part.
    let inputs = read_inputs(options)?;
    progress.stage("loading model");
    let engine = load_engine(options)?;
    analyze_with(&engine, options, &inputs, progress)
}

/// What fails in a moment, read before the slow part: the transcript, and
/// the audio's announced length.
pub struct Inputs {
    pub transcript: Option<transcript::Transcript>,
    announced_s: Option<f64>,
}

/// Reads the transcript and probes the audio of `options`.
pub fn read_inputs(options: &CaptionOptions) -> Result<Inputs, Error> {
    let transcript = options
        .transcript
        .as_deref()
        .map(transcript::read)
        .transpose()?;
    let announced_s = audio::probe(&options.episode)?;
    Ok(Inputs {
        transcript,
        announced_s,
    })
}

/// [`analyze`] with a loaded model (one load for many episodes) and the
/// [`read_inputs`] of `options`; the model must be the one `options` names,
/// which the report records.
pub fn analyze_with(
    engine: &Engine,
    options: &CaptionOptions,
    inputs: &Inputs,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    analyze_on(
        &engine.whisper,
        &engine.model_sha256,
        options,
        inputs,
        progress,
    )
}

/// [`analyze_with`] on any recognizer (a loaded model shared by several
/// episodes at once, see [`crate::batch`]), whose model file has the SHA-256
/// `model_sha256`.
pub fn analyze_on(
    recognizer: &dyn transcribe::Transcriber,
    model_sha256: &str,
    options: &CaptionOptions,
    inputs: &Inputs,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    let audio_sha256 =
        crate::fsutil::sha256_file(&options.episode).map_err(|e| audio::AudioError::Open {
            path: options.episode.clone(),
            detail: e.to_string(),
        })?;
    // Decoding feeds transcription as it goes: the episode is never held whole.
    progress.stage("transcribing");
    progress.start_audio(inputs.announced_s.unwrap_or(0.0));
    let t = Instant::now();
    let episode = options.episode.clone();
    let draft = inputs.transcript.as_ref().and_then(|t| {
        recognizer.draft(
            &mut t
                .words
                .iter()
                .enumerate()
                .filter(|(_, w)| {
                    matches!(w.hint, transcript::Hint::Text | transcript::Hint::TitleLine)
                })
                .map(|(i, w)| (i, w.text.as_str())),
        )
    });
    let (recognition, decoded) = transcribe::transcribe_stream(
        recognizer,
        draft.as_ref(),
        options.run,
        move |push| {
            let mut samples = 0usize;
            let mut meter = audio::speech::LevelMeter::default();
            let info = audio::stream_16k_mono(&episode, &mut |block| {
                samples += block.len();
                meter.push(block);
                push(block)
            });
            info.map(|i| (i, samples, meter.sounding_ms()))
        },
        &|s| progress.audio_done(s),
    )?;
    let (audio_info, samples, sounding_ms) = decoded?;
    let transcribe_ms = t.elapsed().as_millis() as u64;
    let duration_s = samples as f64 / audio::SAMPLE_RATE_HZ as f64;
    progress.stage("aligning");
    let mut report = build_report(
        EpisodeInfo {
            path: options.episode.display().to_string(),
            sha256: audio_sha256,
            audio: audio_info,
        },
        ModelReport {
            name: options.model_name.clone(),
            path: options.model_path.display().to_string(),
            sha256: model_sha256.to_string(),
            beam_size: options.engine.beam_size,
            language: options.engine.language.clone(),
            draft_tolerance_nats: draft.as_ref().map(|_| options.engine.draft_tolerance_nats),
        },
        inputs.transcript.as_ref(),
        recognition.words,
        sounding_ms,
        (duration_s * 1000.0) as u64,
        &options.cues,
    );
    if report.transcript.is_some() {
        let refused = align::verify::take_forced_verdicts(&mut report.words, &recognition.verdicts);
        progress.stage("verifying");
        let t = Instant::now();
        verify(
            recognizer,
            &options.episode,
            options.run.jobs,
            &mut report.words,
        )?;
        align::verify::settle(&mut report.words, &refused);
        report.take_verdicts();
        report.timings.verify_ms = t.elapsed().as_millis() as u64;
    }
    report.timings.transcribe_ms = transcribe_ms;
    report.timings.realtime_factor = transcribe_ms as f64 / 1000.0 / duration_s.max(1e-9);
    Ok(report)
}

/// Asks the model about the transcript where the recognized words disagree
/// with it ([`align::verify`]): the audio is decoded again, and `jobs`
/// workers force each window's transcript text through the decoder,
/// holding at most about `2 * jobs` windows of audio at once. The margins
/// do not depend on `jobs`: each window is decoded on its own.
pub fn verify(
    engine: &dyn transcribe::Transcriber,
    episode: &Path,
    jobs: usize,
    words: &mut [align::AlignedWord],
) -> Result<(), Error> {
    use std::sync::{mpsc, Mutex};
    type Margins = Result<Option<Vec<Option<transcribe::WordScore>>>, transcribe::TranscribeError>;
    let windows = align::verify::plan(words);
    if windows.is_empty() {
        return Ok(());
    }
    let texts: Vec<Vec<&str>> = windows
        .iter()
        .map(|w| w.words.iter().map(|&i| words[i].text.as_str()).collect())
        .collect();
    let asks: Vec<Vec<bool>> = windows
        .iter()
        .map(|w| w.words.iter().map(|i| w.asked.contains(i)).collect())
        .collect();
    let sample_at = |ms: u64| (ms * audio::SAMPLE_RATE_HZ as u64 / 1000) as usize;
    let results: Mutex<Vec<Option<Margins>>> =
        Mutex::new((0..windows.len()).map(|_| None).collect());
    let jobs = jobs.max(1);
    let (tx, rx) = mpsc::sync_channel::<(usize, Vec<f32>)>(jobs);
    let rx = Mutex::new(rx);
    let decoded = std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((k, samples)) = next else { break };
                // Audio that ended before the window began: nothing to ask about.
                if samples.len() < audio::SAMPLE_RATE_HZ as usize / 10 {
                    continue;
                }
                let refused_below = align::verify::MAX_REFUSED_MARGIN;
                let margins = engine.score_words(&samples, &texts[k], &asks[k], refused_below);
                results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(margins);
            });
        }
        let mut next = 0;
        let mut open: Vec<(usize, Vec<f32>)> = Vec::new();
        let mut seen = 0usize;
        let decoded = audio::stream_16k_mono(episode, &mut |block| {
            let block_start = seen;
            seen += block.len();
            while next < windows.len() && sample_at(windows[next].start_ms) < seen {
                open.push((next, Vec::new()));
                next += 1;
            }
            for (k, buf) in open.iter_mut() {
                let lo = sample_at(windows[*k].start_ms).max(block_start);
                let hi = sample_at(windows[*k].end_ms).min(seen);
                if lo < hi {
                    buf.extend_from_slice(&block[lo - block_start..hi - block_start]);
                }
            }
            open.retain_mut(|(k, buf)| {
                if sample_at(windows[*k].end_ms) > seen {
                    return true;
                }
                // A worker that failed still drains the queue; sending only fails
                // if every worker is gone, and then nothing is waiting for it.
                let _ = tx.send((*k, std::mem::take(buf)));
                false
            });
        });
        // Audio that ends before a window does: what there is of it.
        for (k, buf) in open.drain(..) {
            let _ = tx.send((k, buf));
        }
        drop(tx);
        decoded
    });
    decoded?;
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    for (window, margins) in windows.iter().zip(results) {
        match margins {
            Some(Ok(Some(m))) => align::verify::apply(words, window, &m),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(None)) | None => {}
        }
    }
    Ok(())
}

/// Aligns recognized words to the transcript (if any) and builds the cues.
pub(crate) fn build_report(
    episode: EpisodeInfo,
    model: ModelReport,
    transcript: Option<&transcript::Transcript>,
    recognized: Vec<RecognizedWord>,
    sounding_ms: Vec<[u64; 2]>,
    duration_ms: u64,
    cue_options: &CueOptions,
) -> Report {
    let t = Instant::now();
    let alignment: Alignment = match transcript {
        Some(tr) => align::align(&tr.words, &recognized, duration_ms, &sounding_ms),
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
            sha256: t.sha256.clone(),
        }),
        words: alignment.words,
        cues,
        unscripted: alignment.unscripted,
        unspoken: alignment.unspoken,
        substitutions: alignment.substitutions,
        recognized,
        sounding_ms,
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
    #[serde(default)]
    sounding_ms: Vec<[u64; 2]>,
    stats: SavedStats,
    /// The saved alignment: its verification margins are reused.
    #[serde(default)]
    words: Vec<SavedWord>,
}

#[derive(serde::Deserialize)]
struct SavedWord {
    text: String,
    start_ms: Option<u64>,
    margin: Option<f32>,
    margin_without_audio: Option<f32>,
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
    let transcript = transcript::read(transcript_path)?;
    check_output_dir(out_dir)?;
    let report = realign_report(report_json, &transcript, cue_options)?;
    let stem = output_stem(Path::new(&report.episode.path));
    let written = write_outputs(&report, out_dir, &stem, &formats)?;
    Ok(CaptionOutcome { report, written })
}

/// The report of [`realign`], in memory: the saved recognition of
/// `report_json` aligned to `transcript`. The episode and model it records
/// are the saved run's.
pub fn realign_report(
    report_json: &Path,
    transcript: &transcript::Transcript,
    cue_options: &CueOptions,
) -> Result<Report, Error> {
    let bad = |detail: String| {
        Error::Usage(format!(
            "'{}' is not a podcap JSON report: {detail}; run podcap caption first",
            report_json.display()
        ))
    };
    let bytes = std::fs::read(report_json).map_err(|e| bad(e.to_string()))?;
    let saved: SavedRecognition = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut report = build_report(
        saved.episode,
        saved.model,
        Some(transcript),
        saved.recognized,
        saved.sounding_ms,
        saved.stats.audio_duration_ms,
        cue_options,
    );
    // The model's verdicts stand where the same words are aligned to the same
    // time again; words the transcript changed since are left unverified.
    let verdicts: std::collections::HashMap<(&str, u64), &SavedWord> = saved
        .words
        .iter()
        .filter_map(|w| Some(((w.text.as_str(), w.start_ms?), w)))
        .collect();
    for w in &mut report.words {
        let saved = w.start_ms.and_then(|t| verdicts.get(&(w.text.as_str(), t)));
        w.margin = saved.and_then(|s| s.margin);
        w.margin_without_audio = saved.and_then(|s| s.margin_without_audio);
    }
    report.take_verdicts();
    Ok(report)
}

pub(crate) fn parse_formats(names: &[String]) -> Result<Vec<Box<dyn captions::Format>>, Error> {
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
pub(crate) fn write_outputs(
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
