//! Speech recognition: 16 kHz mono samples -> recognized words with times.
//!
//! [`chunk::plan`] cuts the episode at quiet points into chunks that depend on
//! the audio only; [`transcribe_chunks`] runs them in parallel (rayon), one
//! engine state per worker, and [`chunk::stitch`] joins the words back on the
//! episode's timeline. The engine sits behind [`Transcriber`], so alignment and
//! caption logic can be tested with scripted words; podcap ships
//! [`whisper::WhisperEngine`].

pub mod chunk;
pub mod whisper;

use rayon::prelude::*;

/// One recognized word on the episode timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecognizedWord {
    /// As the recognizer wrote it, with its punctuation, without surrounding spaces.
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Mean token probability, 0..1.
    pub probability: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("the speech engine failed on the chunk at {start_s:.1} s: {detail}")]
    Engine { start_s: f64, detail: String },
    #[error("could not load the model '{path}': {detail}")]
    Load {
        path: std::path::PathBuf,
        detail: String,
    },
}

/// A speech recognizer for one chunk of 16 kHz mono audio. Times are relative to the chunk.
pub trait Transcriber: Sync {
    fn transcribe(&self, samples_16k: &[f32]) -> Result<Vec<RecognizedWord>, TranscribeError>;
}

/// How to run the recognizer over a whole episode.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Chunks processed at once. Default: one per core.
    pub jobs: usize,
    /// Target chunk length; cuts move to the quietest point within a few seconds.
    pub chunk_target_s: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_target_s: chunk::DEFAULT_TARGET_S,
        }
    }
}

/// Transcribes the whole episode: plan chunks, run them on `jobs` workers,
/// stitch. `on_chunk_done(seconds_of_audio_done)` is called as chunks finish.
pub fn transcribe_chunks(
    engine: &dyn Transcriber,
    samples_16k: &[f32],
    options: RunOptions,
    on_chunk_done: &(dyn Fn(f64) + Sync),
) -> Result<Vec<RecognizedWord>, TranscribeError> {
    let chunks = chunk::plan(samples_16k, options.chunk_target_s);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|e| TranscribeError::Engine {
            start_s: 0.0,
            detail: e.to_string(),
        })?;
    let per_chunk: Vec<Vec<RecognizedWord>> = pool.install(|| {
        chunks
            .par_iter()
            .map(|c| {
                let words = engine
                    .transcribe(&samples_16k[c.start_sample..c.end_sample])
                    .map_err(|e| match e {
                        TranscribeError::Engine { detail, .. } => TranscribeError::Engine {
                            start_s: c.start_sample as f64 / 16_000.0,
                            detail,
                        },
                        other => other,
                    })?;
                on_chunk_done((c.end_sample - c.start_sample) as f64 / 16_000.0);
                Ok(words)
            })
            .collect::<Result<_, TranscribeError>>()
    })?;
    Ok(chunk::stitch(&chunks, per_chunk))
}
