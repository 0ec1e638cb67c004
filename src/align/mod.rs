//! Alignment: recognized words (the audio's times) <-> published transcript
//! words (the truth for the text).
//!
//! Both sides become normalized comparison tokens. Long sequences are cut at
//! anchors, n-grams that occur exactly once on each side, chained in order
//! (longest increasing chain); the stretches between anchors are aligned with
//! Needleman-Wunsch. Memory stays near-linear: no DP table is larger than
//! `MAX_DP_CELLS`.
//!
//! Every transcript word then gets a status: matched (timed by the word heard),
//! substituted (timed by a different word heard in its place), interpolated
//! (spoken but not recognized; timed between its neighbours), or unspoken
//! (cues, speaker labels, headers, and text the audio never contains).
//! Times are milliseconds on the episode timeline.

pub(crate) mod dp;
pub mod verify;

use std::collections::HashMap;

use crate::transcribe::RecognizedWord;
use crate::transcript::{normalize, Hint, TranscriptWord};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WordStatus {
    Matched,
    Substituted,
    Interpolated,
    #[default]
    Unspoken,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AlignedWord {
    pub text: String,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// How much the time is to be trusted, 0..1 (the recognizer's probability for matched words).
    pub confidence: f32,
    pub status: WordStatus,
    /// What the recognizer heard in this word's place, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heard: Option<String>,
    /// For a word the model was asked about (substituted or interpolated;
    /// see [`verify`]): the
    /// log-probability margin of its first alphanumeric token with the
    /// transcript's text before it, in nats; 0 = the model's own choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<f32>,
    /// The same over silence, where verification asked
    /// ([`crate::transcribe::WordScore`]): what the text alone makes of the word.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin_without_audio: Option<f32>,
    pub char_start: usize,
    pub char_end: usize,
    #[serde(skip)]
    pub line: usize,
    #[serde(skip)]
    pub starts_line: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// The time the transcript writes for this word, in ms
    /// ([`crate::transcript::TranscriptWord::written_ms`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_ms: Option<u64>,
}

/// Speech heard in the audio that the transcript does not contain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnscriptedRegion {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

impl UnscriptedRegion {
    /// Fewer than 4 words. A recognizer that mishears a stretch often hears a
    /// word or three more than were said ("1900 to", "there is Troika"): on
    /// the 45-minute episodes every such insertion had 3 words or fewer,
    /// every inserted sentence 10 or more. Speech this short is kept in the
    /// report but not listed as a disagreement.
    pub fn is_short(&self) -> bool {
        let words = self
            .text
            .split_whitespace()
            .filter(|w| {
                normalize::tokens(w)
                    .iter()
                    .any(|t| !normalize::FILLERS.contains(&t.as_str()))
            })
            .count();
        words < 4
    }
}

/// Transcript text that was not heard (or is never spoken, like cues).
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnspokenSpan {
    pub char_start: usize,
    pub char_end: usize,
    pub text: String,
    pub reason: UnspokenReason,
    /// Where in the audio it would have been.
    pub near_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnspokenReason {
    Cue,
    SpeakerLabel,
    Header,
    /// Before the first or after the last spoken word: page text around the
    /// episode (title, links, footer), not expected in the audio.
    PageText,
    /// Inside the episode, but not in the audio: an edit, a cut sentence.
    NotHeard,
}

/// Transcript words the audio says differently.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Substitution {
    pub start_ms: u64,
    pub end_ms: u64,
    /// The model's verdict on the transcript's words here: `Some(true)` if it
    /// accepts every one (the recognizer slipped), `Some(false)` if it refuses
    /// one (the audio says something else), `None` if not asked.
    pub transcript_verified: Option<bool>,
    /// The transcript words' span in the file, in chars.
    pub char_start: usize,
    pub char_end: usize,
    pub transcript: String,
    pub audio: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Alignment {
    pub words: Vec<AlignedWord>,
    pub unscripted: Vec<UnscriptedRegion>,
    pub unspoken: Vec<UnspokenSpan>,
    pub substitutions: Vec<Substitution>,
}

/// One side's comparison tokens, each pointing back at the words it stands
/// for (more than one when number words become one number: "nineteen seventeen").
struct Tokens {
    text: Vec<String>,
    /// First and last word of each token.
    words: Vec<(usize, usize)>,
}

fn tokenize<'a>(words: impl Iterator<Item = (usize, &'a str)>, drop_fillers: bool) -> Tokens {
    let mut raw = Vec::new();
    let mut raw_word = Vec::new();
    for (i, w) in words {
        for tok in normalize::tokens(w) {
            if drop_fillers && normalize::FILLERS.contains(&tok.as_str()) {
                continue;
            }
            raw.push(tok);
            raw_word.push(i);
        }
    }
    let (text, words) = normalize::spoken_numbers(&raw)
        .into_iter()
        .map(|(t, r)| (t, (raw_word[r.start], raw_word[r.end - 1])))
        .unzip();
    Tokens { text, words }
}

/// Transcript words in a run no recognized word answers are unspoken when
/// there is too little time between their neighbours to have said them.
const MIN_MS_PER_CHAR: u64 = 50;
/// Interpolated words are spread at most this slowly.
const MAX_MS_PER_CHAR: u64 = 80;
/// This many paired tokens in a row with nothing in common are other speech
/// over text the audio does not have (an ad-lib where a sentence was cut).
const LONG_MISMATCH_RUN: usize = 5;
/// A run of this many unheard words with nothing heard opposite was not said.
const LONG_UNHEARD_RUN: usize = 6;

pub fn align(
    transcript: &[TranscriptWord],
    recognized: &[RecognizedWord],
    duration_ms: u64,
    sounding_ms: &[[u64; 2]],
) -> Alignment {
    let eligible = |w: &TranscriptWord| matches!(w.hint, Hint::Text | Hint::TitleLine);
    let t = tokenize(
        transcript
            .iter()
            .enumerate()
            .filter(|(_, w)| eligible(w))
            .map(|(i, w)| (i, w.text.as_str())),
        false,
    );
    // The recognizer's fillers are left out, as most transcripts leave
    // them out; a verbatim transcript that writes them has them matched.
    let verbatim = t
        .text
        .iter()
        .any(|tok| normalize::FILLERS.contains(&tok.as_str()));
    let r = tokenize(
        recognized
            .iter()
            .enumerate()
            .map(|(i, w)| (i, w.text.as_str())),
        !verbatim,
    );
    let t_refs: Vec<&str> = t.text.iter().map(String::as_str).collect();
    let r_refs: Vec<&str> = r.text.iter().map(String::as_str).collect();
    let pairs = drop_lopsided_substitutions(dp::align_tokens(&t_refs, &r_refs), &t.text, &r.text);

    // Per transcript word: the recognized words paired with its tokens.
    let mut paired: Vec<Vec<(usize, bool)>> = vec![Vec::new(); transcript.len()];
    let mut rec_used = vec![false; recognized.len()];
    for &(ti, rj) in &pairs {
        // A spelling difference ("Thursday" for "Tuesday") pairs the words for
        // timing but is a substitution: the model judges it (verify).
        let same = t.text[ti] == r.text[rj];
        let (t0, t1) = t.words[ti];
        let (r0, r1) = r.words[rj];
        // A heading or title line is only ever its own words heard: a
        // misheard word beside it belongs to the speech around it.
        if !same && (t0..=t1).any(|w| transcript[w].hint == Hint::TitleLine) {
            continue;
        }
        for word in t0..=t1 {
            paired[word].extend((r0..=r1).map(|rec| (rec, same)));
        }
        rec_used[r0..=r1].iter_mut().for_each(|u| *u = true);
    }

    let mut words: Vec<AlignedWord> = transcript
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let p = &paired[i];
            let base = AlignedWord {
                text: w.text.clone(),
                start_ms: None,
                end_ms: None,
                confidence: 0.0,
                status: WordStatus::Unspoken,
                heard: None,
                margin: None,
                margin_without_audio: None,
                char_start: w.char_start,
                char_end: w.char_end,
                line: w.line,
                starts_line: w.starts_line,
                speaker: w.speaker.clone(),
                written_ms: w.written_ms,
            };
            if p.is_empty() {
                return base;
            }
            let recs: Vec<&RecognizedWord> = {
                let mut idx: Vec<usize> = p.iter().map(|x| x.0).collect();
                idx.sort_unstable();
                idx.dedup();
                idx.into_iter().map(|j| &recognized[j]).collect()
            };
            let any_same = p.iter().any(|x| x.1);
            let probability = recs.iter().map(|r| r.probability).sum::<f32>() / recs.len() as f32;
            AlignedWord {
                start_ms: recs.iter().map(|r| r.start_ms).min(),
                end_ms: recs.iter().map(|r| r.end_ms).max(),
                confidence: if any_same {
                    probability
                } else {
                    probability * 0.5
                },
                status: if any_same {
                    WordStatus::Matched
                } else {
                    WordStatus::Substituted
                },
                heard: (!any_same).then(|| {
                    recs.iter()
                        .map(|r| r.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                }),
                ..base
            }
        })
        .collect();

    unpair_unsaid_units(transcript, &mut words, &paired, &mut rec_used);

    let mut unspoken_reason: Vec<Option<UnspokenReason>> = transcript
        .iter()
        .map(|w| match w.hint {
            Hint::Cue => Some(UnspokenReason::Cue),
            Hint::SpeakerLabel => Some(UnspokenReason::SpeakerLabel),
            _ => None,
        })
        .collect();

    // Sentence number of each transcript word.
    let sentence_starts_after = |k: usize| {
        k + 1 == transcript.len()
            || transcript[k + 1].starts_line
            || crate::transcript::ends_sentence(&transcript[k].text)
    };
    let sentence_of: Vec<usize> = (0..transcript.len())
        .scan(0, |n, k| {
            let this = *n;
            if sentence_starts_after(k) {
                *n += 1;
            }
            Some(this)
        })
        .collect();

    // A title line inside the episode none of whose words were heard was
    // not read out: a header, apart from the text around it, which is judged
    // on its own. (Before the first heard word and after the last, the runs
    // below take it for page text.)
    let timed = |w: &AlignedWord| w.start_ms.is_some();
    let first_heard = words.iter().position(timed).unwrap_or(words.len());
    let last_heard = words.iter().rposition(timed).unwrap_or(0);
    let mut k = first_heard;
    while k < last_heard {
        let line = transcript[k].line;
        let end = (k..words.len())
            .find(|&j| transcript[j].line != line)
            .unwrap_or(words.len());
        let title: Vec<usize> = (k..end)
            .filter(|&j| transcript[j].hint == Hint::TitleLine)
            .collect();
        if !title.is_empty() && title.iter().all(|&j| !timed(&words[j])) {
            title
                .iter()
                .for_each(|&j| unspoken_reason[j] = Some(UnspokenReason::Header));
        }
        k = end;
    }

    // Runs of eligible, unpaired transcript words: spoken-but-missed or never said?
    let mut i = 0;
    while i < words.len() {
        if timed(&words[i]) || unspoken_reason[i].is_some() {
            i += 1;
            continue;
        }
        // A run reaches over cues and labels inside it ("in [capitalist] property").
        let start = i;
        let mut run = Vec::new();
        while i < words.len() && !timed(&words[i]) {
            match unspoken_reason[i] {
                None => run.push(i),
                Some(UnspokenReason::Cue | UnspokenReason::SpeakerLabel) => {}
                Some(_) => break,
            }
            i += 1;
        }
        let prev = words[..start].iter().rposition(timed);
        let next = words[i..].iter().position(timed).map(|k| k + i);
        // At the episode's edges, the words of the sentence the heard
        // speech starts or ends in are judged apart from the page text
        // around them: they are the episode's first or last words, misheard.
        let split = match (prev, next) {
            (None, Some(n)) => run.iter().position(|&k| sentence_of[k] == sentence_of[n]),
            (Some(p), None) => run.iter().position(|&k| sentence_of[k] != sentence_of[p]),
            _ => None,
        };
        if let Some(at) = split.filter(|&at| at > 0 && at < run.len()) {
            i = run[at];
            run.truncate(at);
        }
        let prev_end = prev.and_then(|k| words[k].end_ms).unwrap_or(0);
        let next_start = next
            .and_then(|k| words[k].start_ms)
            .unwrap_or(duration_ms)
            .max(prev_end);
        // The longest stretch of the gap free of speech the transcript does not
        // have: unheard words would have been said in one piece there.
        let heard_at: Vec<usize> = (0..recognized.len())
            .filter(|&j| {
                let rw = &recognized[j];
                !rec_used[j] && rw.start_ms >= prev_end && rw.end_ms <= next_start
            })
            .collect();
        let heard: Vec<&RecognizedWord> = heard_at.iter().map(|&j| &recognized[j]).collect();
        // Speech in the run's place is the run misheard (an unusual voice, a
        // noisy recording), not other speech, when it sounds like the run, or
        // when it fills a gap inside a sentence whose other words were heard
        // and is about as long: transcripts and edits drop whole sentences,
        // recognizers garble words.
        let run_letters: usize = run.iter().map(|&k| letters(&words[k].text)).sum();
        let heard_letters: usize = heard.iter().map(|rw| letters(&rw.text)).sum();
        let (first, last) = (run[0], run[run.len() - 1]);
        let starts_sentence = first == 0 || sentence_starts_after(first - 1);
        let first_whole = sentence_of[first] + usize::from(!starts_sentence);
        let whole_sentence_in_run =
            first_whole < sentence_of[last] + usize::from(sentence_starts_after(last));
        let heard_around = prev.is_some_and(|k| sentence_of[k] == sentence_of[first])
            || next.is_some_and(|k| sentence_of[k] == sentence_of[last]);
        let fills_sentence_gap = !whole_sentence_in_run
            && heard_around
            && heard_letters * 2 >= run_letters
            && heard_letters <= run_letters * 2;
        if !heard.is_empty()
            && (fills_sentence_gap
                || dp::sounds_alike(
                    run.iter().map(|&k| words[k].text.as_str()),
                    heard.iter().map(|rw| rw.text.as_str()),
                ))
        {
            spread_over_heard(&run, &mut words, &heard);
            heard_at.iter().for_each(|&j| rec_used[j] = true);
            continue;
        }
        let heard_between = heard.len();
        // (start, length) of the longest free stretch.
        let mut free = (prev_end, 0u64);
        let mut cursor_ms = prev_end;
        for end in heard
            .iter()
            .map(|rw| (rw.start_ms, rw.end_ms))
            .chain(std::iter::once((next_start, next_start)))
        {
            let len = end.0.saturating_sub(cursor_ms);
            if len > free.1 {
                free = (cursor_ms, len);
            }
            cursor_ms = cursor_ms.max(end.1);
        }
        let free_ms = free.1;
        let chars: u64 = run
            .iter()
            .map(|&k| words[k].text.chars().count() as u64)
            .sum();
        let all_title = run.iter().all(|&k| transcript[k].hint == Hint::TitleLine);
        let at_edge = prev.is_none() || next.is_none();
        // One or two words inside speech are kept as spoken even without room:
        // the recognizer has most likely merged them into a neighbour.
        let not_said = all_title
            || (free_ms < MIN_MS_PER_CHAR * chars && (run.len() >= 3 || at_edge))
            || (heard_between == 0
                && (run.len() >= LONG_UNHEARD_RUN || (at_edge && run.len() >= 2)));
        if not_said {
            for &k in &run {
                unspoken_reason[k] = Some(if at_edge {
                    UnspokenReason::PageText
                } else if all_title {
                    UnspokenReason::Header
                } else {
                    UnspokenReason::NotHeard
                });
            }
            continue;
        }
        // Spoken but not recognized: spread over the free stretch at a
        // plausible pace, on its sounding part where the audio's levels are
        // known (a filler at a pause is said at its edge, not in its middle).
        let need_ms = MIN_MS_PER_CHAR * chars;
        let (free_start, free_len) = match crate::audio::speech::sounding_part(
            sounding_ms,
            free.0,
            free.0 + free.1,
            need_ms,
        ) {
            Some((a, b)) => (a, b - a),
            None => free,
        };
        let span_ms = free_len.min(MAX_MS_PER_CHAR * chars.max(1));
        let t0 = match (prev, next) {
            (None, _) => free_start + free_len - span_ms,
            (_, None) => free_start,
            _ => free_start + (free_len - span_ms) / 2,
        };
        let mut cursor = 0u64;
        for &k in &run {
            let c = words[k].text.chars().count() as u64;
            let a = t0 + span_ms * cursor / chars.max(1);
            cursor += c;
            let b = t0 + span_ms * cursor / chars.max(1);
            words[k].start_ms = Some(a);
            words[k].end_ms = Some(b.max(a));
            words[k].status = WordStatus::Interpolated;
            words[k].confidence = 0.2;
        }
    }

    verify::take_decoding_verdicts(&mut words, recognized);
    let unspoken = unspoken_spans(transcript, &words, &unspoken_reason);
    let unscripted = unscripted_regions(recognized, &rec_used);
    let substitutions = substitutions(&words);
    Alignment {
        words,
        unscripted,
        unspoken,
        substitutions,
    }
}

/// Letters and digits in a word: its length as said, punctuation aside.
fn letters(word: &str) -> usize {
    word.chars().filter(|c| c.is_alphanumeric()).count()
}

/// Times a run of transcript words over the recognized words heard in its
/// place: each word goes where the same share of the heard letters was said,
/// as a substitution for what was heard there.
fn spread_over_heard(run: &[usize], words: &mut [AlignedWord], heard: &[&RecognizedWord]) {
    let letters = |s: &str| letters(s).max(1) as f64;
    let heard_total: f64 = heard.iter().map(|h| letters(&h.text)).sum();
    let run_total: f64 = run.iter().map(|&k| letters(&words[k].text)).sum();
    // The heard word at a share of the heard letters, and the time there.
    let locate = |share: f64, is_start: bool| -> (usize, u64) {
        let target = share * heard_total;
        let mut before = 0.0;
        for (i, h) in heard.iter().enumerate() {
            let len = letters(&h.text);
            let inside = if is_start {
                target < before + len
            } else {
                target <= before + len
            };
            if inside {
                let f = ((target - before) / len).clamp(0.0, 1.0);
                return (
                    i,
                    h.start_ms + (h.end_ms.saturating_sub(h.start_ms) as f64 * f) as u64,
                );
            }
            before += len;
        }
        let last = heard.len() - 1;
        (last, heard[last].end_ms)
    };
    let mut done = 0.0;
    for &k in run {
        let (first, start_ms) = locate(done / run_total, true);
        done += letters(&words[k].text);
        let (last, end_ms) = locate(done / run_total, false);
        let (first, last) = (first.min(last), last.max(first));
        let these = &heard[first..=last];
        let w = &mut words[k];
        w.start_ms = Some(start_ms);
        w.end_ms = Some(end_ms.max(start_ms));
        w.status = WordStatus::Substituted;
        w.confidence = 0.5 * these.iter().map(|h| h.probability).sum::<f32>() / these.len() as f32;
        w.heard = Some(
            these
                .iter()
                .map(|h| h.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
}

/// A sentence (or a title line) whose words were mostly not heard, and whose
/// few paired words sit in a fraction of the time it takes to say it, was not
/// said: those pairs are chance matches with speech nearby ("the" and
/// "Party" of a sentence cut from the audio, "and" of a section header). Its
/// words are unpaired, for the unheard-run rules to judge, and the recognized
/// words they held are free again.
fn unpair_unsaid_units(
    transcript: &[TranscriptWord],
    words: &mut [AlignedWord],
    paired: &[Vec<(usize, bool)>],
    rec_used: &mut [bool],
) {
    let mut start = 0;
    for end in 1..=transcript.len() {
        let unit_ends = end == transcript.len()
            || transcript[end].starts_line
            || crate::transcript::ends_sentence(&transcript[end - 1].text);
        if !unit_ends {
            continue;
        }
        let unit: Vec<usize> = (start..end)
            .filter(|&k| matches!(transcript[k].hint, Hint::Text | Hint::TitleLine))
            .collect();
        start = end;
        let timed: Vec<usize> = unit
            .iter()
            .copied()
            .filter(|&k| words[k].start_ms.is_some())
            .collect();
        let title = unit.iter().all(|&k| transcript[k].hint == Hint::TitleLine);
        // At most a third of a sentence heard, less than half of a title line.
        let mostly_unheard = if title {
            timed.len() * 2 < unit.len()
        } else {
            timed.len() * 3 <= unit.len()
        };
        if unit.len() < 4 || timed.is_empty() || !mostly_unheard {
            continue;
        }
        let span_ms = timed
            .iter()
            .filter_map(|&k| words[k].end_ms)
            .max()
            .unwrap_or(0)
            - timed
                .iter()
                .filter_map(|&k| words[k].start_ms)
                .min()
                .unwrap_or(0);
        let chars: u64 = unit
            .iter()
            .map(|&k| words[k].text.chars().count() as u64)
            .sum();
        if span_ms * 2 >= MIN_MS_PER_CHAR * chars {
            continue;
        }
        for &k in &timed {
            let w = &mut words[k];
            w.start_ms = None;
            w.end_ms = None;
            w.confidence = 0.0;
            w.status = WordStatus::Unspoken;
            w.heard = None;
            for &(rec, _) in &paired[k] {
                rec_used[rec] = false;
            }
        }
    }
}

/// Between two matched tokens, mismatched pairs only mean "said differently"
/// when both sides have about as many tokens. When one side is much longer
/// (a sentence cut from the audio, an ad-lib over a dropped passage), the
/// pairs are chance: drop them, so the text is reported as unspoken and the
/// speech as unscripted.
fn drop_lopsided_substitutions(
    pairs: Vec<(usize, usize)>,
    t: &[String],
    r: &[String],
) -> Vec<(usize, usize)> {
    // A misheard word ("leech" for "leeched") breaks a run of mismatches.
    let is_match = |&(i, j): &(usize, usize)| dp::resembles(&t[i], &r[j]);
    let mut keep = vec![true; pairs.len()];
    let mut k = 0;
    while k < pairs.len() {
        if is_match(&pairs[k]) {
            k += 1;
            continue;
        }
        let first = k;
        while k < pairs.len() && !is_match(&pairs[k]) {
            k += 1;
        }
        let (t_lo, r_lo) = if first == 0 {
            (0, 0)
        } else {
            (pairs[first - 1].0 + 1, pairs[first - 1].1 + 1)
        };
        let (t_hi, r_hi) = if k == pairs.len() {
            (t.len(), r.len())
        } else {
            (pairs[k].0, pairs[k].1)
        };
        let (nt, nr) = (t_hi - t_lo, r_hi - r_lo);
        // A long stretch with nothing in common is other speech, not mishearing.
        if nt.max(nr) > 2 * nt.min(nr) + 2 || k - first >= LONG_MISMATCH_RUN {
            keep[first..k].iter_mut().for_each(|x| *x = false);
        }
    }
    pairs
        .into_iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(p))
        .collect()
}

fn unspoken_spans(
    transcript: &[TranscriptWord],
    words: &[AlignedWord],
    reasons: &[Option<UnspokenReason>],
) -> Vec<UnspokenSpan> {
    let mut spans: Vec<UnspokenSpan> = Vec::new();
    for (k, reason) in reasons.iter().enumerate() {
        let Some(reason) = *reason else { continue };
        let near_ms = words[..k].iter().rev().find_map(|w| w.end_ms).unwrap_or(0);
        let w = &transcript[k];
        match spans.last_mut() {
            Some(s)
                if s.reason == reason
                    && k > 0
                    && reasons[k - 1] == Some(reason)
                    && transcript[k - 1].line == w.line =>
            {
                s.char_end = w.char_end;
                s.text.push(' ');
                s.text.push_str(&w.text);
            }
            _ => spans.push(UnspokenSpan {
                char_start: w.char_start,
                char_end: w.char_end,
                text: w.text.clone(),
                reason,
                near_ms,
            }),
        }
    }
    spans
}

fn unscripted_regions(recognized: &[RecognizedWord], used: &[bool]) -> Vec<UnscriptedRegion> {
    let mut out = Vec::new();
    let mut run: Vec<&RecognizedWord> = Vec::new();
    let flush = |run: &mut Vec<&RecognizedWord>, out: &mut Vec<UnscriptedRegion>| {
        let content: Vec<&&RecognizedWord> = run
            .iter()
            .filter(|w| {
                let toks = normalize::tokens(&w.text);
                !toks.is_empty()
                    && !toks
                        .iter()
                        .all(|t| normalize::FILLERS.contains(&t.as_str()))
            })
            .collect();
        if content.len() >= 2 {
            out.push(UnscriptedRegion {
                start_ms: run[0].start_ms,
                end_ms: run[run.len() - 1].end_ms,
                text: run
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
        run.clear();
    };
    for (w, &u) in recognized.iter().zip(used) {
        if u {
            flush(&mut run, &mut out);
        } else {
            run.push(w);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Drops the unscripted regions that are the recognizer's other reading of
/// transcript words the model confirmed there: a region that overlaps a
/// substituted or interpolated word whose text stands ([`verdict`]) is
/// speech the transcript has ("Mail and Kong, cruise" over "Malenkov,
/// Khrushchev", accepted when asked).
pub fn drop_confirmed_unscripted(unscripted: &mut Vec<UnscriptedRegion>, words: &[AlignedWord]) {
    let confirmed: Vec<(u64, u64)> = words
        .iter()
        .filter(|w| verdict(w) == Some(true))
        .filter_map(|w| Some((w.start_ms?, w.end_ms?)))
        .collect();
    unscripted.retain(|u| {
        !confirmed
            .iter()
            .any(|&(a, b)| a < u.end_ms && u.start_ms < b)
    });
}

/// Whether a word's transcript text stands, if the model was asked: the
/// model accepts it ([`verify::MAX_REFUSED_MARGIN`]), or the audio hardly
/// lowers it from what the text alone makes of it
/// ([`verify::MAX_REFUSED_AUDIO_SHIFT`]): a word the model hardly knows
/// ("Bonapartism", heard as "rhythm", -12.0 nats with the audio and -10.7
/// without), not a word the audio contradicts.
pub fn verdict(w: &AlignedWord) -> Option<bool> {
    let m = w.margin?;
    let shift = w.margin_without_audio.map(|without| m - without);
    Some(
        m >= verify::MAX_REFUSED_MARGIN
            || shift.is_some_and(|s| s >= verify::MAX_REFUSED_AUDIO_SHIFT),
    )
}

/// Runs of substituted words (across unspoken ones) as disagreements, and
/// interpolated words the model refuses (the recognizer heard nothing there,
/// and the model hears something other than the transcript: `audio` empty).
pub fn substitutions(words: &[AlignedWord]) -> Vec<Substitution> {
    let mut out: Vec<Substitution> = Vec::new();
    let mut prev_sub = false;
    for w in words {
        let is_sub = w.status == WordStatus::Substituted
            || (w.status == WordStatus::Interpolated && verdict(w) == Some(false));
        if is_sub {
            let heard = w.heard.clone().unwrap_or_default();
            match out.last_mut() {
                Some(s) if prev_sub => {
                    s.transcript.push(' ');
                    s.transcript.push_str(&w.text);
                    if !heard.is_empty() && !s.audio.ends_with(&heard) {
                        if !s.audio.is_empty() {
                            s.audio.push(' ');
                        }
                        s.audio.push_str(&heard);
                    }
                    s.end_ms = w.end_ms.unwrap_or(s.end_ms);
                    s.char_end = w.char_end;
                    s.transcript_verified = match (s.transcript_verified, verdict(w)) {
                        (Some(false), _) | (_, Some(false)) => Some(false),
                        (Some(true), Some(true)) => Some(true),
                        _ => None,
                    };
                }
                _ => out.push(Substitution {
                    start_ms: w.start_ms.unwrap_or(0),
                    end_ms: w.end_ms.unwrap_or(0),
                    transcript_verified: verdict(w),
                    char_start: w.char_start,
                    char_end: w.char_end,
                    transcript: w.text.clone(),
                    audio: heard,
                }),
            }
        }
        if w.status != WordStatus::Unspoken {
            prev_sub = is_sub;
        }
    }
    out
}

/// Words of the recognizer as aligned words (no transcript): every word "matched" to itself.
pub fn from_recognized(recognized: &[RecognizedWord]) -> Alignment {
    let mut text = String::new();
    let mut words = Vec::new();
    for w in recognized {
        if !text.is_empty() {
            text.push(' ');
        }
        let start = text.chars().count();
        text.push_str(&w.text);
        words.push(AlignedWord {
            text: w.text.clone(),
            start_ms: Some(w.start_ms),
            end_ms: Some(w.end_ms),
            confidence: w.probability,
            status: WordStatus::Matched,
            heard: None,
            margin: None,
            margin_without_audio: None,
            char_start: start,
            char_end: start + w.text.chars().count(),
            line: 0,
            starts_line: false,
            speaker: None,
            written_ms: None,
        });
    }
    Alignment {
        words,
        unscripted: Vec::new(),
        unspoken: Vec::new(),
        substitutions: Vec::new(),
    }
}

/// A written time is out of step when its word is heard this much earlier
/// or later than the written time before it put it (the first one: than it
/// says). Transcript tools write whole seconds.
pub const WRITTEN_TIME_STEP_MS: i64 = 5_000;

/// A place where the transcript's written times stop matching the audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenTimeShift {
    /// When the word after the written time is heard.
    pub heard_ms: u64,
    pub written_ms: u64,
    /// `heard_ms - written_ms`: how far the transcript's times run behind
    /// the audio from here (negative: ahead of it).
    pub offset_ms: i64,
}

/// Where the transcript's times stop matching the audio: each written time
/// whose word (timed from the audio) is heard more than
/// [`WRITTEN_TIME_STEP_MS`] away from where the offset of the written time
/// before it puts it. An ad inserted or cut, or an edit, shifts every time
/// after it: one place, not one per label.
pub fn written_time_shifts(words: &[AlignedWord]) -> Vec<WrittenTimeShift> {
    let mut shifts = Vec::new();
    let mut offset_ms = 0i64;
    for w in words {
        let (Some(written_ms), Some(heard_ms)) = (w.written_ms, w.start_ms) else {
            continue;
        };
        if !matches!(w.status, WordStatus::Matched | WordStatus::Substituted) {
            continue;
        }
        let offset = heard_ms as i64 - written_ms as i64;
        if (offset - offset_ms).abs() > WRITTEN_TIME_STEP_MS {
            shifts.push(WrittenTimeShift {
                heard_ms,
                written_ms,
                offset_ms: offset,
            });
        }
        offset_ms = offset;
    }
    shifts
}

/// Counts of each status.
pub fn status_counts(words: &[AlignedWord]) -> HashMap<WordStatus, usize> {
    let mut m = HashMap::new();
    for w in words {
        *m.entry(w.status).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::split_words;

    fn rec(words: &[(&str, u64)]) -> Vec<RecognizedWord> {
        words
            .iter()
            .map(|&(t, s)| RecognizedWord {
                text: t.into(),
                start_ms: s,
                end_ms: s + 300,
                probability: 0.9,
                ..Default::default()
            })
            .collect()
    }

    /// Recognized words for `text` spoken at 500 ms per word (300 ms each) from `t0_ms`.
    fn speak(text: &str, t0_ms: u64) -> Vec<RecognizedWord> {
        let ws: Vec<(&str, u64)> = text
            .split(' ')
            .enumerate()
            .map(|(i, w)| (w, t0_ms + 500 * i as u64))
            .collect();
        rec(&ws)
    }

    /// (transcript word, status) of each word.
    fn statuses(a: &Alignment) -> Vec<(&str, WordStatus)> {
        a.words
            .iter()
            .map(|w| (w.text.as_str(), w.status))
            .collect()
    }

    #[test]
    fn a_heading_never_takes_the_place_of_a_misheard_word() {
        let t = split_words("We talked about the economy.\nChapter 3: Markets\nThen prices rose.");
        // "economy" misheard as a word that resembles the heading's.
        let r = speak("we talked about the market then prices rose", 0);
        let a = align(&t, &r, 10_000, &[]);
        let status = |w: &str| a.words.iter().find(|x| x.text == w).unwrap().status;
        for heading in ["Chapter", "3:", "Markets"] {
            assert_eq!(status(heading), WordStatus::Unspoken, "{heading}");
        }
        assert_ne!(
            status("economy."),
            WordStatus::Unspoken,
            "{:?} {:?}",
            statuses(&a),
            a.unscripted
        );
        let captions: String = crate::captions::build_cues(&a.words, &Default::default())
            .iter()
            .map(|c| c.text() + "\n")
            .collect();
        assert!(captions.contains("economy."), "{captions}");
        assert!(!captions.contains("Markets"), "{captions}");
    }

    #[test]
    fn a_garbled_sentence_that_sounds_like_the_text_was_said() {
        // Nothing in the middle sentence was recognized right, but it sounds alike.
        let t = split_words(
            "They met in the hall. Are Stalinism, Leninism, Trotskyism, and Bolshevism alike? We will see.",
        );
        let mut r = speak("they met in the hall", 0);
        r.extend(speak(
            "a stalin in a minimum trots kingdom im paul shimism them",
            2600,
        ));
        r.extend(speak("we will see", 8200));
        let a = align(&t, &r, 10_000, &[]);
        let middle = &a.words[5..12];
        assert!(
            middle.iter().all(|w| w.status == WordStatus::Substituted),
            "{:?}",
            statuses(&a)
        );
        // In order, inside the garbled speech.
        assert!(middle.windows(2).all(|p| p[0].start_ms <= p[1].start_ms));
        assert!(middle[0].start_ms >= Some(2600) && middle[6].end_ms <= Some(8100));
        assert!(a.unscripted.is_empty(), "{:?}", a.unscripted);
        assert!(!a.substitutions.is_empty());
    }

    #[test]
    fn a_garbled_stretch_inside_a_heard_sentence_was_said() {
        let t = split_words(
            "My name is John Peterson, I'm the executive editor of Socialist Revolution magazine.",
        );
        let r = speak(
            "my name is john peterson and i make you to make it on socialist revolution magazine",
            0,
        );
        let a = align(&t, &r, 9000, &[]);
        assert!(
            a.words.iter().all(|w| w.start_ms.is_some()),
            "{:?}",
            statuses(&a)
        );
        assert!(a.unscripted.is_empty(), "{:?}", a.unscripted);
    }

    #[test]
    fn a_word_the_recognizer_left_out_is_placed_where_the_audio_sounds() {
        // "um" is said right after "said", then a long pause; Whisper wrote
        // no "um".
        let t = split_words("And then he said um that was it.");
        let mut r = rec(&[("and", 1000), ("then", 1500), ("he", 2000), ("said", 2500)]);
        r.extend(rec(&[("that", 6000), ("was", 6500), ("it", 7000)]));
        let sounding = [[1000, 2800], [2900, 3200], [6000, 7300]];
        let um = |a: &Alignment| a.words.iter().find(|w| w.text == "um").unwrap().clone();
        let placed = um(&align(&t, &r, 8000, &sounding));
        assert_eq!(placed.status, WordStatus::Interpolated);
        assert!(
            placed.start_ms >= Some(2900) && placed.end_ms <= Some(3200),
            "{placed:?}"
        );
        // Without the audio's levels, in the middle of the gap.
        let middle = um(&align(&t, &r, 8000, &[]));
        assert!(middle.start_ms > Some(4000), "{middle:?}");
    }

    #[test]
    fn matches_and_interpolates_and_drops_cues() {
        let t = split_words("[Theme Music]\nHello everyone, welcome to the show.\nSection Two\nWe talk about things.");
        let r = speak("hello everyone welcome to show we talk about things", 5000);
        let a = align(&t, &r, 20_000, &[]);
        let st = |s: &str| a.words.iter().find(|w| w.text == s).unwrap();
        assert_eq!(st("[Theme").status, WordStatus::Unspoken);
        assert_eq!(st("Hello").status, WordStatus::Matched);
        assert_eq!(st("Hello").start_ms, Some(5000));
        assert_eq!(st("things.").start_ms, Some(9000));
        assert_eq!(st("Section").status, WordStatus::Unspoken);
        // "the" was not recognized: it lies between "to" and "show".
        let the = st("the");
        assert_eq!(the.status, WordStatus::Interpolated);
        assert!(
            the.start_ms.unwrap() >= 6800 && the.end_ms.unwrap() <= 7000,
            "{the:?}"
        );
        assert!(a
            .unspoken
            .iter()
            .any(|s| s.reason == UnspokenReason::Header && s.text == "Section Two"));
    }

    #[test]
    fn unscripted_speech_and_substitutions_are_reported() {
        let t = split_words(
            "The quick brown fox jumps over the lazy dog. It was a sunny day in the park.",
        );
        let mut r = speak("the quick brown cat jumps over the lazy dog", 0);
        r.extend(speak("buy our sponsor's chairs today", 5000));
        r.extend(speak("it was a sunny day in the park", 8000));
        let a = align(&t, &r, 12_000, &[]);
        assert_eq!(a.unscripted.len(), 1, "{:?}", a.unscripted);
        assert_eq!(a.unscripted[0].text, "buy our sponsor's chairs today");
        assert_eq!(a.unscripted[0].start_ms, 5000);
        assert_eq!(a.substitutions.len(), 1);
        assert_eq!(a.substitutions[0].transcript, "fox");
        assert_eq!(a.substitutions[0].audio, "cat");
        assert!(a.words.iter().all(|w| w.status != WordStatus::Unspoken));
    }

    #[test]
    fn numbers_match_however_they_are_written() {
        let t = split_words("In 1917, eleven time zones and 8.6 million square miles.");
        let r = speak(
            "in nineteen seventeen 11 time zones and eight point six million square miles",
            0,
        );
        let a = align(&t, &r, 8000, &[]);
        assert!(
            a.words.iter().all(|w| w.status == WordStatus::Matched),
            "{:?}",
            a.words
        );
        assert_eq!(a.words[1].start_ms, Some(500), "1917 starts with nineteen");
        assert_eq!(a.words[1].end_ms, Some(1300), "and ends with seventeen");
        assert!(a.substitutions.is_empty() && a.unscripted.is_empty());
    }

    #[test]
    fn a_header_is_not_paired_with_a_word_of_the_sentence_before() {
        // The recognizer heard "of" as "and": the header's "and" must not take it.
        let t = split_words(
            "It falls on the shoulders of women.\n\nBolshevik revolution and Stalinist counterrevolution\n\nAll of this explains why.",
        );
        let r = speak(
            "it falls on the shoulders and women all of this explains why",
            0,
        );
        let a = align(&t, &r, 8000, &[]);
        let header: Vec<_> = a.words[7..12]
            .iter()
            .map(|w| (w.text.as_str(), w.status))
            .collect();
        assert!(
            header.iter().all(|&(_, s)| s == WordStatus::Unspoken),
            "{header:?}"
        );
        assert_eq!(a.words[6].status, WordStatus::Matched, "women. = women");
    }

    #[test]
    fn the_tail_of_a_sentence_cut_from_the_audio_is_not_captioned() {
        // An ad-lib replaced the sentence; its last words "the show" find
        // partners in "the old party" by chance.
        let t = split_words(
            "One two three four. Stalin was the gravedigger of the revolution and the butcher of the old party. He purged them all.",
        );
        let mut r = speak("one two three four", 0);
        r.extend(speak(
            "if you are enjoying this please tell a friend about the show",
            2100,
        ));
        r.extend(speak("he purged them all", 8200));
        let a = align(&t, &r, 11_000, &[]);
        let cut: Vec<_> = a.words[4..18]
            .iter()
            .filter(|w| w.status != WordStatus::Unspoken)
            .collect();
        assert!(cut.is_empty(), "{cut:?}");
        assert!(a.words[18..]
            .iter()
            .all(|w| w.status == WordStatus::Matched));
        assert_eq!(a.unscripted.len(), 1, "{:?}", a.unscripted);
        assert!(
            a.unscripted[0].text.ends_with("about the show"),
            "{:?}",
            a.unscripted
        );
    }

    #[test]
    fn a_misheard_stretch_stays_paired() {
        // Five mismatches in a row, but "leech" is "leeched" misheard: said differently, not other speech.
        let t = split_words(
            "We said so although they leeched off of the economy for their own benefit.",
        );
        let r = speak(
            "we said so i'll own a leech tough and the economy for their own benefit",
            0,
        );
        let a = align(&t, &r, 9000, &[]);
        assert!(
            a.words.iter().all(|w| w.status != WordStatus::Unspoken),
            "{:?}",
            a.words
                .iter()
                .map(|w| (&w.text, w.status))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn sentence_never_said_is_unspoken() {
        let t = split_words("One two three four. This sentence was cut from the audio entirely. Five six seven eight.");
        let mut r = speak("one two three four", 0);
        r.extend(speak("five six seven eight", 2100));
        let a = align(&t, &r, 4000, &[]);
        let cut: Vec<_> = a
            .words
            .iter()
            .filter(|w| w.status == WordStatus::Unspoken)
            .map(|w| w.text.as_str())
            .collect();
        assert_eq!(
            cut,
            [
                "This",
                "sentence",
                "was",
                "cut",
                "from",
                "the",
                "audio",
                "entirely."
            ]
        );
        assert_eq!(a.unspoken.len(), 1);
        assert_eq!(a.unspoken[0].reason, UnspokenReason::NotHeard);
    }

    #[test]
    fn long_sequences_align_through_anchors() {
        // 20,000 pseudo-random words; the audio drops a passage and adds one.
        let mut x: u64 = 7;
        let vocab: Vec<String> = (0..3000).map(|i| format!("w{i}")).collect();
        let text: Vec<&str> = (0..20_000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                vocab[(x >> 33) as usize % vocab.len()].as_str()
            })
            .collect();
        let t = split_words(&text.join(" "));
        let mut spoken: Vec<&str> = text[..9000].to_vec();
        spoken.extend(["extra", "words", "here"]);
        spoken.extend(&text[9100..]);
        let r: Vec<RecognizedWord> = spoken
            .iter()
            .enumerate()
            .map(|(i, w)| RecognizedWord {
                text: w.to_string(),
                start_ms: i as u64 * 300,
                end_ms: i as u64 * 300 + 250,
                probability: 0.9,
                ..Default::default()
            })
            .collect();
        let started = std::time::Instant::now();
        let a = align(&t, &r, r.len() as u64 * 300, &[]);
        assert!(started.elapsed().as_secs_f64() < 5.0);
        let matched = a
            .words
            .iter()
            .filter(|w| w.status == WordStatus::Matched)
            .count();
        assert_eq!(matched, 19_900);
        let wrong: Vec<_> = a.words[9000..9100]
            .iter()
            .enumerate()
            .filter(|(_, w)| w.status != WordStatus::Unspoken)
            .map(|(i, w)| (i, w.status, w.start_ms))
            .collect();
        assert!(wrong.is_empty(), "{wrong:?}");
        assert_eq!(a.words[9100].start_ms, Some(9003 * 300));
        assert_eq!(a.unscripted.len(), 1);
    }

    #[test]
    fn written_times_out_of_step_are_listed_once_where_the_offset_changes() {
        let w = |written_ms, start_ms, status| AlignedWord {
            text: "word".into(),
            start_ms: Some(start_ms),
            status,
            written_ms: Some(written_ms),
            ..Default::default()
        };
        // In step (within a second of rounding), then an ad of 30 s before
        // the third label: every later time runs 30 s behind. A word not timed
        // from the audio says nothing.
        let words = vec![
            w(5_000, 5_400, WordStatus::Matched),
            w(20_000, 20_900, WordStatus::Substituted),
            w(40_000, 71_000, WordStatus::Interpolated),
            w(40_000, 70_200, WordStatus::Matched),
            w(60_000, 90_100, WordStatus::Matched),
        ];
        assert_eq!(
            written_time_shifts(&words),
            [WrittenTimeShift {
                heard_ms: 70_200,
                written_ms: 40_000,
                offset_ms: 30_200
            }]
        );
        // Times that run ahead from the start are listed at the first.
        let ahead = vec![
            w(65_000, 5_000, WordStatus::Matched),
            w(80_000, 20_000, WordStatus::Matched),
        ];
        assert_eq!(
            written_time_shifts(&ahead)[..],
            [WrittenTimeShift {
                heard_ms: 5_000,
                written_ms: 65_000,
                offset_ms: -60_000
            }]
        );
    }

    #[test]
    fn unscripted_speech_over_confirmed_words_is_their_misreading() {
        let w = |text: &str, status, start_ms, margin| AlignedWord {
            text: text.into(),
            start_ms: Some(start_ms),
            end_ms: Some(start_ms + 400),
            confidence: 0.5,
            status,
            heard: Some("chef".into()),
            margin,
            ..Default::default()
        };
        let words = vec![
            w("Malenkov,", WordStatus::Substituted, 1_000, Some(-3.0)),
            w("Brezhnev,", WordStatus::Substituted, 5_000, Some(-12.0)),
            w("Andropov,", WordStatus::Substituted, 9_000, None),
        ];
        let region = |start_ms: u64| UnscriptedRegion {
            start_ms,
            end_ms: start_ms + 1_000,
            text: "mail and kong cruise".into(),
        };
        let mut unscripted = vec![region(500), region(4_800), region(8_800), region(20_000)];
        drop_confirmed_unscripted(&mut unscripted, &words);
        let starts: Vec<u64> = unscripted.iter().map(|u| u.start_ms).collect();
        // Over a refused word, an unasked one, or no word: still unscripted.
        assert_eq!(starts, [4_800, 8_800, 20_000]);
    }
}
