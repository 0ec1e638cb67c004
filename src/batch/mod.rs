//! `podcap batch`: a whole catalog with one model load. Episodes run side by
//! side on one engine behind a [`Gate`] of `jobs` permits, so the chunks of
//! every episode in flight share the cores: while one episode aligns or
//! waits on its last chunk, the next one's chunks keep the other cores busy.
//! Each episode is captioned exactly as `podcap caption` would (its outputs
//! are byte-identical), then a [`record`] of what made them is written beside
//! them; a rerun skips what is up to date, aligns again where only the
//! transcript or the caption settings changed, and captions the rest. A
//! failing episode fails alone.

pub mod record;
pub mod shard;
pub mod summary;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Instant;

use crate::catalog::Entry;
use crate::pipeline::{self, CaptionOptions, Engine, Report};
use crate::progress::Progress;
use crate::transcribe::decode::Draft;
use crate::transcribe::{self, TranscribeError, Transcriber, WordScore};
use crate::Error;

use record::{Action, Figures, FileStamp, Output, Recognition, Record, Rendering};
pub use shard::Shard;
pub use summary::{EpisodeSummary, Status, Summary};

/// What `podcap batch` does, as plain options.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// The settings of every episode (model, engine, jobs, cues, formats)
    /// and the output folder of the run (outputs, unless the catalog gives
    /// an episode its own folder, and the summary); the episode and
    /// transcript are each episode's own.
    pub caption: CaptionOptions,
    /// Redo every episode, up to date or not.
    pub force: bool,
    /// Only this share of the catalog.
    pub shard: Option<Shard>,
    /// Names the catalog in the summary.
    pub catalog: String,
}

/// Progress of a batch, reported without printing. Several episodes are in
/// flight at once; each call names its episode.
pub trait BatchProgress: Sync {
    /// The run starts: this many episodes, with this much audio in all
    /// (as their headers announce it).
    fn start(&self, _episodes: usize, _audio_s: f64) {}
    /// An episode enters a stage ("transcribing", "aligning", ...).
    fn episode_stage(&self, _id: &str, _stage: &str) {}
    /// This many more seconds of an episode's audio are transcribed.
    fn episode_audio_done(&self, _id: &str, _seconds: f64) {}
    fn episode_finished(&self, _episode: &EpisodeSummary) {}
}

/// Captions the `entries` of a catalog. Fails only when the run cannot start
/// (an unknown format, an output folder that takes no files, a bad model);
/// an episode that fails is marked failed in the summary, which is also
/// written to the output folder.
pub fn run(
    entries: &[Entry],
    options: &BatchOptions,
    progress: &dyn BatchProgress,
) -> Result<Summary, Error> {
    let started = Instant::now();
    let formats = pipeline::parse_formats(&options.caption.formats)?;
    pipeline::check_output_dir(&options.caption.out_dir)?;
    crate::model::inspect(&options.caption.model_path)?;
    let model_sha256 = crate::fsutil::sha256_file(&options.caption.model_path)
        .map_err(crate::model::ModelError::from)?;
    let selected: Vec<(usize, &Entry)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| options.shard.is_none_or(|s| s.contains(&e.id)))
        .collect();
    let announced_s: Vec<f64> = selected
        .iter()
        .map(|(_, e)| match e.problem {
            Some(_) => 0.0,
            None => crate::audio::probe(&e.audio).ok().flatten().unwrap_or(0.0),
        })
        .collect();
    progress.start(selected.len(), announced_s.iter().sum());

    let jobs = options.caption.run.jobs.max(1);
    let run = Run {
        options,
        formats,
        model_sha256,
        engine: OnceLock::new(),
        gate: Gate::new(jobs),
        progress,
    };
    let results: Mutex<Vec<Option<EpisodeSummary>>> =
        Mutex::new(selected.iter().map(|_| None).collect());
    let next = AtomicUsize::new(0);
    // One episode more than there are cores: it fills the gaps (reading,
    // aligning, writing) in which the others hold no permit.
    std::thread::scope(|scope| {
        for _ in 0..(jobs + 1).min(selected.len()) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(position, entry)) = selected.get(k) else {
                    break;
                };
                let summary = run.episode(position, entry, announced_s[k]);
                progress.episode_finished(&summary);
                results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(summary);
            });
        }
    });
    let episodes = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|s| s.expect("every episode ran"))
        .collect();
    let summary = Summary::new(
        options.catalog.clone(),
        options.shard,
        episodes,
        started.elapsed().as_secs_f64(),
    );
    summary.write(&options.caption.out_dir)?;
    Ok(summary)
}

/// What every episode of a run shares.
struct Run<'a> {
    options: &'a BatchOptions,
    formats: Vec<Box<dyn crate::captions::Format>>,
    model_sha256: String,
    /// Loaded by the first episode that needs it: a rerun with nothing to
    /// recognize never loads the model.
    engine: OnceLock<Result<Engine, String>>,
    gate: Gate,
    progress: &'a dyn BatchProgress,
}

/// What an episode's work produced, for its summary.
struct Done {
    status: Status,
    figures: Figures,
    outputs: Vec<String>,
    note: Option<String>,
}

impl Run<'_> {
    fn episode(&self, position: usize, entry: &Entry, announced_s: f64) -> EpisodeSummary {
        let started = Instant::now();
        let outcome = match &entry.problem {
            Some(problem) => Err(problem.clone()),
            None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.caption_episode(position, entry)
            }))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!(
                    "internal error (please report it): {what}; the other episodes go on"
                ))
            }),
        };
        let seconds_taken = started.elapsed().as_secs_f64();
        let mut summary = EpisodeSummary {
            position,
            id: entry.id.clone(),
            audio: entry.audio.display().to_string(),
            transcript: entry.transcript.as_ref().map(|t| t.display().to_string()),
            status: Status::Failed,
            audio_s: announced_s,
            seconds_taken,
            realtime_factor: None,
            transcript_words: None,
            words_matched: None,
            disagreements: None,
            outputs: Vec::new(),
            note: None,
            error: None,
        };
        match outcome {
            Ok(done) => {
                summary.status = done.status;
                summary.audio_s = done.figures.audio_duration_ms as f64 / 1000.0;
                if done.status != Status::UpToDate && summary.audio_s > 0.0 {
                    summary.realtime_factor = Some(seconds_taken / summary.audio_s);
                }
                summary.transcript_words = done.figures.transcript_words;
                summary.words_matched = done.figures.words_matched;
                summary.disagreements = done.figures.disagreements;
                summary.outputs = done.outputs;
                summary.note = done.note;
            }
            Err(error) => summary.error = Some(error),
        }
        summary
    }

    /// One episode, as `podcap caption` does it; errors are its one-line message.
    fn caption_episode(&self, position: usize, entry: &Entry) -> Result<Done, String> {
        let options = self.options;
        let out_dir = entry
            .out
            .clone()
            .unwrap_or_else(|| options.caption.out_dir.clone());
        if entry.out.is_some() {
            pipeline::check_output_dir(&out_dir).map_err(|e| line(&e))?;
        }
        let record_path = record::path(&out_dir, &entry.id);
        let outputs: Vec<PathBuf> = self
            .formats
            .iter()
            .map(|f| out_dir.join(format!("{}.{}", entry.id, f.extension())))
            .collect();
        // What a killed run left half-written (hidden temporary files).
        for path in outputs.iter().chain([&record_path]) {
            crate::fsutil::remove_stale_temps(path).map_err(|e| {
                line(&Error::Output {
                    path: path.clone(),
                    detail: e.to_string(),
                })
            })?;
        }
        let previous = if options.force {
            None
        } else {
            record::read(&record_path)
        };
        let stamp = |path: &Path, known: Option<&FileStamp>| {
            FileStamp::of(path, known).map_err(|e| format!("cannot read '{}': {e}", path.display()))
        };
        let audio = stamp(&entry.audio, previous.as_ref().map(|p| &p.audio))?;
        let transcript = entry
            .transcript
            .as_deref()
            .map(|t| stamp(t, previous.as_ref().and_then(|p| p.transcript.as_ref())))
            .transpose()?;
        let recognition = Recognition {
            podcap_version: env!("CARGO_PKG_VERSION").to_string(),
            model_name: options.caption.model_name.clone(),
            model_sha256: self.model_sha256.clone(),
            beam_size: options.caption.engine.beam_size,
            draft_tolerance_nats: options.caption.engine.draft_tolerance_nats,
            language: options.caption.engine.language.clone(),
            threads_per_job: options.caption.engine.threads_per_job,
        };
        let rendering = Rendering {
            formats: self
                .formats
                .iter()
                .map(|f| f.extension().to_string())
                .collect(),
            cues: serde_json::to_value(options.caption.cues).expect("cue options serialize"),
        };
        let action = record::decide(
            previous.as_ref(),
            &audio,
            transcript.as_ref(),
            &recognition,
            &rendering,
            &out_dir,
        );
        let note = entry
            .transcript
            .is_none()
            .then(|| "no transcript: captioned from the recognized text".to_string());
        if action == Action::Skip {
            let previous = previous.expect("a skip has a record");
            return Ok(Done {
                status: Status::UpToDate,
                figures: previous.figures,
                outputs: outputs.iter().map(|p| p.display().to_string()).collect(),
                note,
            });
        }
        let episode_options = CaptionOptions {
            episode: entry.audio.clone(),
            transcript: entry.transcript.clone(),
            out_dir: out_dir.clone(),
            ..options.caption.clone()
        };
        let progress = EpisodeProgress {
            id: &entry.id,
            batch: self.progress,
        };
        let report = match (action, &previous) {
            (Action::Realign, Some(previous)) => {
                let json = previous
                    .saved_json()
                    .expect("a realign has a saved JSON report");
                self.realign(
                    position,
                    &episode_options,
                    &out_dir.join(&json.file),
                    &progress,
                )
            }
            _ => self.recognize(position, &episode_options, &progress),
        }
        .map_err(|e| line(&e))?;
        progress.stage("writing");
        let written = pipeline::write_outputs(&report, &out_dir, &entry.id, &self.formats)
            .map_err(|e| line(&e))?;
        let figures = Figures {
            audio_duration_ms: report.stats.audio_duration_ms,
            transcript_words: report
                .transcript
                .is_some()
                .then_some(report.stats.transcript_words),
            words_matched: report.transcript.is_some().then_some(report.stats.matched),
            disagreements: report
                .transcript
                .is_some()
                .then(|| report.disagreements().len()),
        };
        let mut files = Vec::new();
        for path in &written {
            let sha256 = crate::fsutil::sha256_file(path)
                .map_err(|e| format!("cannot read back '{}': {e}", path.display()))?;
            let file = path
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            files.push(Output { file, sha256 });
        }
        // Last: a kill before this leaves the outputs unrecorded, and the
        // rerun makes them again.
        let record = Record {
            schema: record::SCHEMA.into(),
            version: record::VERSION,
            audio,
            transcript,
            recognition,
            rendering,
            outputs: files,
            figures: figures.clone(),
        };
        record::write(&record_path, &record).map_err(|e| {
            line(&Error::Output {
                path: record_path.clone(),
                detail: e.to_string(),
            })
        })?;
        Ok(Done {
            status: if action == Action::Realign {
                Status::Realigned
            } else {
                Status::Captioned
            },
            figures,
            outputs: written.iter().map(|p| p.display().to_string()).collect(),
            note,
        })
    }

    /// The loaded model, behind the gate, for the episode at `position`.
    fn engine(&self, position: usize) -> Result<(Gated<'_>, &str), Error> {
        let engine = self
            .engine
            .get_or_init(|| pipeline::load_engine(&self.options.caption).map_err(|e| line(&e)));
        match engine {
            Ok(engine) => Ok((
                Gated {
                    engine: &engine.whisper,
                    gate: &self.gate,
                    priority: position,
                },
                &engine.model_sha256,
            )),
            Err(e) => Err(Error::Usage(e.clone())),
        }
    }

    fn recognize(
        &self,
        position: usize,
        options: &CaptionOptions,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let inputs = pipeline::read_inputs(options)?;
        let (engine, model_sha256) = self.engine(position)?;
        pipeline::analyze_on(&engine, model_sha256, options, &inputs, progress)
    }

    /// Aligns the saved recognized words of `json` to the (changed)
    /// transcript, as `podcap align` does; only words the model has not
    /// judged before are put to it.
    fn realign(
        &self,
        position: usize,
        options: &CaptionOptions,
        json: &Path,
        progress: &dyn Progress,
    ) -> Result<Report, Error> {
        let path = options
            .transcript
            .as_deref()
            .expect("a realign has a transcript");
        let transcript = crate::transcript::read(path)?;
        progress.stage("aligning");
        let mut report = pipeline::realign_report(json, &transcript, &options.cues)?;
        if !crate::align::verify::plan(&report.words).is_empty() {
            progress.stage("verifying");
            let (engine, _) = self.engine(position)?;
            pipeline::verify(
                &engine,
                &options.episode,
                options.run.jobs,
                &mut report.words,
            )?;
            report.take_verdicts();
        }
        Ok(report)
    }
}

/// An error as its one line, with its causes (as the CLI prints it).
fn line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// An episode's [`Progress`], forwarded to the batch's with its id.
struct EpisodeProgress<'a> {
    id: &'a str,
    batch: &'a dyn BatchProgress,
}

impl Progress for EpisodeProgress<'_> {
    fn stage(&self, name: &str) {
        self.batch.episode_stage(self.id, name);
    }

    fn audio_done(&self, seconds: f64) {
        self.batch.episode_audio_done(self.id, seconds);
    }
}

/// At most `permits` recognitions at once, across every episode in flight;
/// a freed permit goes to the waiter of the earliest episode, so episodes
/// finish in catalog order and the ones behind only fill idle cores.
struct Gate {
    state: Mutex<GateState>,
    turn: Condvar,
}

struct GateState {
    free: usize,
    /// (priority, ticket) of each waiter.
    waiting: BTreeSet<(usize, u64)>,
    tickets: u64,
}

struct Permit<'a>(&'a Gate);

impl Gate {
    fn new(permits: usize) -> Self {
        Self {
            state: Mutex::new(GateState {
                free: permits.max(1),
                waiting: BTreeSet::new(),
                tickets: 0,
            }),
            turn: Condvar::new(),
        }
    }

    fn enter(&self, priority: usize) -> Permit<'_> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let me = (priority, state.tickets);
        state.tickets += 1;
        state.waiting.insert(me);
        while !(state.free > 0 && state.waiting.first() == Some(&me)) {
            state = self.turn.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.waiting.remove(&me);
        state.free -= 1;
        drop(state);
        // The next waiter may take another free permit.
        self.turn.notify_all();
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner()).free += 1;
        self.0.turn.notify_all();
    }
}

/// A recognizer whose every call holds a permit of the gate.
struct Gated<'a> {
    engine: &'a dyn Transcriber,
    gate: &'a Gate,
    priority: usize,
}

impl Transcriber for Gated<'_> {
    fn transcribe(
        &self,
        samples_16k: &[f32],
        shared_from_sample: Option<usize>,
        draft: Option<&Draft>,
    ) -> Result<transcribe::Recognition, TranscribeError> {
        let _permit = self.gate.enter(self.priority);
        self.engine
            .transcribe(samples_16k, shared_from_sample, draft)
    }

    fn draft(&self, words: &mut dyn Iterator<Item = (usize, &str)>) -> Option<Draft> {
        self.engine.draft(words)
    }

    fn score_words(
        &self,
        samples_16k: &[f32],
        words: &[&str],
        ask: &[bool],
        refused_below: f32,
    ) -> Result<Option<Vec<Option<WordScore>>>, TranscribeError> {
        let _permit = self.gate.enter(self.priority);
        self.engine
            .score_words(samples_16k, words, ask, refused_below)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Runs `priorities` as waiters on `gate` once all have queued behind
    /// `held`; returns the order they got in and the most inside at once.
    fn queue_behind(
        gate: &Gate,
        held: Vec<Permit<'_>>,
        priorities: &[usize],
    ) -> (Vec<usize>, usize) {
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for &priority in priorities {
                let (inside, most, order) = (&inside, &most, &order);
                s.spawn(move || {
                    let _p = gate.enter(priority);
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    order.lock().unwrap().push(priority);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
            while gate.state.lock().unwrap().waiting.len() < priorities.len() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            drop(held);
        });
        (order.into_inner().unwrap(), most.load(Ordering::SeqCst))
    }

    #[test]
    fn the_gate_serves_the_earliest_episode_first() {
        let gate = Gate::new(1);
        let held = vec![gate.enter(0)];
        let (order, most) = queue_behind(&gate, held, &[5, 3, 1, 4, 2]);
        assert_eq!(order, [1, 2, 3, 4, 5]);
        assert_eq!(most, 1);
    }

    #[test]
    fn the_gate_lets_in_as_many_as_it_has_permits() {
        let gate = Gate::new(2);
        let held = vec![gate.enter(0), gate.enter(0)];
        let (order, most) = queue_behind(&gate, held, &[1, 2, 3, 4, 5, 6]);
        assert!(most <= 2, "{most} inside at once");
        assert_eq!(order.len(), 6);
    }
}
