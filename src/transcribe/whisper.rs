//! The shipped engine: whisper.cpp through whisper-rs.
//!
//! The model is loaded once and shared; each chunk gets its own decoding
//! state. Words are built from tokens (a token starting with a space starts a
//! word), timed by whisper.cpp's DTW token timestamps where an alignment-head
//! preset exists for the model (10 ms units; measured against synthesized
//! ground truth they beat the plain token timestamps, which can put a word
//! seconds early after music), and scored by their mean token probability. The model file is checked by
//! [`crate::model::inspect`] first: whisper.cpp may abort the process on a bad file.

use std::path::Path;

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

use super::{RecognizedWord, TranscribeError, Transcriber};
use crate::model::{self, ModelInfo};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// whisper.cpp threads per chunk. whisper.cpp's workers spin while they
    /// wait, so jobs x threads should not exceed the free cores.
    pub threads_per_job: usize,
    /// Spoken language code ("en"), or "auto" to detect (multilingual models only).
    pub language: String,
    /// Beam search width; 1 is greedy decoding. On the sample with tiny.en,
    /// beam 5 cut WER from 15.8% to 11.3% for 1.3x the time; 2 and 3 gave 15.2%.
    pub beam_size: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            threads_per_job: 1,
            language: "en".into(),
            beam_size: 5,
        }
    }
}

/// Longest a word's first token is taken to last before its DTW time (10 ms units).
const MAX_FIRST_TOKEN_CS: i64 = 45;

pub struct WhisperEngine {
    ctx: WhisperContext,
    /// DTW token timestamps are on (a preset exists for this model's shape).
    dtw: bool,
    info: ModelInfo,
    options: EngineOptions,
}

impl WhisperEngine {
    /// Checks and loads a ggml model file.
    pub fn load(path: &Path, options: EngineOptions) -> Result<Self, crate::Error> {
        let info = model::inspect(path)?;
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        let preset = dtw_preset(&info);
        let dtw = preset.is_some();
        if let Some(preset) = preset {
            params.dtw_parameters(whisper_rs::DtwParameters {
                mode: whisper_rs::DtwMode::ModelPreset {
                    model_preset: preset,
                },
                ..Default::default()
            });
        }
        let path_str = path.to_str().ok_or_else(|| TranscribeError::Load {
            path: path.to_path_buf(),
            detail: "path is not UTF-8".into(),
        })?;
        let ctx = WhisperContext::new_with_params(path_str, params).map_err(|e| {
            TranscribeError::Load {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }
        })?;
        Ok(Self {
            ctx,
            dtw,
            info,
            options,
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }
}

/// whisper.cpp's alignment-head presets, by model shape.
fn dtw_preset(info: &ModelInfo) -> Option<whisper_rs::DtwModelPreset> {
    use whisper_rs::DtwModelPreset as P;
    let h = &info.hparams;
    let en = !info.is_multilingual();
    Some(match (h.n_text_layer, h.n_text_state, en) {
        (4, 384, true) => P::TinyEn,
        (4, 384, false) => P::Tiny,
        (6, 512, true) => P::BaseEn,
        (6, 512, false) => P::Base,
        (12, 768, true) => P::SmallEn,
        (12, 768, false) => P::Small,
        (24, 1024, true) => P::MediumEn,
        (24, 1024, false) => P::Medium,
        _ => return None,
    })
}

/// Faster than anyone speaks: a segment whose words the aligner squeezed into
/// a fraction of the time they need was made up by the decoder (typically over
/// music, where Whisper invents a sentence and DTW finds no audio for it).
const MAX_SEGMENT_CHARS_PER_S: f64 = 40.0;

fn is_hallucination(words: &[RecognizedWord]) -> bool {
    let (Some(first), Some(last)) = (words.first(), words.last()) else {
        return false;
    };
    let chars: usize = words.iter().map(|w| w.text.chars().count() + 1).sum();
    let span_s = (last.end_ms.saturating_sub(first.start_ms)).max(1) as f64 / 1000.0;
    words.len() >= 3 && chars as f64 / span_s > MAX_SEGMENT_CHARS_PER_S
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize, start_ms: u64, step_ms: u64) -> Vec<RecognizedWord> {
        (0..n as u64)
            .map(|i| RecognizedWord {
                text: "word".into(),
                start_ms: start_ms + i * step_ms,
                end_ms: start_ms + (i + 1) * step_ms,
                probability: 0.9,
            })
            .collect()
    }

    fn said(text: &str) -> Vec<RecognizedWord> {
        text.split(' ')
            .enumerate()
            .map(|(i, t)| RecognizedWord {
                text: t.into(),
                start_ms: i as u64 * 300,
                end_ms: i as u64 * 300 + 250,
                probability: 0.9,
            })
            .collect()
    }

    #[test]
    fn loops_are_found_and_collapsed() {
        let looping = said("and so we went home. Thank you. Thank you. Thank you. Thank you. Thank you. Thank you. Thank you.");
        let (range, n) = repetition_loop(&looping).expect("a loop");
        assert_eq!((range, n), (5..19, 2));
        let kept: Vec<String> = collapse_loops(looping)
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(kept.join(" "), "and so we went home. Thank you.");
        // People repeat themselves, but not twelve words' worth of one phrase.
        assert!(repetition_loop(&said("no no no, I said no, we are not going")).is_none());
        assert!(
            repetition_loop(&said("the cat sat on the mat and the cat sat on the mat")).is_none()
        );
        // A sentence-long loop, as tiny.en produced it on the sample.
        let sentence = "The Soviet Union has been the most important part of the world.";
        let looping = said(&format!(
            "Uzbekistan, Soviet Union have been {}",
            [sentence; 7].join(" ")
        ));
        let kept: Vec<String> = collapse_loops(looping)
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(
            kept.join(" "),
            format!("Uzbekistan, Soviet Union have been {sentence}")
        );
    }

    #[test]
    fn squeezed_segments_are_hallucinations() {
        // 9 words in 450 ms (what Whisper invents over music) against ordinary speech.
        assert!(is_hallucination(&words(9, 19_510, 50)));
        assert!(!is_hallucination(&words(9, 1000, 300)));
        assert!(
            !is_hallucination(&words(2, 0, 10)),
            "too few words to judge"
        );
    }
}

struct WordBuilder {
    bytes: Vec<u8>,
    start_cs: i64,
    end_cs: i64,
    prob_sum: f32,
    tokens: u32,
}

impl WordBuilder {
    fn finish(self) -> Option<RecognizedWord> {
        let text = String::from_utf8_lossy(&self.bytes).trim().to_string();
        // Symbols alone ("♪", "...") are the model describing sound, not speech.
        if !text.chars().any(char::is_alphanumeric) {
            return None;
        }
        Some(RecognizedWord {
            text,
            start_ms: (self.start_cs.max(0) as u64) * 10,
            end_ms: (self.end_cs.max(self.start_cs).max(0) as u64) * 10,
            probability: self.prob_sum / self.tokens.max(1) as f32,
        })
    }
}

/// A decoding loop: one phrase of up to `LOOP_MAX_PHRASE` words said over and
/// over, at least `LOOP_MIN_COPIES` times and `LOOP_MIN_WORDS` words in all
/// (people repeat themselves, but not like that). Returns the word range of
/// the repetition and the phrase length. A whole sentence can loop: decoding
/// the first 10 minutes of the sample greedily, tiny.en said "The Soviet
/// Union has been the most important part of the world." 7 times over 35 s
/// of other speech.
const LOOP_MAX_PHRASE: usize = 30;
const LOOP_MIN_COPIES: usize = 4;
const LOOP_MIN_WORDS: usize = 12;

fn repetition_loop(words: &[RecognizedWord]) -> Option<(std::ops::Range<usize>, usize)> {
    let key: Vec<String> = words
        .iter()
        .map(|w| {
            w.text
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        })
        .collect();
    for n in 1..=LOOP_MAX_PHRASE {
        for i in 0..key.len().saturating_sub(n) {
            let mut copies = 1;
            while i + (copies + 1) * n <= key.len()
                && key[i + copies * n..i + (copies + 1) * n] == key[i..i + n]
            {
                copies += 1;
            }
            if copies >= LOOP_MIN_COPIES && copies * n >= LOOP_MIN_WORDS {
                return Some((i..i + copies * n, n));
            }
        }
    }
    None
}

/// Keeps the first copy of each looping phrase.
fn collapse_loops(mut words: Vec<RecognizedWord>) -> Vec<RecognizedWord> {
    while let Some((range, n)) = repetition_loop(&words) {
        words.drain(range.start + n..range.end);
    }
    words
}

impl Transcriber for WhisperEngine {
    /// Decodes greedily or by beam search at temperature 0, with whisper.cpp's
    /// own fallback to higher temperatures when a window's entropy or log
    /// probability fails. If the words still loop, the chunk is decoded again
    /// from temperature 0.4; if that loops too, each loop keeps one copy.
    fn transcribe(
        &self,
        samples_16k: &[f32],
        shared_from_sample: Option<usize>,
    ) -> Result<Vec<RecognizedWord>, TranscribeError> {
        let words = self.decode(samples_16k, shared_from_sample, 0.0)?;
        if repetition_loop(&words).is_none() {
            return Ok(words);
        }
        let again = self.decode(samples_16k, shared_from_sample, LOOP_RETRY_TEMPERATURE)?;
        Ok(if repetition_loop(&again).is_none() {
            again
        } else {
            collapse_loops(words)
        })
    }
}

const LOOP_RETRY_TEMPERATURE: f32 = 0.4;

/// How far past the start of the next chunk's audio this chunk's words must
/// reach for decoding to stop (10 ms units). The next chunk's first words
/// may be cut off by its start; [`super::chunk::stitch`] takes the rest from it.
const SHARED_REACHED_CS: i64 = 100;

/// Decides, before whisper.cpp encodes each 30-s window of a chunk, whether
/// that window is needed. The first always is. whisper.cpp moves on to a new
/// window from the last timestamp it decoded, so near the end of a chunk it
/// opens one more for the few seconds of a sentence the audio cuts off: a
/// whole encoder pass, on mostly padding, for words the next chunk decodes
/// anyway. A further window is opened only while the words decoded so far
/// end before the next chunk's audio starts (plus [`SHARED_REACHED_CS`]).
struct WindowGate {
    shared_from_cs: i64,
    windows: u32,
}

unsafe extern "C" fn open_window(
    ctx: *mut whisper_rs::whisper_rs_sys::whisper_context,
    state: *mut whisper_rs::whisper_rs_sys::whisper_state,
    user_data: *mut std::ffi::c_void,
) -> bool {
    use whisper_rs::whisper_rs_sys as sys;
    // SAFETY: `user_data` is the `WindowGate` that `decode` keeps alive for the
    // whole of `full`, and whisper.cpp calls this on that call's thread; `ctx`
    // and `state` are whisper.cpp's own, only read here.
    unsafe {
        let gate = &mut *user_data.cast::<WindowGate>();
        gate.windows += 1;
        if gate.windows == 1 {
            return true;
        }
        let n_segments = sys::whisper_full_n_segments_from_state(state);
        if n_segments == 0 {
            return true;
        }
        let last = n_segments - 1;
        let eot = sys::whisper_token_eot(ctx);
        // A trailing segment without a closing timestamp ends at its last
        // timestamp, before its words; DTW times (-1 without DTW) say where they end.
        let mut end_cs = sys::whisper_full_get_segment_t1_from_state(state, last);
        for i in 0..sys::whisper_full_n_tokens_from_state(state, last) {
            let data = sys::whisper_full_get_token_data_from_state(state, last, i);
            if data.id < eot {
                end_cs = end_cs.max(data.t_dtw);
            }
        }
        end_cs < gate.shared_from_cs + SHARED_REACHED_CS
    }
}

impl WhisperEngine {
    fn decode(
        &self,
        samples_16k: &[f32],
        shared_from_sample: Option<usize>,
        temperature: f32,
    ) -> Result<Vec<RecognizedWord>, TranscribeError> {
        let engine_err = |detail: String| TranscribeError::Engine {
            start_s: 0.0,
            detail,
        };
        // A fresh state per chunk: a reused one would carry its sampler's random
        // state from whichever chunk that worker ran before, and --jobs would
        // change the output.
        let mut state = self
            .ctx
            .create_state()
            .map_err(|e| engine_err(e.to_string()))?;
        let mut params = if self.options.beam_size > 1 {
            FullParams::new(SamplingStrategy::BeamSearch {
                beam_size: self.options.beam_size as i32,
                patience: -1.0,
            })
        } else {
            FullParams::new(SamplingStrategy::Greedy { best_of: 1 })
        };
        params.set_n_threads(self.options.threads_per_job.max(1) as i32);
        let language = if self.info.is_multilingual() {
            self.options.language.as_str()
        } else {
            "en"
        };
        params.set_language(Some(language));
        params.set_token_timestamps(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_suppress_nst(true);
        params.set_temperature(temperature);
        // Each chunk starts without text history.
        params.set_no_context(true);
        let mut gate = WindowGate {
            shared_from_cs: shared_from_sample.map_or(i64::MAX / 2, |s| (s / 160) as i64),
            windows: 0,
        };
        // SAFETY: `gate` outlives `full` below, the only call that uses it.
        unsafe {
            params.set_start_encoder_callback(Some(open_window));
            params.set_start_encoder_callback_user_data(
                (&mut gate as *mut WindowGate).cast::<std::ffi::c_void>(),
            );
        }
        state
            .full(params, samples_16k)
            .map_err(|e| engine_err(e.to_string()))?;

        let eot = self.ctx.token_eot();
        let mut words = Vec::new();
        let mut segment_words = Vec::new();
        let mut current: Option<WordBuilder> = None;
        // With DTW, a token's t_dtw marks about where it ends: a word starts where
        // the token before it ended, but not long before its own first token ends
        // (after a pause the previous token is far back).
        let dtw = self.dtw;
        let mut prev_end_cs: i64 = -1;
        for segment in state.as_iter() {
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else {
                    continue;
                };
                let data = token.token_data();
                if data.id >= eot {
                    continue;
                }
                let bytes = token.to_bytes().map_err(|e| engine_err(e.to_string()))?;
                let starts_word = bytes.first() == Some(&b' ');
                if starts_word || current.is_none() {
                    if let Some(w) = current.take().and_then(WordBuilder::finish) {
                        segment_words.push(w);
                    }
                    let start_cs = if dtw {
                        prev_end_cs.max(data.t_dtw - MAX_FIRST_TOKEN_CS)
                    } else {
                        data.t0
                    };
                    current = Some(WordBuilder {
                        bytes: Vec::new(),
                        start_cs,
                        end_cs: data.t1,
                        prob_sum: 0.0,
                        tokens: 0,
                    });
                }
                let w = current.as_mut().expect("set above");
                w.bytes.extend_from_slice(bytes);
                w.end_cs = if dtw { data.t_dtw } else { data.t1 };
                prev_end_cs = w.end_cs;
                w.prob_sum += data.p;
                w.tokens += 1;
            }
            // A segment ends a word.
            if let Some(w) = current.take().and_then(WordBuilder::finish) {
                segment_words.push(w);
            }
            if !is_hallucination(&segment_words) {
                words.append(&mut segment_words);
            }
            segment_words.clear();
        }
        if dtw {
            super::onset::snap_starts(&mut words, samples_16k);
        }
        Ok(words)
    }
}
