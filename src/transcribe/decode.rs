//! podcap's decoding loop: one chunk of audio to text tokens, over the
//! encoder and decoder behind [`Decoder`] (whisper.cpp in the shipped
//! engine, a scripted fake in the tests).
//!
//! It decodes greedily with Whisper's rules, as whisper.cpp's
//! `whisper_full_with_state` and OpenAI Whisper's `decoding.py` do:
//! - windows of 30 s; the next starts at the last timestamp decoded (the
//!   whole window when it ends on a single timestamp or decodes nothing);
//! - the text of the chunk's earlier windows as the prompt (`<|prev|>`),
//!   below temperature 0.5;
//! - timestamp rules ([`Rules::filter`]): timestamps in pairs, never
//!   decreasing, the first at most 1 s; a timestamp wherever all timestamps
//!   together are likelier than any text token; no blank start; special
//!   and non-speech tokens suppressed;
//! - the no-speech check (no-speech probability above 0.6 and an average
//!   log-probability below -1: the window is silence);
//! - temperature fallback (0.2 more at a time, up to 1.0) when a window's
//!   average log-probability is below -1 or its last 32 tokens repeat
//!   (entropy below 2.4, whisper.cpp's stand-in for the compression ratio),
//!   or it fills the context without closing.
//!
//! **The transcript as the draft** (prompt lookup decoding): given the
//! transcript's tokens ([`Draft`]), the loop looks up the last few text
//! tokens it decoded in the transcript, near where this chunk has been
//! matching, and proposes the next [`DecodeOptions::draft_tokens`] transcript
//! tokens. They go through the decoder in one batch with the token before
//! them; the longest prefix the model accepts is kept, and at the first
//! refusal the model's own token is taken. A draft token is accepted when it
//! is the model's best text token or, with [`DecodeOptions::tolerance_nats`],
//! when its log-probability is within that margin of the best, as long as the
//! best is text (never over a timestamp or the end of text). With a
//! tolerance of 0 the tokens are those of plain greedy decoding. Each chunk
//! finds its place from its own words, so chunks stay independent.
//!
//! **Verdicts.** After each window, the transcript words it left out between
//! two words it took are forced through the decoder over the same encoder
//! output ([`window_verdicts`]): the model's verdict on each, for the
//! alignment's verification, without an encoder pass of its own.

use std::ops::Range;

pub type Token = i32;

/// The model's special tokens and the text of its text tokens.
#[derive(Debug, Clone)]
pub struct Vocab {
    pub n_vocab: usize,
    /// Text tokens are `0..eot`.
    pub eot: Token,
    pub sot: Token,
    pub translate: Token,
    pub transcribe: Token,
    pub solm: Token,
    pub prev: Token,
    pub nosp: Token,
    pub not: Token,
    /// `<|0.00|>`; timestamp `k` (k x 20 ms) is `beg + k`.
    pub beg: Token,
    /// Language tokens (empty for English-only models).
    pub langs: Range<Token>,
    /// What starts the text after the prompt: `<|startoftranscript|>`, and on
    /// a multilingual model the language and `<|transcribe|>`.
    pub sot_sequence: Vec<Token>,
    /// The text of each text token, as bytes (a token may end inside a UTF-8 character).
    pub bytes: Vec<Vec<u8>>,
}

impl Vocab {
    fn is_timestamp(&self, t: Token) -> bool {
        t >= self.beg
    }

    fn text(&self, t: Token) -> &[u8] {
        self.bytes.get(t as usize).map_or(&[], Vec::as_slice)
    }

    pub fn has_alphanumeric(&self, t: Token) -> bool {
        self.text(t)
            .iter()
            .any(|b| b.is_ascii_alphanumeric() || *b >= 0x80)
    }

    /// The same text, but for case: Whisper and the transcript may write a
    /// word in other case ("the Black Book", "the black book").
    fn same_text(&self, a: Token, b: Token) -> bool {
        a == b || self.text(a).eq_ignore_ascii_case(self.text(b))
    }

    /// A text token that starts a word: a space, then a letter or digit.
    fn starts_word(&self, t: Token) -> bool {
        self.text(t).first() == Some(&b' ') && self.has_alphanumeric(t)
    }

    /// Tokens never written in a transcription: the special ones other
    /// than the end of text and timestamps, and the non-speech symbols
    /// (`suppress_nst` in whisper.cpp, OpenAI Whisper's `suppress_tokens="-1"`).
    fn suppressed(&self) -> Vec<Token> {
        const NON_SPEECH: &[&str] = &[
            "\"",
            "#",
            "(",
            ")",
            "*",
            "+",
            "/",
            ":",
            ";",
            "<",
            "=",
            ">",
            "@",
            "[",
            "\\",
            "]",
            "^",
            "_",
            "`",
            "{",
            "|",
            "}",
            "~",
            "「",
            "」",
            "『",
            "』",
            "<<",
            ">>",
            "<<<",
            ">>>",
            "--",
            "---",
            "-(",
            "-[",
            "('",
            "(\"",
            "((",
            "))",
            "(((",
            ")))",
            "[[",
            "]]",
            "{{",
            "}}",
            "♪♪",
            "♪♪♪",
            "♩",
            "♪",
            "♫",
            "♬",
            "♭",
            "♮",
            "♯",
        ];
        let mut wanted: std::collections::HashSet<Vec<u8>> = NON_SPEECH
            .iter()
            .flat_map(|s| [s.as_bytes().to_vec(), format!(" {s}").into_bytes()])
            .collect();
        // Hyphens and apostrophes go between words, never start one.
        wanted.insert(b" -".to_vec());
        wanted.insert(b" '".to_vec());
        let mut out: Vec<Token> = (0..self.eot)
            .filter(|&t| wanted.contains(&self.bytes[t as usize]))
            .collect();
        out.extend([
            self.sot,
            self.translate,
            self.transcribe,
            self.solm,
            self.prev,
            self.nosp,
            self.not,
        ]);
        out.extend(self.langs.clone());
        out
    }

    fn blank(&self) -> Option<Token> {
        (0..self.eot).find(|&t| self.bytes[t as usize] == b" ")
    }
}

/// What the loop needs of a model, for one chunk of audio.
pub trait Decoder {
    fn vocab(&self) -> &Vocab;
    /// The chunk's length in 10-ms frames.
    fn n_frames(&self) -> usize;
    /// Encodes the 30 s of the chunk from `offset_cs` (10-ms units): the
    /// window the next calls decode.
    fn encode(&mut self, offset_cs: usize) -> Result<(), String>;
    /// Runs `tokens` through the decoder after the first `n_past` tokens of
    /// the text so far (anything decoded after those is forgotten) and
    /// returns the logits after each of `tokens[first..]`, one row of
    /// `n_vocab` each.
    fn decode(&mut self, tokens: &[Token], n_past: usize, first: usize) -> Result<&[f32], String>;
    /// Where each of `text` (the text tokens decoded in the current window,
    /// in order) ends, in 10-ms units from the window's start (-1: not
    /// placed); `n_frames`: the window's audio. Forgets the decoded text.
    fn token_times(&mut self, text: &[Token], n_frames: usize) -> Result<Vec<i64>, String>;
}

/// The transcript's text as the model would write it: each word with a
/// leading space, tokenized on its own, and the word each token belongs to.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub tokens: Vec<Token>,
    /// Index (into the words the draft was made from) of each token's word.
    pub word: Vec<usize>,
    /// Whether each token ends a sentence (the model is likely to write a
    /// timestamp after it, so a proposal stops there).
    pub ends_sentence: Vec<bool>,
}

impl Draft {
    /// `tokenize(" word")` gives a word's tokens. Each word is first
    /// written as Whisper writes (see [`written`]), and tokens the model
    /// never writes are left out.
    pub fn new<'a>(
        words: impl IntoIterator<Item = (usize, &'a str)>,
        mut tokenize: impl FnMut(&str) -> Vec<Token>,
        vocab: &Vocab,
    ) -> Self {
        let suppressed: std::collections::HashSet<Token> = vocab.suppressed().into_iter().collect();
        let mut draft = Self::default();
        for (index, text) in words {
            let w = written(text);
            if w.is_empty() {
                continue;
            }
            let mut tokens = tokenize(&format!(" {w}"));
            tokens.retain(|t| !suppressed.contains(t));
            draft.word.extend(std::iter::repeat_n(index, tokens.len()));
            let n = tokens.len();
            draft
                .ends_sentence
                .extend((0..n).map(|k| k + 1 == n && crate::transcript::ends_sentence(text)));
            draft.tokens.extend(tokens);
        }
        draft
    }

    /// The draft's text continued by the model's `token`, written where
    /// `offset` bytes of draft token `k` are already written: where the
    /// draft then stands (a token and the bytes of it written), or `None`
    /// if the token says something else. Whisper does not always split a
    /// word as the tokenizer does (" Gor" "b" "achev" for " Gor" "bachev").
    fn advance(
        &self,
        vocab: &Vocab,
        k: usize,
        offset: usize,
        token: Token,
    ) -> Option<(usize, usize)> {
        let mut said = vocab.text(token);
        let (mut k, mut offset) = (k, offset);
        while !said.is_empty() {
            let text = vocab.text(*self.tokens.get(k)?);
            let rest = &text[offset.min(text.len())..];
            let n = rest.len().min(said.len());
            if n == 0 || !rest[..n].eq_ignore_ascii_case(&said[..n]) {
                return None;
            }
            said = &said[n..];
            offset += n;
            if offset == text.len() {
                k += 1;
                offset = 0;
            }
        }
        Some((k, offset))
    }

    /// Whether draft token `k` is its word's first.
    pub fn starts_word(&self, k: usize) -> bool {
        k == 0 || self.word.get(k) != self.word.get(k - 1)
    }

    /// The first token of the word after token `k`'s.
    fn next_word(&self, k: usize) -> usize {
        (k + 1..self.tokens.len())
            .find(|&j| self.starts_word(j))
            .unwrap_or(self.tokens.len())
    }

    /// Whether the text decoded so far ends with the draft's text before
    /// token `k` (its last [`AGREE_TOKENS`] tokens, or all of it).
    fn agrees(&self, vocab: &Vocab, text: &[Token], k: usize) -> bool {
        let n = AGREE_TOKENS.min(text.len()).min(k);
        n > 0
            && text[text.len() - n..]
                .iter()
                .zip(&self.tokens[k - n..k])
                .all(|(&a, &b)| vocab.same_text(a, b))
    }

    /// The next draft tokens from `at`: up to `max` of them, to the end of
    /// the sentence.
    fn proposal(&self, at: usize, max: usize) -> Vec<(usize, Token)> {
        let mut out = Vec::new();
        for k in at..(at + max).min(self.tokens.len()) {
            out.push((k, self.tokens[k]));
            if self.ends_sentence.get(k) == Some(&true) {
                break;
            }
        }
        out
    }

    /// Where the transcript goes on after `text` (the text tokens decoded
    /// so far, compared but for case), looked up near `cursor` (where the
    /// last accepted draft ended), or anywhere for a longer match.
    fn next_after(&self, vocab: &Vocab, text: &[Token], cursor: Option<usize>) -> Option<usize> {
        let t = &self.tokens;
        let matches_at = |end: usize, n: usize| {
            end >= n
                && end <= t.len()
                && text.len() >= n
                && t[end - n..end]
                    .iter()
                    .zip(&text[text.len() - n..])
                    .all(|(&a, &b)| vocab.same_text(a, b))
        };
        if let Some(c) = cursor {
            // A short suffix needs to be close to where the draft was.
            for (n, back, ahead) in [
                (MAX_LOOKUP, NEAR_BACK, NEAR_AHEAD),
                (3, NEAR_BACK, NEAR_AHEAD),
                (2, 8, 24),
                (1, 0, 4),
            ] {
                let lo = c.saturating_sub(back);
                let hi = (c + ahead).min(t.len());
                if let Some(end) = (lo..=hi)
                    .filter(|&e| matches_at(e, n))
                    .min_by_key(|&e| e.abs_diff(c))
                {
                    return Some(end);
                }
            }
        }
        // Anywhere: the occurrence of the last MAX_LOOKUP tokens that the
        // text before them matches furthest back (ties: the first).
        let n = MAX_LOOKUP;
        (n..=t.len())
            .filter(|&e| matches_at(e, n))
            .max_by_key(|&e| {
                let agree = (n..text.len().min(e).min(MAX_AGREE))
                    .take_while(|&k| vocab.same_text(t[e - 1 - k], text[text.len() - 1 - k]))
                    .count();
                (agree, std::cmp::Reverse(e))
            })
    }
}

/// A transcript word as Whisper writes it: straight apostrophes; a comma
/// for a semicolon; no dashes, quotes, brackets or other symbols it never
/// writes at its edges (for a dash it writes a comma or a full stop).
fn written(word: &str) -> String {
    let w: String = word
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            ';' => ',',
            c => c,
        })
        .collect();
    w.trim_matches(|c: char| "\u{2014}\u{2013}-\"#()*+/:<=>@[\\]^_`{|}~".contains(c))
        .to_string()
}

/// Tokens of text that must agree with the draft before a refused token
/// for the refusal to be a verdict on the transcript's word.
const AGREE_TOKENS: usize = 4;

/// Tokens looked up to find the place in the transcript anywhere.
const MAX_LOOKUP: usize = 4;
/// How far back the text is compared to choose between places.
const MAX_AGREE: usize = 64;
/// How far from the cursor a 3- or 4-token match may be.
const NEAR_BACK: usize = 32;
const NEAR_AHEAD: usize = 256;

#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// The first timestamp is at most this late.
    pub max_initial_ts_s: f32,
    pub logprob_threshold: f32,
    pub no_speech_threshold: f32,
    pub entropy_threshold: f32,
    pub temperature_step: f32,
    /// Transcript tokens proposed at a time.
    pub draft_tokens: usize,
    /// A draft token within this many nats of the model's best text token is accepted.
    pub tolerance_nats: f32,
    /// The tolerance of the second try at a window that failed (before
    /// sampling at higher temperatures).
    pub fallback_tolerance_nats: f32,
    /// Whether a window that fails is tried again at higher temperatures.
    pub sample_when_failing: bool,
    /// Stop before a window that would start past this (10-ms units): the
    /// audio the next chunk hears, plus a margin.
    pub stop_after_cs: Option<usize>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_initial_ts_s: 1.0,
            logprob_threshold: -1.0,
            no_speech_threshold: 0.6,
            entropy_threshold: 2.4,
            temperature_step: 0.2,
            draft_tokens: 16,
            tolerance_nats: 0.0,
            fallback_tolerance_nats: 8.0,
            sample_when_failing: true,
            stop_after_cs: None,
        }
    }
}

/// A window shorter than this (10-ms units) that fails is kept as its last
/// try decoded it: the few seconds at a chunk's end, often a word cut off,
/// that the next chunk hears whole.
const MIN_FAILING_WINDOW_CS: usize = 500;

/// Text tokens a window decodes with a draft but none from it before it
/// counts as failed.
const UNGUIDED_WINDOW_TOKENS: usize = 20;

/// One decoded text token.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedToken {
    pub id: Token,
    /// Its probability.
    pub p: f32,
    /// The draft token it is (accepted from the transcript).
    pub draft: Option<usize>,
    /// The draft token the model was asked about here, and that token's
    /// margin (its log-probability less the best token's, nats): the token
    /// accepted from the draft (0 where it is the model's best, down to
    /// minus the tolerance), or the one refused in its place (recorded
    /// where it starts a word and the text before it was the transcript's).
    pub asked: Option<(usize, f32)>,
    /// Where it ends (DTW), 10-ms units from the chunk's start; -1: not placed.
    pub end_cs: i64,
}

/// A run of text between two timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start_cs: i64,
    pub end_cs: i64,
    pub tokens: Vec<DecodedToken>,
}

/// The model's verdict on one transcript word, by teacher forcing: the
/// margin (nats) at the word's first alphanumeric token ([`forced_margins`]).
/// 0: the model writes that word itself; far below 0: the audio says
/// something else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Index into the words the draft was made from.
    pub word: usize,
    pub margin: f32,
}

/// A chunk's decoding: its text, and the verdicts on the transcript words
/// its windows left out (see [`window_verdicts`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub segments: Vec<Segment>,
    pub verdicts: Vec<Verdict>,
}

/// Counts of what the loop did, for tests and measurements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub windows: usize,
    pub decoder_calls: usize,
    pub tokens: usize,
    pub drafted: usize,
    pub accepted: usize,
    pub fallbacks: usize,
    /// Windows of at least 5 s whose every try failed (their last try is
    /// kept), or that decoded speech with a draft but took none of it.
    pub failed_windows: usize,
}

/// The logit filters, for one window.
struct Rules {
    suppressed: Vec<Token>,
    blank: Option<Token>,
    max_initial_ts: Token,
}

/// A token chosen, with the log-probabilities after the rules.
struct Scored {
    logprobs: Vec<f32>,
}

impl Scored {
    fn best(&self, range: Range<usize>) -> (usize, f32) {
        let mut best = (range.start, f32::NEG_INFINITY);
        for i in range {
            if self.logprobs[i] > best.1 {
                best = (i, self.logprobs[i]);
            }
        }
        best
    }
}

impl Rules {
    fn new(vocab: &Vocab, options: &DecodeOptions) -> Self {
        Self {
            suppressed: vocab.suppressed(),
            blank: vocab.blank(),
            // Timestamps are 20 ms apart.
            max_initial_ts: (options.max_initial_ts_s / 0.02).round() as Token,
        }
    }

    /// The log-probabilities of the next token after `tokens` (this
    /// window's, timestamps included), `last_ts` the last timestamp in them.
    fn filter(
        &self,
        vocab: &Vocab,
        row: &[f32],
        tokens: &[Token],
        last_ts: Option<Token>,
        temperature: f32,
    ) -> Scored {
        let n = vocab.n_vocab;
        let mut logits: Vec<f32> = if temperature > 0.0 {
            row[..n].iter().map(|x| x / temperature).collect()
        } else {
            row[..n].to_vec()
        };
        let ninf = f32::NEG_INFINITY;
        let beg = vocab.beg as usize;
        if tokens.is_empty() {
            logits[vocab.eot as usize] = ninf;
            if let Some(b) = self.blank {
                logits[b as usize] = ninf;
            }
        }
        for &t in &self.suppressed {
            logits[t as usize] = ninf;
        }
        let last_was_ts = tokens.last().is_some_and(|&t| vocab.is_timestamp(t));
        let penultimate_was_ts = tokens.len() < 2 || vocab.is_timestamp(tokens[tokens.len() - 2]);
        if last_was_ts {
            if penultimate_was_ts {
                logits[beg..].fill(ninf);
            } else {
                logits[..vocab.eot as usize].fill(ninf);
            }
        }
        if tokens.is_empty() {
            let from = (beg + self.max_initial_ts as usize + 1).min(n);
            logits[from..].fill(ninf);
        }
        // Timestamps never go back, and a new one is later than the last
        // (OpenAI Whisper's rule; whisper.cpp lets a segment end at 0.00).
        if let Some(ts) = last_ts {
            let closing = last_was_ts && !penultimate_was_ts;
            let from = ts as usize + usize::from(!closing);
            logits[beg..from.min(n)].fill(ninf);
        }
        let mut logprobs = log_softmax(&logits);
        // All timestamps together likelier than any text token: a timestamp.
        let ts_logprob = log_sum_exp(&logprobs[beg..]);
        let max_text = logprobs[..beg].iter().copied().fold(ninf, f32::max);
        if ts_logprob > max_text {
            logprobs[..beg].fill(ninf);
        }
        Scored { logprobs }
    }
}

fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let lse = log_sum_exp(logits);
    logits
        .iter()
        .map(|&x| if x == f32::NEG_INFINITY { x } else { x - lse })
        .collect()
}

fn log_sum_exp(xs: &[f32]) -> f32 {
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    let sum: f32 = xs
        .iter()
        .filter(|x| **x > f32::NEG_INFINITY)
        .map(|&x| (x - max).exp())
        .sum();
    max + sum.ln()
}

/// A small deterministic generator for sampling at temperature (SplitMix64):
/// the same chunk always samples the same.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    }

    fn sample(&mut self, logprobs: &[f32]) -> usize {
        let mut u = self.next_f32();
        let mut last = 0;
        for (i, &lp) in logprobs.iter().enumerate() {
            if lp == f32::NEG_INFINITY {
                continue;
            }
            last = i;
            u -= lp.exp();
            if u <= 0.0 {
                return i;
            }
        }
        last
    }
}

/// Of a decoded token: its probability, the draft token it is (if
/// accepted from the draft) and the draft token asked about (see
/// [`DecodedToken::asked`]).
type TokenInfo = (f32, Option<usize>, Option<(usize, f32)>);

/// One window's decoding at one temperature.
struct WindowText {
    tokens: Vec<Token>,
    info: Vec<TokenInfo>,
    /// Per token: the log-probability the window is judged by: the token's,
    /// or for a draft token accepted within the tolerance, the model's best
    /// there (the transcript's choice is no sign of a failing decoder).
    judged: Vec<f32>,
    /// Tokens kept (up to and with the last timestamp, or all at the end).
    result_len: usize,
    /// Where the next window starts, 10-ms units from this one's start.
    seek_delta: usize,
    failed: bool,
    no_speech_prob: f32,
}

impl WindowText {
    fn avg_logprob(&self) -> f32 {
        let sum: f64 = self.judged[..self.result_len]
            .iter()
            .map(|&lp| lp as f64)
            .sum();
        (sum / self.result_len.max(1) as f64) as f32
    }

    fn entropy(&self) -> f32 {
        let tail = &self.tokens[self.result_len.saturating_sub(32)..self.result_len];
        let mut counts = std::collections::HashMap::new();
        for t in tail {
            *counts.entry(*t).or_insert(0usize) += 1;
        }
        counts
            .values()
            .map(|&c| {
                let p = c as f64 / tail.len() as f64;
                -p * p.ln()
            })
            .sum::<f64>() as f32
    }
}

/// Decodes a chunk: the segments of text, with each text token's DTW end
/// time, and (with a draft) each window's verdicts on the transcript words
/// it left out. `draft` is the transcript (if any); `first_temperature` is
/// where the fallback starts (0 for the first try).
pub fn decode_chunk(
    decoder: &mut dyn Decoder,
    draft: Option<&Draft>,
    options: &DecodeOptions,
    first_temperature: f32,
    stats: &mut Stats,
) -> Result<Decoded, String> {
    let vocab = decoder.vocab().clone();
    let rules = Rules::new(&vocab, options);
    let seek_end = decoder.n_frames();
    let mut seek = 0usize;
    let mut past: Vec<Token> = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut cursor: Option<usize> = None;
    let mut rng = Rng(0x5EED);
    let mut windows = 0;
    // 100 ms of audio is too little to decode.
    while seek + 10 < seek_end {
        if windows > 0 {
            let reached = segments
                .iter()
                .flat_map(|s| s.tokens.iter().map(|t| t.end_cs))
                .max()
                .unwrap_or(-1);
            if let Some(stop) = options.stop_after_cs {
                if reached >= stop as i64 {
                    break;
                }
            }
        }
        decoder.encode(seek)?;
        windows += 1;
        stats.windows += 1;
        // A short last window decodes better without the prompt.
        if seek > 0 && seek + 500 >= seek_end {
            past.clear();
        }
        // The tries: as asked; then (with a draft) siding with the
        // transcript wherever the audio allows, as a transcript does not
        // loop; then sampling at rising temperatures.
        let mut tries = vec![(first_temperature, options.tolerance_nats)];
        if draft.is_some() && first_temperature == 0.0 {
            tries.push((0.0, options.fallback_tolerance_nats));
        }
        let mut t = first_temperature + options.temperature_step;
        while options.sample_when_failing && t <= 1.0 + 1e-6 {
            tries.push((t, 0.0));
            t += options.temperature_step;
        }
        let cursor_before = cursor;
        let mut text = None;
        for (n, &(temperature, tolerance)) in tries.iter().enumerate() {
            cursor = cursor_before;
            let attempt = decode_window(
                decoder,
                &vocab,
                &rules,
                if temperature < 0.5 { &past } else { &[] },
                if temperature == 0.0 { draft } else { None },
                &mut cursor,
                (temperature, tolerance),
                (seek, seek_end),
                options,
                &mut rng,
                stats,
            )?;
            let failed = attempt.failed
                || (attempt.result_len > 32 && attempt.entropy() < options.entropy_threshold)
                || (attempt.avg_logprob() < options.logprob_threshold
                    && attempt.no_speech_prob < options.no_speech_threshold);
            text = Some(attempt);
            if !failed {
                break;
            }
            if n + 1 < tries.len() {
                stats.fallbacks += 1;
            } else if (seek_end - seek).min(3000) >= MIN_FAILING_WINDOW_CS {
                stats.failed_windows += 1;
            }
        }
        let text = text.expect("at least one try");
        // A window of speech that took not one token from the transcript
        // has most likely lost its way (tiny.en said "In the United States,
        // the United States was a very important part of the United States."
        // three times over 17 s of other speech); speech that really is not
        // in the transcript decodes as well without the loop.
        let n_text = text.tokens[..text.result_len]
            .iter()
            .filter(|&&t| t < vocab.eot)
            .count();
        let none_taken = text.info.iter().all(|i| i.1.is_none());
        if draft.is_some()
            && n_text >= UNGUIDED_WINDOW_TOKENS
            && none_taken
            && (seek_end - seek).min(3000) >= MIN_FAILING_WINDOW_CS
        {
            stats.failed_windows += 1;
        }
        let no_speech = text.no_speech_prob > options.no_speech_threshold
            && text.avg_logprob() < options.logprob_threshold;
        let mut seek_delta = text.seek_delta;
        let kept = &text.tokens[..text.result_len];
        if !no_speech && !kept.is_empty() {
            past.extend_from_slice(kept);
            let mut window = split_segments(&vocab, kept, &text.info, seek as i64, seek_delta);
            let ids: Vec<Token> = window
                .iter()
                .flat_map(|s| s.tokens.iter().map(|t| t.id))
                .collect();
            if !ids.is_empty() {
                let n_frames = seek_delta.min(3000).min(seek_end - seek);
                let times = decoder.token_times(&ids, n_frames)?;
                for (k, token) in window
                    .iter_mut()
                    .flat_map(|s| s.tokens.iter_mut())
                    .enumerate()
                {
                    let t = times.get(k).copied().unwrap_or(-1);
                    token.end_cs = if t >= 0 { t + seek as i64 } else { -1 };
                }
            }
            segments.append(&mut window);
            if let Some(draft) = draft {
                let info = &text.info[..text.result_len];
                verdicts.extend(window_verdicts(decoder, &vocab, draft, kept, info)?);
            }
        }
        // Ending on a single timestamp: the rest of the window had no speech to decode.
        let n = kept.len();
        if n > 1 && !vocab.is_timestamp(kept[n - 2]) && vocab.is_timestamp(kept[n - 1]) {
            seek_delta = (seek_end - seek).min(3000);
        }
        seek += seek_delta.max(1);
    }
    Ok(Decoded { segments, verdicts })
}

/// The longest run of transcript words left out between two words the
/// loop took that is forced in the model's place. A longer run is a cut
/// sentence or a jump in the transcript, which verification asks about
/// with its own context.
const MAX_FORCED_RUN_WORDS: usize = 4;

/// The decoder's context, in tokens (every Whisper model's).
pub const N_TEXT_CTX: usize = 448;

/// Verdicts on the transcript words a window's decoding left out between
/// two words it took from the draft (heard otherwise, or not at all): the
/// window's text (`tokens`, with each token's `info`), with the
/// transcript's words in place of the model's there, is forced through the
/// decoder over the same encoder output ([`forced_margins`]). The verdict
/// comes at the cost of one decoder batch instead of a second encoder pass
/// over the audio around the word.
fn window_verdicts(
    decoder: &mut dyn Decoder,
    vocab: &Vocab,
    draft: &Draft,
    tokens: &[Token],
    info: &[TokenInfo],
) -> Result<Vec<Verdict>, String> {
    let mut text = vocab.sot_sequence.clone();
    text.push(vocab.not);
    // (position in `text`, transcript word)
    let mut asked: Vec<(usize, usize)> = Vec::new();
    // The model's own tokens since the last one it took from the draft.
    let mut own: Vec<Token> = Vec::new();
    let mut last: Option<usize> = None;
    for (&t, i) in tokens.iter().zip(info) {
        if t >= vocab.eot {
            continue;
        }
        let Some(k) = i.1 else {
            own.push(t);
            continue;
        };
        let left_out = match last {
            Some(prev) if k > prev + 1 => prev + 1..k,
            _ => k..k,
        };
        let run_words = left_out.clone().filter(|&j| draft.starts_word(j)).count();
        if !left_out.is_empty() && run_words <= MAX_FORCED_RUN_WORDS {
            // The model's punctuation before its own words stays: a word
            // is judged, not how the text before it is punctuated.
            if vocab.has_alphanumeric(draft.tokens[left_out.start]) {
                let marks = own.iter().take_while(|&&t| !vocab.has_alphanumeric(t));
                text.extend(marks);
            }
            for j in left_out.clone().filter(|&j| draft.starts_word(j)) {
                let word = draft.word[j];
                let first = (j..left_out.end)
                    .take_while(|&x| draft.word[x] == word)
                    .find(|&x| vocab.has_alphanumeric(draft.tokens[x]));
                if let Some(x) = first {
                    asked.push((text.len() + x - left_out.start, word));
                }
            }
            text.extend_from_slice(&draft.tokens[left_out]);
        } else {
            text.append(&mut own);
        }
        own.clear();
        text.push(t);
        last = Some(k);
    }
    asked.retain(|&(p, _)| p < N_TEXT_CTX);
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    let positions: Vec<usize> = asked.iter().map(|a| a.0).collect();
    let margins = forced_margins(decoder, &text, &positions, true)?;
    Ok(asked
        .iter()
        .zip(margins)
        .map(|(&(_, word), margin)| Verdict { word, margin })
        .collect())
}

/// Teacher forcing over the encoded window: `text` goes through the
/// decoder from its start, and for each position in `asked` (ascending,
/// none 0) the margin of the text from there comes back (see [`Verdict`]):
/// the best logit of a token that starts that text (the token there, or
/// another piece of at least half the same word: " with" for " withdrew")
/// less the best of all text tokens and, with `end_competes`, the end of
/// text (over silence, the end of text is the model's first choice
/// everywhere, and says nothing about the text). The text up to each asked token
/// goes through in one batch from where the last stopped (the decoder keeps
/// the rest), with the logits of its last position only: one vocabulary row
/// per asked token, not per token.
pub fn forced_margins(
    decoder: &mut dyn Decoder,
    text: &[Token],
    asked: &[usize],
    end_competes: bool,
) -> Result<Vec<f32>, String> {
    let vocab = decoder.vocab().clone();
    let eot = vocab.eot as usize;
    let mut margins = Vec::with_capacity(asked.len());
    let mut done = 0;
    for &p in asked {
        // The text from p to the end of its word.
        let mut said = vocab.text(text[p]).to_vec();
        for &t in text[p + 1..].iter().take_while(|&&t| t < vocab.eot) {
            if vocab.text(t).first() == Some(&b' ') {
                break;
            }
            said.extend_from_slice(vocab.text(t));
        }
        let segment = &text[done..p];
        let row = decoder.decode(segment, done, segment.len() - 1)?;
        // The model may write text or end the text, nothing else.
        let row = &row[..=eot];
        let competing = if end_competes { row } else { &row[..eot] };
        let best = competing.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // A piece counts when it holds at least half the word's letters:
        // " a" starts " accompany" too, but says a word of its own.
        let letters = |b: &[u8]| {
            b.iter()
                .filter(|c| c.is_ascii_alphanumeric() || **c >= 0x80)
                .count()
        };
        let starts_said = |t: usize| {
            let piece = &vocab.bytes[t];
            !piece.is_empty() && said.starts_with(piece) && 2 * letters(piece) >= letters(&said)
        };
        let word = (0..eot)
            .filter(|&t| starts_said(t))
            .map(|t| row[t])
            .fold(row[text[p] as usize], f32::max);
        margins.push(word - best);
        done = p;
    }
    Ok(margins)
}

/// Splits a window's tokens into segments at its timestamps; times in 10-ms
/// units from the chunk's start (`seek` is the window's).
fn split_segments(
    vocab: &Vocab,
    tokens: &[Token],
    info: &[TokenInfo],
    seek: i64,
    seek_delta: usize,
) -> Vec<Segment> {
    let ts_cs = |t: Token| seek + 2 * (t - vocab.beg) as i64;
    let mut segments = Vec::new();
    let mut current = Segment {
        start_cs: tokens.first().map_or(seek, |&t| ts_cs(t.max(vocab.beg))),
        end_cs: seek,
        tokens: Vec::new(),
    };
    for (i, &t) in tokens.iter().enumerate() {
        if vocab.is_timestamp(t) {
            if !current.tokens.is_empty() {
                current.end_cs = ts_cs(t);
                let start = current.end_cs;
                segments.push(std::mem::replace(
                    &mut current,
                    Segment {
                        start_cs: start,
                        end_cs: start,
                        tokens: Vec::new(),
                    },
                ));
            } else {
                current.start_cs = ts_cs(t);
            }
        } else if t < vocab.eot {
            let (p, draft, asked) = info[i];
            current.tokens.push(DecodedToken {
                id: t,
                p,
                draft,
                asked,
                end_cs: -1,
            });
        }
    }
    if !current.tokens.is_empty() {
        current.end_cs = seek + seek_delta as i64;
        segments.push(current);
    }
    segments
}

/// Greedy (or sampled) decoding of the encoded window, with the draft.
#[allow(clippy::too_many_arguments)]
fn decode_window(
    decoder: &mut dyn Decoder,
    vocab: &Vocab,
    rules: &Rules,
    past: &[Token],
    draft: Option<&Draft>,
    cursor: &mut Option<usize>,
    (temperature, tolerance): (f32, f32),
    (seek, seek_end): (usize, usize),
    options: &DecodeOptions,
    rng: &mut Rng,
    stats: &mut Stats,
) -> Result<WindowText, String> {
    // The prompt: the earlier text (at most half the context), then the SOT sequence.
    let mut prompt = Vec::new();
    let max_past = 224 - 1; // whisper.cpp: n_text_ctx / 2, less <|prev|>
    if !past.is_empty() {
        prompt.push(vocab.prev);
        prompt.extend_from_slice(&past[past.len().saturating_sub(max_past)..]);
    }
    let i_sot = prompt.len();
    prompt.extend_from_slice(&vocab.sot_sequence);
    let n = vocab.n_vocab;
    let rows = decoder.decode(&prompt, 0, i_sot)?;
    stats.decoder_calls += 1;
    let no_speech_prob = {
        let sot_row = &rows[..n];
        (sot_row[vocab.nosp as usize] - log_sum_exp(sot_row)).exp()
    };
    let mut row: Vec<f32> = rows[rows.len() - n..].to_vec();
    let mut n_past = prompt.len();

    let mut text = WindowText {
        tokens: Vec::new(),
        info: Vec::new(),
        judged: Vec::new(),
        result_len: 0,
        seek_delta: 3000,
        failed: false,
        no_speech_prob,
    };
    let mut last_ts: Option<Token> = None;
    let mut has_ts = false;
    let mut text_tokens: Vec<Token> = Vec::new();
    let n_max = 224 - 4;
    // The draft token the model refused last (its index, its margin, and
    // whether the text before it was the transcript's): the token the
    // model takes instead says how the draft goes on.
    let mut rejected: Option<(usize, f32, bool)> = None;
    // Where the draft stands inside a token the model is writing in other
    // pieces (see [`Draft::advance`]).
    let mut inside: Option<(usize, usize)> = None;

    // Appends a token; returns true when the window is done.
    let push = |text: &mut WindowText,
                text_tokens: &mut Vec<Token>,
                token: Token,
                (logprob, judged): (f32, f32),
                draft_index: Option<usize>,
                asked: Option<(usize, f32)>,
                last_ts: &mut Option<Token>,
                has_ts: &mut bool|
     -> bool {
        let i = text.tokens.len();
        text.tokens.push(token);
        text.info.push((logprob.exp(), draft_index, asked));
        text.judged.push(judged);
        if token < vocab.eot {
            text_tokens.push(token);
        }
        if token >= vocab.beg {
            *last_ts = Some(token);
        }
        if token > vocab.beg {
            let delta = 2 * (token - vocab.beg) as usize;
            text.seek_delta = delta;
            text.result_len = i + 1;
            *has_ts = true;
        }
        let end_of_audio = *has_ts && seek + text.seek_delta + 10 >= seek_end;
        if token == vocab.eot || end_of_audio {
            if text.result_len == 0 {
                if seek + text.seek_delta + 10 >= seek_end {
                    text.result_len = i + 1;
                } else {
                    text.failed = true;
                }
            }
            return true;
        }
        false
    };

    // Draft tokens proposed next: all the options allow after a proposal
    // taken whole, 2 more than were taken after a refusal. Every row of a
    // batch costs a vocabulary's logits; at 16 always, 48% of the rows on
    // the first 10 minutes of the sample were drafts refused or after a
    // refusal (1.3x the rows of this rule for 0.85x the decoder calls).
    let mut lookahead = options.draft_tokens;
    let mut i = 0;
    while i < n_max {
        // The model's own token.
        let scored = rules.filter(vocab, &row, &text.tokens, last_ts, temperature);
        let token = if temperature > 0.0 {
            rng.sample(&scored.logprobs)
        } else {
            scored.best(0..n).0
        } as Token;
        let lp = scored.logprobs[token as usize];
        let mut rejected_k = rejected.take();
        // The model writing the draft's text in other pieces: no refusal,
        // and where it starts a transcript word, the word is taken.
        let mut resume = None;
        let mut taken = None;
        if let (Some(d), Some((k, offset))) =
            (draft, rejected_k.map(|(k, _, _)| (k, 0)).or(inside.take()))
        {
            // (Or the draft token before it, not yet written: after a word
            // the model added, it goes on with the transcript's.)
            let before = k
                .checked_sub(1)
                .filter(|&b| offset == 0 && cursor.is_none_or(|c| b >= c));
            let advanced = d
                .advance(vocab, k, offset, token)
                .map(|to| (k, to))
                .or_else(|| before.and_then(|b| d.advance(vocab, b, 0, token).map(|to| (b, to))));
            // Taken: the model's token holds the word's whole first token
            // (" gangster" for " gang" "sters"; not " the" for " them").
            if let Some((from, (to, _))) = advanced {
                if offset == 0 && to > from && d.starts_word(from) && vocab.starts_word(token) {
                    taken = Some((from, lp - scored.best(0..n).1));
                }
            }
            match advanced.map(|(_, to)| to) {
                Some((k, 0)) => {
                    resume = Some(k);
                    rejected_k = None;
                }
                Some(partway) => {
                    inside = Some(partway);
                    rejected_k = None;
                }
                None => {}
            }
        }
        // A verdict on a transcript word: the model wrote another word where
        // the word starts (where verification judges a word too), with the
        // transcript's text before it. Punctuation the model adds, or a
        // word after text of its own, says nothing about the word.
        let asked = match (draft, rejected_k) {
            (Some(d), Some((k, margin, true))) if d.starts_word(k) && vocab.starts_word(token) => {
                Some((k, margin))
            }
            _ => taken,
        };
        i += 1;
        stats.tokens += 1;
        if push(
            &mut text,
            &mut text_tokens,
            token,
            (lp, lp),
            None,
            asked,
            &mut last_ts,
            &mut has_ts,
        ) {
            return Ok(finish(text));
        }
        // The draft after it, if the transcript has one here. After a
        // refusal: past the draft token the model wrote instead (the
        // transcript had one token more), at the refused token again (the
        // model added punctuation, or is writing a word of its own in a
        // transcript word's place), or past the refused token (or word: a
        // word heard otherwise). After a timestamp that opens a segment:
        // where the draft was. Else: where the text so far is found in the transcript,
        // unless that is right after a sentence's end (where the model is
        // likely to write a timestamp first).
        let n_tokens = text.tokens.len();
        let opens_segment = vocab.is_timestamp(token)
            && (n_tokens == 1 || vocab.is_timestamp(text.tokens[n_tokens - 2]));
        let at = match (draft, rejected_k) {
            _ if resume.is_some() => resume,
            _ if inside.is_some() => None,
            (Some(d), Some((k, _, agreed))) if token < vocab.eot => {
                let word_refused = d.starts_word(k);
                if d.tokens.get(k + 1) == Some(&token) {
                    Some(k + 2)
                } else if !vocab.starts_word(token)
                    && (word_refused || !vocab.has_alphanumeric(token))
                {
                    // Punctuation the model added, or the rest of a word
                    // it writes in a transcript word's place: the word
                    // refused may come after it.
                    Some(k)
                } else if agreed && word_refused && vocab.starts_word(token) {
                    // A word heard otherwise: the transcript's next word
                    // may come after it (once the model's word is done).
                    Some(d.next_word(k))
                } else if agreed {
                    Some(k + 1)
                } else {
                    d.next_after(vocab, &text_tokens, *cursor)
                }
            }
            (Some(d), None) if token < vocab.eot => d
                .next_after(vocab, &text_tokens, *cursor)
                .filter(|&at| at == 0 || !d.ends_sentence[at - 1]),
            (Some(_), _) if opens_segment => *cursor,
            _ => None,
        };
        let proposal = match (draft, at) {
            (Some(d), Some(at)) => d.proposal(at, lookahead),
            _ => Vec::new(),
        };
        let mut batch = vec![token];
        batch.extend(proposal.iter().map(|&(_, t)| t));
        let rows = decoder.decode(&batch, n_past, 0)?.to_vec();
        stats.decoder_calls += 1;
        n_past += 1;
        stats.drafted += proposal.len();
        let mut next_row = batch.len() - 1;
        for (j, &(k, t)) in proposal.iter().enumerate() {
            let scored = rules.filter(vocab, &rows[j * n..(j + 1) * n], &text.tokens, last_ts, 0.0);
            let (best, best_lp) = scored.best(0..n);
            let lp = scored.logprobs[t as usize];
            let best_is_text = (best as Token) < vocab.eot;
            let accept = t == best as Token
                || (best_is_text && lp > f32::NEG_INFINITY && lp >= best_lp - tolerance);
            if !accept || i >= n_max {
                next_row = j;
                if best_is_text {
                    let agreed = draft.is_some_and(|d| d.agrees(vocab, &text_tokens, k));
                    rejected = Some((k, lp - best_lp, agreed));
                }
                break;
            }
            i += 1;
            stats.tokens += 1;
            stats.accepted += 1;
            *cursor = Some(k + 1);
            n_past += 1;
            if push(
                &mut text,
                &mut text_tokens,
                t,
                (lp, best_lp),
                Some(k),
                Some((k, lp - best_lp)),
                &mut last_ts,
                &mut has_ts,
            ) {
                return Ok(finish(text));
            }
        }
        row.copy_from_slice(&rows[next_row * n..(next_row + 1) * n]);
        if !proposal.is_empty() {
            lookahead = if next_row == proposal.len() {
                (lookahead * 2).min(options.draft_tokens)
            } else {
                next_row + 2
            };
        }
    }
    // The context filled up without the window closing: a loop, unless it
    // got far enough into the window.
    if text.result_len == 0 || text.seek_delta < 1500 {
        text.failed = true;
    }
    Ok(finish(text))
}

fn finish(mut text: WindowText) -> WindowText {
    if text.result_len == 0 && !text.failed {
        text.result_len = text.tokens.len();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary of 20 text tokens ("a".."t" with a leading space), then
    /// the specials, then 1501 timestamps.
    fn vocab() -> Vocab {
        let eot = 20;
        let mut bytes: Vec<Vec<u8>> = (0..eot)
            .map(|i| format!(" {}", (b'a' + i as u8) as char).into_bytes())
            .collect();
        bytes[19] = b" ".to_vec();
        Vocab {
            n_vocab: 30 + 1501,
            eot,
            sot: 21,
            translate: 22,
            transcribe: 23,
            solm: 24,
            prev: 25,
            nosp: 26,
            not: 27,
            beg: 30,
            langs: 28..30,
            sot_sequence: vec![21],
            bytes,
        }
    }

    /// A scripted model: after each prefix of `script` (the window's
    /// tokens after the prompt), it strongly prefers the script's next
    /// token, and gives `alt` (if set for that position) a close second.
    struct Scripted {
        vocab: Vocab,
        frames: usize,
        /// Per window: the tokens it says.
        windows: Vec<Vec<Token>>,
        window: usize,
        no_speech: f32,
        /// (position, token, logit below the best) of close seconds.
        seconds: Vec<(usize, Token, f32)>,
        text: Vec<Token>,
        out: Vec<f32>,
        calls: usize,
    }

    impl Scripted {
        fn new(windows: Vec<Vec<Token>>, frames: usize) -> Self {
            Self {
                vocab: vocab(),
                frames,
                windows,
                window: usize::MAX,
                no_speech: -10.0,
                seconds: Vec::new(),
                text: Vec::new(),
                out: Vec::new(),
                calls: 0,
            }
        }

        fn row_after(&self, text: &[Token]) -> Vec<f32> {
            let v = &self.vocab;
            let mut row = vec![-20.0; v.n_vocab];
            // The window's tokens start after the SOT sequence.
            let sot = text.iter().rposition(|&t| t == v.sot);
            let Some(sot) = sot else {
                return row;
            };
            row[v.nosp as usize] = self.no_speech;
            let mut said = &text[sot + 1..];
            let script = &self.windows[self.window.min(self.windows.len() - 1)];
            // Where in the script each said token is: after <|notimestamps|>
            // (forced text), its text tokens only.
            let places: Vec<usize> = if said.first() == Some(&v.not) {
                said = &said[1..];
                (0..script.len()).filter(|&p| script[p] < v.eot).collect()
            } else {
                (0..script.len()).collect()
            };
            // A close second taken counts as the script's token.
            let on_script = said.iter().zip(&places).all(|(a, &p)| {
                *a == script[p] || self.seconds.iter().any(|s| (s.0, s.1) == (p, *a))
            });
            let pos = places.get(said.len()).copied();
            let next = match pos {
                Some(p) if on_script => script[p],
                _ => v.eot,
            };
            row[next as usize] = 10.0;
            for &(p, t, below) in &self.seconds {
                if Some(p) == pos {
                    row[t as usize] = 10.0 - below;
                }
            }
            row
        }
    }

    impl Decoder for Scripted {
        fn vocab(&self) -> &Vocab {
            &self.vocab
        }
        fn n_frames(&self) -> usize {
            self.frames
        }
        fn encode(&mut self, _offset_cs: usize) -> Result<(), String> {
            self.window = self.window.wrapping_add(1);
            Ok(())
        }
        fn decode(
            &mut self,
            tokens: &[Token],
            n_past: usize,
            first: usize,
        ) -> Result<&[f32], String> {
            self.calls += 1;
            self.text.truncate(n_past);
            self.text.extend_from_slice(tokens);
            let start = n_past;
            self.out.clear();
            for i in first..tokens.len() {
                let row = self.row_after(&self.text[..start + i + 1]);
                self.out.extend(row);
            }
            Ok(&self.out)
        }
        fn token_times(&mut self, text: &[Token], _n_frames: usize) -> Result<Vec<i64>, String> {
            Ok((0..text.len() as i64).map(|i| 50 + 30 * i).collect())
        }
    }

    fn ts(v: &Vocab, cs: usize) -> Token {
        v.beg + (cs / 2) as Token
    }

    fn ids(segments: &[Segment]) -> Vec<Token> {
        segments
            .iter()
            .flat_map(|s| s.tokens.iter().map(|t| t.id))
            .collect()
    }

    #[test]
    fn greedy_follows_the_model_and_timestamps_split_segments() {
        let v = vocab();
        // Each window (the script is the same for all) ends on a timestamp
        // pair, so the next starts at its last timestamp, 4 s in.
        let w = vec![
            ts(&v, 0),
            1,
            2,
            3,
            ts(&v, 200),
            ts(&v, 200),
            4,
            5,
            ts(&v, 400),
            ts(&v, 400),
            v.eot,
        ];
        let mut m = Scripted::new(vec![w.clone()], 1000);
        let mut stats = Stats::default();
        let segs = decode_chunk(&mut m, None, &DecodeOptions::default(), 0.0, &mut stats)
            .unwrap()
            .segments;
        assert_eq!(ids(&segs), [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3]);
        assert_eq!((segs[0].start_cs, segs[0].end_cs), (0, 200));
        assert_eq!((segs[1].start_cs, segs[1].end_cs), (200, 400));
        assert_eq!((segs[2].start_cs, segs[2].end_cs), (400, 600));
        // The third window, at 8 s, reaches the end of the audio at its
        // first timestamp (10 s) and stops there.
        assert_eq!(stats.windows, 3, "{stats:?}");
        assert_eq!(segs.len(), 5);
        // DTW times (the fake's: 0.5 s, then every 0.3 s) on the chunk's timeline.
        assert_eq!(segs[0].tokens[0].end_cs, 50);
        assert_eq!(segs[2].tokens[0].end_cs, 450);
        // Ending on a single timestamp means the window has no more speech:
        // the next window starts after it.
        let mut single = w;
        single.remove(9);
        let mut m = Scripted::new(vec![single], 1000);
        let mut stats = Stats::default();
        let segs = decode_chunk(&mut m, None, &DecodeOptions::default(), 0.0, &mut stats)
            .unwrap()
            .segments;
        assert_eq!((stats.windows, segs.len()), (1, 2));
    }

    #[test]
    fn timestamp_rules_pair_and_order_timestamps() {
        let v = vocab();
        let rules = Rules::new(&v, &DecodeOptions::default());
        let flat = vec![0.0; v.n_vocab];
        let allowed = |s: &Scored, t: Token| s.logprobs[t as usize] > f32::NEG_INFINITY;
        // First token: a timestamp of at most 1 s, no end of text, no blank.
        let s = rules.filter(&v, &flat, &[], None, 0.0);
        assert!(!allowed(&s, v.eot) && !allowed(&s, 19));
        assert!(allowed(&s, ts(&v, 100)) && !allowed(&s, ts(&v, 102)));
        // After text then a timestamp: another timestamp or the end, no text.
        let mut row = flat.clone();
        row[v.eot as usize] = 10.0;
        let s = rules.filter(&v, &row, &[ts(&v, 0), 1, ts(&v, 50)], Some(ts(&v, 50)), 0.0);
        assert!(!allowed(&s, 1) && allowed(&s, v.eot) && allowed(&s, ts(&v, 60)));
        // ... and never an earlier one.
        assert!(!allowed(&s, ts(&v, 40)));
        // A segment ends after it starts.
        let s = rules.filter(&v, &row, &[ts(&v, 0), 1], Some(ts(&v, 0)), 0.0);
        assert!(!allowed(&s, ts(&v, 0)) && allowed(&s, ts(&v, 2)));
        // After a pair: text (or end), no third timestamp.
        let t = [ts(&v, 0), 1, ts(&v, 50), ts(&v, 50)];
        let s = rules.filter(&v, &flat, &t, Some(ts(&v, 50)), 0.0);
        assert!(allowed(&s, 1) && !allowed(&s, ts(&v, 60)));
        // Specials are never written.
        for t in [v.sot, v.not, v.prev, v.nosp, v.solm, v.transcribe, 28] {
            assert!(!allowed(&s, t));
        }
        // Timestamps together likelier than the best text token: a timestamp.
        let mut row = vec![0.0; v.n_vocab];
        row[1] = 5.0;
        let s = rules.filter(&v, &row, &[ts(&v, 0), 2], None, 0.0);
        assert!(
            !allowed(&s, 1),
            "1501 timestamps at 0 outweigh one token at 5"
        );
        row[1] = 9.0;
        let s = rules.filter(&v, &row, &[ts(&v, 0), 2], None, 0.0);
        assert!(allowed(&s, 1));
    }

    #[test]
    fn exact_drafts_reproduce_greedy_in_fewer_calls() {
        let v = vocab();
        let said: Vec<Token> = (1..=15).collect();
        let mut w = vec![ts(&v, 0)];
        w.extend(&said);
        w.extend([ts(&v, 600), v.eot]);
        // The transcript has text before and after what this chunk says.
        let draft = Draft {
            tokens: [vec![7, 7, 7], said.clone(), vec![16, 17]].concat(),
            word: (0..20).collect(),
            ends_sentence: vec![false; 20],
        };
        let run = |draft: Option<&Draft>| {
            let mut m = Scripted::new(vec![w.clone()], 600);
            let mut stats = Stats::default();
            let segs = decode_chunk(&mut m, draft, &DecodeOptions::default(), 0.0, &mut stats)
                .unwrap()
                .segments;
            (ids(&segs), segs, m.calls, stats)
        };
        let (plain, _, plain_calls, _) = run(None);
        let (guided, segs, guided_calls, stats) = run(Some(&draft));
        assert_eq!(plain, said);
        assert_eq!(guided, plain, "exact acceptance gives greedy's tokens");
        assert!(
            guided_calls * 2 < plain_calls,
            "{guided_calls} against {plain_calls}"
        );
        assert!(stats.accepted >= 10, "{stats:?}");
        // Accepted tokens know their transcript place.
        let t = &segs[0].tokens;
        assert_eq!(t.last().unwrap().draft, Some(3 + 14));
        assert!(
            t[..4].iter().all(|t| t.draft.is_none()),
            "found from 4 tokens"
        );
    }

    #[test]
    fn a_refused_draft_token_is_recorded_and_decoding_goes_on() {
        let v = vocab();
        // The audio says 1..=12 with 18 in place of 8; the transcript says 8.
        let mut said: Vec<Token> = (1..=12).collect();
        said[7] = 18;
        let mut w = vec![ts(&v, 0)];
        w.extend(&said);
        w.extend([ts(&v, 600), v.eot]);
        let draft = Draft {
            tokens: (1..=12).collect(),
            word: (0..12).collect(),
            ends_sentence: vec![false; 12],
        };
        let mut m = Scripted::new(vec![w.clone()], 600);
        // The transcript's 8 is 3 nats below the audio's 18 there.
        m.seconds.push((8, 8, 3.0));
        let mut stats = Stats::default();
        let segs = decode_chunk(
            &mut m,
            Some(&draft),
            &DecodeOptions::default(),
            0.0,
            &mut stats,
        )
        .unwrap()
        .segments;
        assert_eq!(ids(&segs), said);
        let t = &segs[0].tokens;
        assert_eq!(t[7].id, 18);
        let (k, margin) = t[7].asked.expect("the refusal is recorded");
        assert_eq!(k, 7);
        assert!((margin + 3.0).abs() < 1e-3, "{margin}");
        // After the substitution the draft resumes at once, as the model's best.
        assert_eq!(t[8].draft, Some(8));
        assert_eq!(t[8].asked, Some((8, 0.0)));
        assert_eq!(t[11].draft, Some(11));

        // With a tolerance of 4 nats the transcript's word wins where the
        // audio is that ambiguous, and not where it is clear.
        let mut m = Scripted::new(vec![w.clone()], 600);
        m.seconds.push((8, 8, 3.0));
        let options = DecodeOptions {
            tolerance_nats: 4.0,
            ..Default::default()
        };
        let segs = decode_chunk(&mut m, Some(&draft), &options, 0.0, &mut Stats::default())
            .unwrap()
            .segments;
        assert_eq!(ids(&segs), (1..=12).collect::<Vec<_>>());
        let (k, margin) = segs[0].tokens[7].asked.expect("taken within the tolerance");
        assert_eq!(k, 7);
        assert!((margin + 3.0).abs() < 1e-3, "{margin}");
        let mut m = Scripted::new(vec![w], 600);
        m.seconds.push((8, 8, 6.0));
        let segs = decode_chunk(&mut m, Some(&draft), &options, 0.0, &mut Stats::default())
            .unwrap()
            .segments;
        assert_eq!(ids(&segs), said);
    }

    #[test]
    fn words_left_out_are_forced_over_the_same_window() {
        let v = vocab();
        let draft = Draft {
            tokens: (1..=14).collect(),
            word: (0..14).collect(),
            ends_sentence: vec![false; 14],
        };
        let window =
            |said: &[Token]| [vec![ts(&v, 0)], said.to_vec(), vec![ts(&v, 600), v.eot]].concat();
        let run = |m: &mut Scripted| {
            let mut stats = Stats::default();
            let out = decode_chunk(m, Some(&draft), &DecodeOptions::default(), 0.0, &mut stats);
            (out.unwrap(), stats.windows)
        };
        // The audio says 18 where the transcript says 8 (word 7): the
        // transcript's 8, forced after the window's text, is 3 nats below.
        let mut said: Vec<Token> = (1..=14).collect();
        said[7] = 18;
        let mut m = Scripted::new(vec![window(&said)], 600);
        m.seconds.push((8, 8, 3.0));
        let (out, windows) = run(&mut m);
        assert_eq!(windows, 1, "no second encoder pass");
        assert_eq!(out.verdicts.len(), 1, "{:?}", out.verdicts);
        assert_eq!(out.verdicts[0].word, 7);
        assert!(
            (out.verdicts[0].margin + 3.0).abs() < 1e-3,
            "{:?}",
            out.verdicts
        );
        // Where the audio clearly says 18, the transcript's 8 is refused.
        let mut m = Scripted::new(vec![window(&said)], 600);
        let (out, _) = run(&mut m);
        assert_eq!(out.verdicts.len(), 1);
        assert!(out.verdicts[0].margin < -20.0, "{:?}", out.verdicts);
        // Six words the audio does not have (a cut sentence): left to
        // verification, which hears them with their own context.
        let said: Vec<Token> = [(1..=4).collect::<Vec<_>>(), (11..=14).collect()].concat();
        let mut m = Scripted::new(vec![window(&said)], 600);
        let (out, _) = run(&mut m);
        assert_eq!(ids(&out.segments), said);
        assert!(out.verdicts.is_empty(), "{:?}", out.verdicts);
    }

    #[test]
    fn speech_the_transcript_lacks_decodes_freely() {
        let v = vocab();
        // An ad-lib (tokens 10-14, twice) the transcript does not have, then its text.
        let said: Vec<Token> = [
            vec![1, 2, 3, 4, 5],
            vec![10, 11, 12, 13, 14, 10, 11, 12],
            vec![6, 7, 8, 9],
        ]
        .concat();
        let mut w = vec![ts(&v, 0)];
        w.extend(&said);
        w.extend([ts(&v, 900), v.eot]);
        let draft = Draft {
            tokens: (1..=9).collect(),
            word: (0..9).collect(),
            ends_sentence: vec![false; 9],
        };
        let mut m = Scripted::new(vec![w], 900);
        let mut stats = Stats::default();
        let segs = decode_chunk(
            &mut m,
            Some(&draft),
            &DecodeOptions::default(),
            0.0,
            &mut stats,
        )
        .unwrap()
        .segments;
        assert_eq!(ids(&segs), said);
        let t = &segs[0].tokens;
        assert!(t[5..13].iter().all(|t| t.draft.is_none()));
    }

    #[test]
    fn silence_and_failures_follow_whispers_thresholds() {
        let v = vocab();
        // Likely silence, and text the model is unsure of: no segments.
        let w = vec![ts(&v, 0), 1, 2, ts(&v, 100), v.eot];
        let unsure = |no_speech: f32| {
            let mut m = Scripted::new(vec![w.clone()], 500);
            m.no_speech = no_speech;
            // Ten other tokens as likely as each of the first two: p = 1/11.
            for pos in [1, 2] {
                m.seconds.extend((3..=12).map(|t| (pos, t, 0.0)));
            }
            let mut stats = Stats::default();
            let segs = decode_chunk(&mut m, None, &DecodeOptions::default(), 0.0, &mut stats)
                .unwrap()
                .segments;
            (segs, stats)
        };
        let (segs, stats) = unsure(30.0);
        assert!(segs.is_empty(), "{segs:?}");
        assert_eq!(stats.fallbacks, 0, "silence is not decoded again");
        let (_, stats) = unsure(-10.0);
        assert!(
            stats.fallbacks > 0,
            "speech the model is unsure of is decoded again"
        );
        // A loop that fills the context: fallback to higher temperatures.
        let looping: Vec<Token> = std::iter::once(ts(&v, 0))
            .chain((0..300).map(|i| 1 + (i % 2)))
            .collect();
        let mut m = Scripted::new(vec![looping], 3000);
        let mut stats = Stats::default();
        decode_chunk(&mut m, None, &DecodeOptions::default(), 0.0, &mut stats).unwrap();
        assert_eq!(stats.fallbacks, 5, "0.2 to 1.0: {stats:?}");
    }

    #[test]
    fn a_word_written_in_other_pieces_keeps_the_draft() {
        let mut v = vocab();
        // The draft splits " gorbachev" as " gor" "bachev"; the model may
        // write " gor" "b" "achev", or " gorb" "achev".
        for (t, text) in [
            (1, " gor"),
            (2, "bachev"),
            (3, "b"),
            (4, "achev"),
            (5, " gorb"),
            (6, " he"),
        ] {
            v.bytes[t] = text.as_bytes().to_vec();
        }
        let d = Draft {
            tokens: vec![1, 2, 6],
            word: vec![0, 0, 1],
            ends_sentence: vec![false; 3],
        };
        assert_eq!(d.advance(&v, 1, 0, 3), Some((1, 1)));
        assert_eq!(d.advance(&v, 1, 1, 4), Some((2, 0)));
        assert_eq!(d.advance(&v, 0, 0, 5), Some((1, 1)));
        assert_eq!(d.advance(&v, 1, 0, 4), None);
        assert_eq!(d.advance(&v, 2, 0, 6), Some((3, 0)));
        assert_eq!(d.advance(&v, 3, 0, 6), None, "past the draft's end");
        // Case aside.
        v.bytes[7] = b" He".to_vec();
        assert_eq!(d.advance(&v, 2, 0, 7), Some((3, 0)));
        assert!(v.same_text(6, 7) && !v.same_text(5, 7));
    }

    #[test]
    fn the_place_is_found_from_the_chunks_own_words() {
        let v = vocab();
        let d = Draft {
            tokens: vec![1, 2, 3, 4, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8],
            word: (0..14).collect(),
            ends_sentence: vec![false; 14],
        };
        // Anywhere: the occurrence the earlier text agrees with.
        assert_eq!(d.next_after(&v, &[9, 9, 1, 2, 3, 4], None), Some(10));
        assert_eq!(d.next_after(&v, &[1, 2, 3, 4], None), Some(4));
        assert_eq!(d.next_after(&v, &[2, 3], None), None, "too short to place");
        // Near the cursor, a short match will do.
        assert_eq!(d.next_after(&v, &[8, 7, 5], Some(10)), Some(11));
        assert_eq!(d.next_after(&v, &[8, 7, 6], Some(10)), Some(12));
        assert_eq!(d.next_after(&v, &[3, 3, 3, 13], Some(10)), None);
    }
}
