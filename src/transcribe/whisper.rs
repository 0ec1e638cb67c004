//! The shipped engine: whisper.cpp through whisper-rs.
//!
//! The model is loaded once and shared; each chunk gets its own decoding
//! state. Words are built from tokens (a token starting with a space starts a
//! word), timed by whisper.cpp's DTW token timestamps where an alignment-head
//! preset exists for the model (10 ms units; measured against synthesized
//! ground truth they beat the plain token timestamps, which can put a word
//! seconds early after music), and scored by their mean token probability. The model file is checked by
//! [`crate::model::inspect`] first: whisper.cpp may abort the process on a bad file.

use std::ffi::{CStr, CString};
use std::path::Path;

use whisper_rs::whisper_rs_sys as sys;

use super::decode::{self, Draft, Token};
use super::{Recognition, RecognizedWord, TranscribeError, Transcriber, WordScore};
use crate::model::{self, ModelInfo};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// whisper.cpp threads per chunk. whisper.cpp's workers spin while they
    /// wait, so jobs x threads should not exceed the free cores.
    pub threads_per_job: usize,
    /// Spoken language code ("en"), or "auto" to detect (multilingual models only).
    pub language: String,
    /// Beam search width without a transcript; 1 is greedy decoding. On the
    /// sample with tiny.en, beam 5 cut WER from 15.8% to 11.3% for 1.3x the
    /// time; 2 and 3 gave 15.2%. With a transcript, podcap's own loop decodes
    /// greedily with the transcript as the draft ([`super::decode`]).
    pub beam_size: usize,
    /// With a transcript: a transcript token within this many nats of the
    /// model's best is accepted ([`super::decode::DecodeOptions::tolerance_nats`]).
    pub draft_tolerance_nats: f32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            threads_per_job: 1,
            language: "en".into(),
            beam_size: 5,
            draft_tolerance_nats: DEFAULT_DRAFT_TOLERANCE_NATS,
        }
    }
}

/// See [`EngineOptions::draft_tolerance_nats`].
pub const DEFAULT_DRAFT_TOLERANCE_NATS: f32 = 3.0;

/// Longest a word's first token is taken to last before its DTW time (10 ms units).
const MAX_FIRST_TOKEN_CS: i64 = 45;

pub struct WhisperEngine {
    ctx: Context,
    /// DTW token timestamps are on (a preset exists for this model's shape).
    dtw: bool,
    info: ModelInfo,
    options: EngineOptions,
    vocab: decode::Vocab,
}

/// A whisper.cpp context: the model, read-only once loaded, shared by the
/// states of parallel chunks.
struct Context(*mut sys::whisper_context);

// SAFETY: whisper.cpp only reads a context after loading it; every decoding
// writes to its own state (whisper.cpp's own examples share one context
// between threads, and whisper-rs marks its context Send + Sync likewise).
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the pointer came from whisper_init and is freed once.
        unsafe { sys::whisper_free(self.0) }
    }
}

/// One decoding's state (buffers, KV cache, results), freed when dropped.
struct State(*mut sys::whisper_state);

impl State {
    fn new(ctx: &Context) -> Result<Self, String> {
        // SAFETY: a valid context; a null result is an allocation failure.
        let p = unsafe { sys::whisper_init_state(ctx.0) };
        if p.is_null() {
            Err("whisper.cpp could not allocate a decoding state".into())
        } else {
            Ok(Self(p))
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: the pointer came from whisper_init_state and is freed once.
        unsafe { sys::whisper_free_state(self.0) }
    }
}

impl WhisperEngine {
    /// Checks and loads a ggml model file.
    pub fn load(path: &Path, options: EngineOptions) -> Result<Self, crate::Error> {
        let info = model::inspect(path)?;
        whisper_rs::install_logging_hooks();
        let load_err = |detail: String| TranscribeError::Load {
            path: path.to_path_buf(),
            detail,
        };
        let path_c = CString::new(
            path.to_str()
                .ok_or_else(|| load_err("path is not UTF-8".into()))?,
        )
        .map_err(|_| load_err("path contains a NUL byte".into()))?;
        let preset = dtw_preset(&info);
        let dtw = preset.is_some();
        // SAFETY: plain C calls; the model file was checked by model::inspect.
        let ctx = unsafe {
            let mut params = sys::whisper_context_default_params();
            params.use_gpu = false;
            // On CPU, flash attention with DTW measured 1.6x slower (vendor/README.md).
            params.flash_attn = false;
            if let Some(preset) = preset {
                params.dtw_token_timestamps = true;
                params.dtw_aheads_preset = preset;
                params.dtw_n_top = -1;
                params.dtw_mem_size = 128 << 20;
            }
            sys::whisper_init_from_file_with_params_no_state(path_c.as_ptr(), params)
        };
        if ctx.is_null() {
            return Err(load_err("whisper.cpp could not load it".into()).into());
        }
        let ctx = Context(ctx);
        let language = CString::new(options.language.as_str())
            .map_err(|_| load_err("the language code contains a NUL byte".into()))?;
        let vocab = vocab(&ctx, info.is_multilingual(), &language);
        Ok(Self {
            ctx,
            dtw,
            info,
            options,
            vocab,
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }
}

/// The model's special tokens and token texts, for podcap's decoding loop.
fn vocab(ctx: &Context, multilingual: bool, language: &CStr) -> decode::Vocab {
    let c = ctx.0;
    // SAFETY: plain reads of a loaded context; token strings are
    // NUL-terminated and owned by the context.
    unsafe {
        let eot = sys::whisper_token_eot(c);
        let sot = sys::whisper_token_sot(c);
        let mut sot_sequence = vec![sot];
        let langs = if multilingual {
            let lang = sys::whisper_lang_id(language.as_ptr()).max(0);
            sot_sequence.push(sys::whisper_token_lang(c, lang));
            sot_sequence.push(sys::whisper_token_transcribe(c));
            sys::whisper_token_lang(c, 0)
                ..sys::whisper_token_lang(c, sys::whisper_lang_max_id()) + 1
        } else {
            0..0
        };
        decode::Vocab {
            n_vocab: sys::whisper_n_vocab(c) as usize,
            eot,
            sot,
            translate: sys::whisper_token_translate(c),
            transcribe: sys::whisper_token_transcribe(c),
            solm: sys::whisper_token_solm(c),
            prev: sys::whisper_token_prev(c),
            nosp: sys::whisper_token_nosp(c),
            not: sys::whisper_token_not(c),
            beg: sys::whisper_token_beg(c),
            langs,
            sot_sequence,
            bytes: (0..eot)
                .map(|t| {
                    CStr::from_ptr(sys::whisper_token_to_str(c, t))
                        .to_bytes()
                        .to_vec()
                })
                .collect(),
        }
    }
}

/// Whisper's encoder context: 1500 positions of 20 ms, 30 s.
const N_AUDIO_CTX: usize = 1500;

/// Padding after a window's audio that the encoder still hears, in 10-ms
/// frames. A window with less than 30 s of audio (a chunk's second window,
/// a verification window) is encoded over its audio and this much of the
/// padding instead of all of it: the encoder's 33 windows over the first
/// 10 minutes of the sample held 73% of 33 x 30 s of audio. Transcription
/// of the 45-minute episode took 97.7 s against 112.8 s with whole windows,
/// with the same word times, sentences and count of disagreements (9). On
/// the first 10 minutes: 22.2 s against 25.1 s at 2 s of padding, 23.6 s
/// at 4 s, 28.0 s at none.
const ENCODED_PADDING_CS: usize = 200;

/// One chunk's audio in a whisper.cpp state, for [`decode::decode_chunk`].
struct ChunkDecoder<'a> {
    engine: &'a WhisperEngine,
    state: State,
    n_frames: usize,
    threads: i32,
}

impl<'a> ChunkDecoder<'a> {
    fn new(engine: &'a WhisperEngine, samples_16k: &[f32]) -> Result<Self, String> {
        let state = State::new(&engine.ctx)?;
        let threads = engine.options.threads_per_job.max(1) as i32;
        // SAFETY: our context and state, and a buffer of the length passed.
        let n_frames = unsafe {
            if sys::whisper_pcm_to_mel_with_state(
                engine.ctx.0,
                state.0,
                samples_16k.as_ptr(),
                samples_16k.len() as i32,
                threads,
            ) != 0
            {
                return Err("whisper.cpp could not compute the spectrogram".into());
            }
            sys::whisper_n_len_from_state(state.0).max(0) as usize
        };
        Ok(Self {
            engine,
            state,
            n_frames,
            threads,
        })
    }
}

impl decode::Decoder for ChunkDecoder<'_> {
    fn vocab(&self) -> &decode::Vocab {
        &self.engine.vocab
    }

    fn n_frames(&self) -> usize {
        self.n_frames
    }

    fn encode(&mut self, offset_cs: usize) -> Result<(), String> {
        // The window's audio and 2 s of the padding, not all 30 s.
        let audio_cs = self.n_frames.saturating_sub(offset_cs);
        let n_audio_ctx = (audio_cs + ENCODED_PADDING_CS).div_ceil(2).min(N_AUDIO_CTX);
        // SAFETY: our context and state.
        let rc = unsafe {
            sys::whisper_set_audio_ctx_with_state(
                self.engine.ctx.0,
                self.state.0,
                n_audio_ctx as i32,
            )
        };
        if rc != 0 {
            return Err(format!(
                "whisper.cpp refused an encoder context of {n_audio_ctx}"
            ));
        }
        // SAFETY: our context and state, with the spectrogram computed.
        let rc = unsafe {
            sys::whisper_encode_with_state(
                self.engine.ctx.0,
                self.state.0,
                offset_cs as i32,
                self.threads,
            )
        };
        if rc != 0 {
            return Err("whisper.cpp could not encode the audio".into());
        }
        Ok(())
    }

    fn decode(&mut self, tokens: &[Token], n_past: usize, first: usize) -> Result<&[f32], String> {
        let n_vocab = self.engine.vocab.n_vocab;
        // SAFETY: our context and state; the logits buffer holds a row per
        // token of the batch (rows from `first` on computed), and stays
        // valid until the next call on the state, which needs `&mut self`.
        unsafe {
            if sys::whisper_decode_logits_with_state(
                self.engine.ctx.0,
                self.state.0,
                tokens.as_ptr(),
                tokens.len() as i32,
                n_past as i32,
                first as i32,
                self.threads,
            ) != 0
            {
                return Err("whisper.cpp could not decode the text".into());
            }
            let logits = sys::whisper_get_logits_from_state(self.state.0);
            Ok(std::slice::from_raw_parts(
                logits.add(first * n_vocab),
                (tokens.len() - first) * n_vocab,
            ))
        }
    }

    fn token_times(&mut self, text: &[Token], n_frames: usize) -> Result<Vec<i64>, String> {
        let mut times = vec![-1i64; text.len()];
        // SAFETY: our context (made with DTW on: the guided path needs it)
        // and state, with buffers of the lengths passed.
        let rc = unsafe {
            sys::whisper_dtw_timestamps_with_state(
                self.engine.ctx.0,
                self.state.0,
                text.as_ptr(),
                text.len() as i32,
                n_frames as i32,
                self.threads,
                times.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err("whisper.cpp could not time the tokens".into());
        }
        Ok(times)
    }
}

/// whisper.cpp's alignment-head presets, by model shape.
fn dtw_preset(info: &ModelInfo) -> Option<sys::whisper_alignment_heads_preset> {
    let h = &info.hparams;
    let en = !info.is_multilingual();
    Some(match (h.n_text_layer, h.n_text_state, en) {
        (4, 384, true) => sys::whisper_alignment_heads_preset_WHISPER_AHEADS_TINY_EN,
        (4, 384, false) => sys::whisper_alignment_heads_preset_WHISPER_AHEADS_TINY,
        (6, 512, true) => sys::whisper_alignment_heads_preset_WHISPER_AHEADS_BASE_EN,
        (6, 512, false) => sys::whisper_alignment_heads_preset_WHISPER_AHEADS_BASE,
        (12, 768, true) => sys::whisper_alignment_heads_preset_WHISPER_AHEADS_SMALL_EN,
        (12, 768, false) => sys::whisper_alignment_heads_preset_WHISPER_AHEADS_SMALL,
        (24, 1024, true) => sys::whisper_alignment_heads_preset_WHISPER_AHEADS_MEDIUM_EN,
        (24, 1024, false) => sys::whisper_alignment_heads_preset_WHISPER_AHEADS_MEDIUM,
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
                ..Default::default()
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
                ..Default::default()
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

#[derive(Default)]
struct WordBuilder {
    bytes: Vec<u8>,
    start_cs: i64,
    end_cs: i64,
    prob_sum: f32,
    tokens: u32,
    /// Every token so far came from the draft, from this transcript word.
    from_draft: Option<Option<usize>>,
    asked: Option<(usize, f32)>,
}

impl WordBuilder {
    fn add_draft(&mut self, token: &decode::DecodedToken, draft: &Draft) {
        let word = token.draft.map(|k| draft.word[k]);
        self.from_draft = Some(match self.from_draft {
            None => word,
            Some(w) if w == word => w,
            Some(_) => None,
        });
        // Verification judges a word by its first token; so does this.
        if self.tokens == 1 {
            self.asked = token
                .asked
                .filter(|&(k, _)| draft.starts_word(k))
                .map(|(k, margin)| (draft.word[k], margin));
        }
    }

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
            from_draft: self.from_draft.flatten(),
            asked: self.asked,
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
    /// With a draft: podcap's loop with the transcript as the draft
    /// ([`Self::decode_guided`]). A chunk where a window fails even with the
    /// transcript's help, or whose words loop, is decoded as without one.
    ///
    /// Without: whisper.cpp's beam search (or greedy decoding) at
    /// temperature 0, with its own fallback to higher temperatures when a
    /// window's entropy or log probability fails. If the words still loop,
    /// the chunk is decoded again from temperature 0.4; if that loops too,
    /// each loop keeps one copy.
    fn transcribe(
        &self,
        samples_16k: &[f32],
        shared_from_sample: Option<usize>,
        draft: Option<&Draft>,
    ) -> Result<Recognition, TranscribeError> {
        if let Some(draft) = draft.filter(|_| self.guided()) {
            if let Some(mut guided) = self.decode_guided(samples_16k, shared_from_sample, draft)? {
                if repetition_loop(&guided.words).is_none() {
                    self.hear_passed_over(samples_16k, &mut guided.words)?;
                    return Ok(guided);
                }
            }
        }
        let words = self.decode(samples_16k, shared_from_sample, 0.0)?;
        let mut words = if repetition_loop(&words).is_none() {
            words
        } else {
            let again = self.decode(samples_16k, shared_from_sample, LOOP_RETRY_TEMPERATURE)?;
            if repetition_loop(&again).is_none() {
                again
            } else {
                collapse_loops(words)
            }
        };
        self.hear_passed_over(samples_16k, &mut words)?;
        Ok(Recognition {
            words,
            verdicts: Vec::new(),
        })
    }

    fn score_words(
        &self,
        samples_16k: &[f32],
        words: &[&str],
        ask: &[bool],
        refused_below: f32,
    ) -> Result<Option<Vec<Option<WordScore>>>, TranscribeError> {
        WhisperEngine::score_words(self, samples_16k, words, ask, refused_below).map(Some)
    }

    fn draft(&self, words: &mut dyn Iterator<Item = (usize, &str)>) -> Option<Draft> {
        if !self.guided() {
            return None;
        }
        Some(Draft::new(words, |text| self.tokenize(text), &self.vocab))
    }
}

const LOOP_RETRY_TEMPERATURE: f32 = 0.4;

/// Speech at least this long that no decoded word covers is decoded again
/// on its own ([`WhisperEngine::hear_passed_over`]).
const MIN_UNHEARD_MS: u64 = 1_500;
/// Audio kept on either side of it then.
const UNHEARD_EDGE_MS: u64 = 300;

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
        let state = State::new(&self.ctx).map_err(engine_err)?;
        let language = CString::new(if self.info.is_multilingual() {
            self.options.language.as_str()
        } else {
            "en"
        })
        .map_err(|_| engine_err("the language code contains a NUL byte".into()))?;
        let mut gate = WindowGate {
            shared_from_cs: shared_from_sample.map_or(i64::MAX / 2, |s| (s / 160) as i64),
            windows: 0,
        };
        // SAFETY: plain C calls on our context and state; `language` and
        // `gate` outlive whisper_full, which is the only reader of them.
        let rc = unsafe {
            let beam = self.options.beam_size > 1;
            let mut params = sys::whisper_full_default_params(if beam {
                sys::whisper_sampling_strategy_WHISPER_SAMPLING_BEAM_SEARCH
            } else {
                sys::whisper_sampling_strategy_WHISPER_SAMPLING_GREEDY
            });
            if beam {
                params.beam_search.beam_size = self.options.beam_size as i32;
                params.beam_search.patience = -1.0;
            } else {
                params.greedy.best_of = 1;
            }
            params.n_threads = self.options.threads_per_job.max(1) as i32;
            params.language = language.as_ptr();
            params.token_timestamps = true;
            params.print_progress = false;
            params.print_realtime = false;
            params.print_special = false;
            params.print_timestamps = false;
            params.suppress_nst = true;
            params.temperature = temperature;
            // Each chunk decodes on its own, so --jobs cannot change the output.
            params.no_context = true;
            // Stop before a window that would only decode the next chunk's share.
            params.encoder_begin_callback = Some(open_window);
            params.encoder_begin_callback_user_data =
                (&mut gate as *mut WindowGate).cast::<std::ffi::c_void>();
            sys::whisper_full_with_state(
                self.ctx.0,
                state.0,
                params,
                samples_16k.as_ptr(),
                samples_16k.len() as i32,
            )
        };
        if rc != 0 {
            return Err(engine_err(format!("whisper_full failed ({rc})")));
        }

        // SAFETY: reads of the results whisper_full left in `state`.
        let eot = unsafe { sys::whisper_token_eot(self.ctx.0) };
        let mut words = Vec::new();
        let mut segment_words = Vec::new();
        let mut current: Option<WordBuilder> = None;
        let dtw = self.dtw;
        let mut prev_end_cs: i64 = -1;
        let n_segments = unsafe { sys::whisper_full_n_segments_from_state(state.0) };
        for segment in 0..n_segments {
            let n_tokens = unsafe { sys::whisper_full_n_tokens_from_state(state.0, segment) };
            for i in 0..n_tokens {
                let data =
                    unsafe { sys::whisper_full_get_token_data_from_state(state.0, segment, i) };
                if data.id >= eot {
                    continue;
                }
                // SAFETY: whisper.cpp returns a NUL-terminated string owned by the context.
                let bytes =
                    unsafe { CStr::from_ptr(sys::whisper_token_to_str(self.ctx.0, data.id)) }
                        .to_bytes();
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
                        start_cs,
                        end_cs: data.t1,
                        ..WordBuilder::default()
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
            super::onset::snap_to_sound(&mut words, samples_16k);
        }
        Ok(words)
    }
}

impl WhisperEngine {
    /// Decodes again, each on its own, the stretches of speech between a
    /// chunk's words that no word covers ([`crate::audio::speech::unheard`]),
    /// and adds what is heard there. Whisper passes over speech now and
    /// then, most often speech said twice: on the edited 45-minute sample
    /// the guided decoding went from the first reading of a repeated
    /// sentence to the sentence after the second, and the repeat was not
    /// reported. Music between words is decoded again too, for nothing.
    fn hear_passed_over(
        &self,
        samples_16k: &[f32],
        words: &mut Vec<RecognizedWord>,
    ) -> Result<(), TranscribeError> {
        let mut meter = crate::audio::speech::LevelMeter::default();
        meter.push(samples_16k);
        let heard: Vec<(u64, u64)> = words.iter().map(|w| (w.start_ms, w.end_ms)).collect();
        let passed_over =
            crate::audio::speech::unheard(&meter.sounding_ms(), &heard, MIN_UNHEARD_MS);
        let sample = |ms: u64| ((ms * 16) as usize).min(samples_16k.len());
        for (from_ms, to_ms) in passed_over {
            let clip_ms = from_ms.saturating_sub(UNHEARD_EDGE_MS);
            let clip = &samples_16k[sample(clip_ms)..sample(to_ms + UNHEARD_EDGE_MS)];
            for mut w in self.decode(clip, None, 0.0)? {
                w.start_ms += clip_ms;
                w.end_ms += clip_ms;
                if (from_ms..to_ms).contains(&((w.start_ms + w.end_ms) / 2)) {
                    words.push(w);
                }
            }
        }
        words.sort_by_key(|w| w.start_ms);
        Ok(())
    }

    /// Whether this engine decodes with the transcript as the draft: it
    /// needs DTW token times and a known language.
    fn guided(&self) -> bool {
        self.dtw && !(self.info.is_multilingual() && self.options.language == "auto")
    }

    /// podcap's decoding loop ([`decode::decode_chunk`]) on one chunk, with
    /// `draft` (if any) as the draft: the segments and verdicts, and what
    /// the loop did.
    pub fn decode_segments(
        &self,
        samples_16k: &[f32],
        shared_from_sample: Option<usize>,
        draft: Option<&Draft>,
        options: decode::DecodeOptions,
    ) -> Result<(decode::Decoded, decode::Stats), TranscribeError> {
        let engine_err = |detail: String| TranscribeError::Engine {
            start_s: 0.0,
            detail,
        };
        let mut decoder = ChunkDecoder::new(self, samples_16k).map_err(engine_err)?;
        let options = decode::DecodeOptions {
            stop_after_cs: shared_from_sample.map(|s| s / 160 + SHARED_REACHED_CS as usize),
            ..options
        };
        let mut stats = decode::Stats::default();
        let decoded = decode::decode_chunk(&mut decoder, draft, &options, 0.0, &mut stats)
            .map_err(engine_err)?;
        Ok((decoded, stats))
    }

    /// Words by podcap's own loop with the transcript as the draft; `None`
    /// if a window failed even with the transcript's help (whisper.cpp's
    /// beam search does better there than sampling at a higher temperature).
    fn decode_guided(
        &self,
        samples_16k: &[f32],
        shared_from_sample: Option<usize>,
        draft: &Draft,
    ) -> Result<Option<Recognition>, TranscribeError> {
        let options = decode::DecodeOptions {
            tolerance_nats: self.options.draft_tolerance_nats,
            sample_when_failing: false,
            ..Default::default()
        };
        let (decoded, stats) =
            self.decode_segments(samples_16k, shared_from_sample, Some(draft), options)?;
        if stats.failed_windows > 0 {
            return Ok(None);
        }
        let mut words = Vec::new();
        let mut prev_end_cs: i64 = -1;
        for segment in &decoded.segments {
            let mut segment_words = Vec::new();
            let mut current: Option<WordBuilder> = None;
            for token in &segment.tokens {
                let bytes = &self.vocab.bytes[token.id as usize];
                if bytes.first() == Some(&b' ') || current.is_none() {
                    if let Some(w) = current.take().and_then(WordBuilder::finish) {
                        segment_words.push(w);
                    }
                    current = Some(WordBuilder {
                        start_cs: prev_end_cs.max(token.end_cs - MAX_FIRST_TOKEN_CS),
                        ..WordBuilder::default()
                    });
                }
                let w = current.as_mut().expect("set above");
                w.bytes.extend_from_slice(bytes);
                w.end_cs = token.end_cs;
                prev_end_cs = w.end_cs;
                w.prob_sum += token.p;
                w.tokens += 1;
                w.add_draft(token, draft);
            }
            if let Some(w) = current.take().and_then(WordBuilder::finish) {
                segment_words.push(w);
            }
            if !is_hallucination(&segment_words) {
                words.append(&mut segment_words);
            }
        }
        super::onset::snap_to_sound(&mut words, samples_16k);
        Ok(Some(Recognition {
            words,
            verdicts: decoded.verdicts,
        }))
    }
}

impl WhisperEngine {
    /// The model's verdict on given text, by teacher forcing: `words` are
    /// what `samples_16k` (at most 30 s, from just before the first word)
    /// is said to contain, in order. For each word with `ask` set, its
    /// margin with the audio and, where that is below `refused_below`,
    /// without ([`WordScore`]); `None` where not asked, for a word with no
    /// letters or digits, or past the decoder's context. The margins without
    /// the audio cost an encoder pass over 2 s of silence (the padding after
    /// the audio) and one more pass of the text through the decoder.
    pub fn score_words(
        &self,
        samples_16k: &[f32],
        words: &[&str],
        ask: &[bool],
        refused_below: f32,
    ) -> Result<Vec<Option<WordScore>>, TranscribeError> {
        let engine_err = |detail: String| TranscribeError::Engine {
            start_s: 0.0,
            detail,
        };
        let mut decoder = ChunkDecoder::new(self, samples_16k).map_err(engine_err)?;
        decode::Decoder::encode(&mut decoder, 0).map_err(engine_err)?;
        let vocab = &self.vocab;
        let mut text = vocab.sot_sequence.clone();
        text.push(vocab.not);
        let max_tokens = decode::N_TEXT_CTX / 2;
        // Each asked word's first alphanumeric token: its position in `text`.
        let mut asked: Vec<(usize, usize)> = Vec::new();
        for (k, word) in words.iter().enumerate() {
            let tokens = self.tokenize(&format!(" {word}"));
            if tokens.is_empty() {
                continue;
            }
            if text.len() + tokens.len() > max_tokens {
                break;
            }
            if ask.get(k) == Some(&true) {
                if let Some(i) = tokens.iter().position(|&t| vocab.has_alphanumeric(t)) {
                    asked.push((text.len() + i, k));
                }
            }
            text.extend_from_slice(&tokens);
        }
        let positions: Vec<usize> = asked.iter().map(|a| a.0).collect();
        let heard = decode::forced_margins(&mut decoder, &text, &positions, true);
        let heard = heard.map_err(engine_err)?;
        let refused: Vec<usize> = (0..positions.len())
            .filter(|&i| heard[i] < refused_below)
            .collect();
        let mut unheard = vec![None; positions.len()];
        if !refused.is_empty() {
            // The padding after the audio: silence.
            let end_cs = decoder.n_frames;
            decode::Decoder::encode(&mut decoder, end_cs).map_err(engine_err)?;
            let at: Vec<usize> = refused.iter().map(|&i| positions[i]).collect();
            let found = decode::forced_margins(&mut decoder, &text, &at, false);
            for (&i, m) in refused.iter().zip(found.map_err(engine_err)?) {
                unheard[i] = Some(m);
            }
        }
        let mut scores = vec![None; words.len()];
        for (((_, k), margin), margin_without_audio) in asked.into_iter().zip(heard).zip(unheard) {
            scores[k] = Some(WordScore {
                margin,
                margin_without_audio,
            });
        }
        Ok(scores)
    }

    /// whisper.cpp's tokens for `text` (at most 256).
    fn tokenize(&self, text: &str) -> Vec<Token> {
        let Ok(text) = CString::new(text) else {
            return Vec::new();
        };
        let mut buf = vec![0 as Token; 256];
        // SAFETY: a loaded context, a NUL-terminated string and a buffer of the length passed.
        let n = unsafe {
            sys::whisper_tokenize(
                self.ctx.0,
                text.as_ptr(),
                buf.as_mut_ptr(),
                buf.len() as i32,
            )
        };
        buf.truncate(n.max(0) as usize);
        buf
    }
}
