//! Speech recognition: 16 kHz mono samples -> recognized words with times.
//!
//! [`chunk::Chunker`] cuts the episode at quiet points into chunks that depend
//! on the audio only, as it is decoded; [`transcribe_stream`] runs them on
//! parallel workers sharing one model, and [`chunk::stitch`] joins the words
//! back on the episode's timeline. The engine sits behind [`Transcriber`], so alignment and
//! caption logic can be tested with scripted words; podcap ships
//! [`whisper::WhisperEngine`].

pub mod chunk;
pub mod decode;
pub mod onset;
pub mod whisper;

/// One recognized word on the episode timeline.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecognizedWord {
    /// As the recognizer wrote it, with its punctuation, without surrounding spaces.
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Mean token probability, 0..1.
    pub probability: f32,
    /// Decoded with the transcript as the draft: the transcript word
    /// (index into its words) this word was accepted as, every token of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_draft: Option<usize>,
    /// The transcript word the model was asked about at this word's first
    /// token (with the transcript's text before it), and the margin of that
    /// word's first token (its log-probability less the best's, nats): 0
    /// down to minus the draft tolerance where the model took it, lower
    /// where it refused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<(usize, f32)>,
}

/// What a recognizer heard: the words, and (decoding with the transcript
/// as the draft) the model's verdicts on transcript words it did not take.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recognition {
    pub words: Vec<RecognizedWord>,
    pub verdicts: Vec<decode::Verdict>,
}

/// The model's verdict on a word said in some audio
/// ([`Transcriber::score_words`]), in nats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WordScore {
    /// The log-probability margin of the word's first alphanumeric token:
    /// its log-probability less that of the model's best token there, with
    /// the words before it as the text so far. 0: the model writes that word
    /// itself; far below 0: the audio says something else, or the model
    /// hardly knows the word.
    pub margin: f32,
    /// The same over silence, against text tokens only: what the text
    /// before the word makes of it without the audio. A word the model
    /// hardly knows is as unlikely here. Asked for refused words only.
    pub margin_without_audio: Option<f32>,
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
    /// The next chunk hears the audio from `shared_from_sample` on (`None`:
    /// this is the last chunk), so an engine whose words have reached well
    /// into that part need not decode the rest.
    fn transcribe(
        &self,
        samples_16k: &[f32],
        shared_from_sample: Option<usize>,
        draft: Option<&decode::Draft>,
    ) -> Result<Recognition, TranscribeError>;

    /// The transcript's words (index, text) as this engine's draft for
    /// [`Self::transcribe`]; `None`: this engine decodes without one.
    fn draft(&self, _words: &mut dyn Iterator<Item = (usize, &str)>) -> Option<decode::Draft> {
        None
    }

    /// The model's verdict on given text said in `samples_16k` (at most
    /// 30 s), per word with `ask` set, with the margin without the audio
    /// for words whose margin is below `refused_below` (see
    /// [`whisper::WhisperEngine::score_words`]). `Ok(None)`: this engine
    /// cannot say.
    fn score_words(
        &self,
        _samples_16k: &[f32],
        _words: &[&str],
        _ask: &[bool],
        _refused_below: f32,
    ) -> Result<Option<Vec<Option<WordScore>>>, TranscribeError> {
        Ok(None)
    }
}

/// How to run the recognizer over a whole episode.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Chunks processed at once. Default: one per core.
    pub jobs: usize,
    /// Target chunk length; cuts move to the quietest point within `cut_search_s` of it.
    pub chunk_target_s: f64,
    pub cut_search_s: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_target_s: chunk::DEFAULT_TARGET_S,
            cut_search_s: chunk::DEFAULT_SEARCH_S,
        }
    }
}

/// Transcribes an episode as it is decoded. `feed` pushes 16 kHz blocks
/// (it runs on its own thread); chunks are cut as the audio arrives and
/// transcribed by `jobs` workers, with at most `jobs` chunks waiting, so memory
/// does not grow with the episode's length. `on_chunk_done(seconds)` is called
/// as chunks finish. Returns the stitched words, every chunk's verdicts and
/// what `feed` returned.
pub fn transcribe_stream<T: Send>(
    engine: &dyn Transcriber,
    draft: Option<&decode::Draft>,
    options: RunOptions,
    feed: impl FnOnce(&mut dyn FnMut(&[f32])) -> T + Send,
    on_chunk_done: &(dyn Fn(f64) + Sync),
) -> Result<(Recognition, T), TranscribeError> {
    use std::sync::{mpsc, Mutex};
    let jobs = options.jobs.max(1);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<(usize, chunk::Chunk, Vec<f32>)>(jobs);
    let chunk_rx = Mutex::new(chunk_rx);
    let results: Mutex<Vec<(usize, chunk::Chunk, Recognition)>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<TranscribeError>> = Mutex::new(None);
    let fed = std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            let mut chunker = chunk::Chunker::new(options.chunk_target_s, options.cut_search_s);
            let mut index = 0usize;
            let mut emit = |c: chunk::Chunk, samples: Vec<f32>| {
                // A send fails only when every worker has stopped on an error.
                let _ = chunk_tx.send((index, c, samples));
                index += 1;
            };
            let fed = feed(&mut |block| chunker.push(block, &mut emit));
            chunker.finish(&mut emit);
            drop(chunk_tx);
            fed
        });
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .expect("a thread pool");
        pool.scope(|workers| {
            for _ in 0..jobs {
                workers.spawn(|_| loop {
                    let next = chunk_rx.lock().expect("chunk queue").recv();
                    let Ok((index, c, samples)) = next else { break };
                    if failure.lock().expect("failure slot").is_some() {
                        continue; // drain, so the producer is never blocked
                    }
                    match engine.transcribe(
                        &samples,
                        c.next_audio_start_sample.map(|n| n - c.audio_start_sample),
                        draft,
                    ) {
                        Ok(words) => {
                            drop(samples);
                            on_chunk_done((c.end_sample - c.start_sample) as f64 / 16_000.0);
                            results.lock().expect("results").push((index, c, words));
                        }
                        Err(e) => {
                            let e = match e {
                                TranscribeError::Engine { detail, .. } => TranscribeError::Engine {
                                    start_s: c.start_sample as f64 / 16_000.0,
                                    detail,
                                },
                                other => other,
                            };
                            failure.lock().expect("failure slot").get_or_insert(e);
                        }
                    }
                });
            }
        });
        producer.join().expect("the decoder thread does not panic")
    });
    if let Some(e) = failure.into_inner().expect("failure slot") {
        return Err(e);
    }
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|r| r.0);
    let mut verdicts = Vec::new();
    let (chunks, words): (Vec<chunk::Chunk>, Vec<Vec<RecognizedWord>>) = results
        .into_iter()
        .map(|(_, c, r)| {
            verdicts.extend(r.verdicts);
            (c, r.words)
        })
        .unzip();
    let words = chunk::stitch(&chunks, words);
    Ok((Recognition { words, verdicts }, fed))
}

/// [`transcribe_stream`] over audio already in memory (fed in blocks, as a decoder would).
pub fn transcribe_samples(
    engine: &dyn Transcriber,
    options: RunOptions,
    samples_16k: &[f32],
) -> Result<Vec<RecognizedWord>, TranscribeError> {
    let (recognition, ()) = transcribe_stream(
        engine,
        None,
        options,
        |push| {
            for block in samples_16k.chunks(4096) {
                push(block);
            }
        },
        &|_| {},
    )?;
    Ok(recognition.words)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted engine: a word wherever the audio turns loud, timed there.
    struct Onsets;

    impl Transcriber for Onsets {
        fn transcribe(
            &self,
            samples_16k: &[f32],
            _shared_from_sample: Option<usize>,
            _draft: Option<&decode::Draft>,
        ) -> Result<Recognition, TranscribeError> {
            let words = (0..samples_16k.len())
                .filter(|&i| samples_16k[i] > 0.5 && (i == 0 || samples_16k[i - 1] <= 0.5))
                .map(|i| RecognizedWord {
                    text: "word".into(),
                    start_ms: i as u64 * 1000 / 16_000,
                    end_ms: i as u64 * 1000 / 16_000 + 500,
                    probability: 1.0,
                    ..Default::default()
                })
                .collect();
            Ok(Recognition {
                words,
                verdicts: Vec::new(),
            })
        }
    }

    #[test]
    fn streamed_chunks_come_back_in_order_on_the_episode_timeline() {
        // 10 minutes: a loud second every 7 s, silence between.
        let samples: Vec<f32> = (0..16_000 * 600)
            .map(|i| if (i / 16_000) % 7 == 0 { 0.9 } else { 0.0 })
            .collect();
        for jobs in [1, 2, 4] {
            let options = RunOptions {
                jobs,
                chunk_target_s: 60.0,
                ..Default::default()
            };
            let words = transcribe_samples(&Onsets, options, &samples).unwrap();
            let starts: Vec<u64> = words.iter().map(|w| w.start_ms).collect();
            let want: Vec<u64> = (0..600).filter(|s| s % 7 == 0).map(|s| s * 1000).collect();
            assert_eq!(starts, want, "jobs {jobs}");
        }
    }
}
