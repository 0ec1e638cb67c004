//! Verification: where the recognized words and the transcript disagree, the
//! model is asked about the transcript itself. Its text is forced through
//! the decoder over the audio around the disagreement (teacher forcing) and
//! each word asked about gets the margin of its first alphanumeric token
//! (log-probability against the model's best token there, in nats). Asked
//! about: substituted words (heard otherwise) and interpolated ones (not
//! heard at all). Not asked: whether the transcript runs on without
//! unscripted speech. Forced without timestamps, the decoder may skip audio:
//! on the edited 45-minute episode it accepted the transcript's next word
//! after 5 of 6 inserted sentences.
//!
//! A free decoding that disagrees *and* a forced decoding that finds the
//! transcript's word unlikely are two kinds of evidence; one alone is not
//! enough (on a 12-minute episode of another speech engine, the first alone
//! flagged 41 agreeing words per 10 minutes, both together 6.5, at the same
//! recall, in a measurement made before this was built). A substitution the
//! model accepts (margin within [`MAX_REFUSED_MARGIN`]) is the recognizer's
//! slip, not a disagreement. So is one it refuses about as much without the
//! audio (over silence, [`MAX_REFUSED_AUDIO_SHIFT`]): a word it hardly knows.
//!
//! Decoding with the transcript as the draft asks the same question as it
//! goes: a recognized word whose first token the model took from the
//! transcript (or refused in its place) carries that token's margin
//! ([`RecognizedWord::asked`]). Where the model took it, that is the
//! verdict, and the word is not forced again. A refusal is not a verdict:
//! the decoder hears the audio from its own window's start, not from the
//! word's sentence, and refuses words that the forced decoding accepts
//! ("splashed" heard as "slashed": -7.7 nats in the loop, -4.8 forced).
//!
//! Most questions are answered before this module runs: after each window
//! of the guided decoding, the transcript words it left out between words
//! it took (up to 4 in a row) are forced over that window's encoder output,
//! in the window's own text ([`crate::transcribe::decode::Verdict`]). That
//! costs a decoder batch, not a second encoder pass, and halved the time of
//! this stage (first 10 minutes of the sample: 6.5 s to 3.3 s). Left for
//! the windows planned here: longer runs (a cut sentence), words the
//! decoding never reached, chunks whisper.cpp decoded, and a second opinion
//! on each word a window refused ([`take_forced_verdicts`]).
//!
//! This module plans the windows and applies the margins; the pipeline
//! decodes the audio and runs the model.

use super::{AlignedWord, WordStatus};
use crate::transcribe::decode::Verdict;
use crate::transcribe::{RecognizedWord, WordScore};

/// A substituted word whose transcript text the model gives at least this
/// margin (nats below its own best token) is accepted. Chosen on the curve
/// `scripts/eval-verification` prints (README, "Verification").
pub const MAX_REFUSED_MARGIN: f32 = -7.0;

/// A word the model refuses stands all the same unless the audio lowers
/// its margin by more than this (nats) from its margin over silence
/// ([`crate::transcribe::WordScore`]). The model refuses words it hardly
/// knows even where the audio says them, and it refuses them without the
/// audio as well. On the 45-minute sample, which agrees with its
/// transcript, the refused words' shifts were -6.0 ("as" heard as "and")
/// and -1.3 to +3.0 (seven rare words, "veils" heard as "males"); on its
/// edited copy, the 17 changed words refused, -12.6 to -3.2, and the
/// recognizer's slips there, -2.1 to +3.8 (and -5.7, "as" again).
pub const MAX_REFUSED_AUDIO_SHIFT: f32 = -2.5;

/// Audio before a disagreement that the forced text starts with: context
/// for the decoder, so it does not judge the word from a cold start.
const CONTEXT_MS: u64 = 8_000;
/// Longest window: the encoder hears 30 s.
const MAX_WINDOW_MS: u64 = 28_000;
/// Audio kept around a window's first and last words.
const EDGE_MS: u64 = 250;

/// One forced decoding: the audio `start_ms..end_ms` and the transcript
/// words said in it, in order (indices into the aligned words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start_ms: u64,
    pub end_ms: u64,
    pub words: Vec<usize>,
    /// The words asked about, whose margins are kept.
    pub asked: Vec<usize>,
}

fn spoken(w: &AlignedWord) -> bool {
    w.status != WordStatus::Unspoken && w.start_ms.is_some() && w.end_ms.is_some()
}

/// Windows covering every word to ask about (substituted or interpolated,
/// with no verdict yet), each starting up to [`CONTEXT_MS`] before its
/// first one, on word boundaries.
pub fn plan(words: &[AlignedWord]) -> Vec<Window> {
    let timed: Vec<usize> = (0..words.len()).filter(|&i| spoken(&words[i])).collect();
    let mut ask = vec![false; words.len()];
    for &i in &timed {
        ask[i] = matches!(
            words[i].status,
            WordStatus::Substituted | WordStatus::Interpolated
        ) && words[i].margin.is_none();
    }
    let start = |k: usize| words[timed[k]].start_ms.expect("timed");
    let end = |k: usize| words[timed[k]].end_ms.expect("timed");
    let mut windows = Vec::new();
    let mut next_free = 0; // first timed word not in a window yet
    let mut k = 0;
    while k < timed.len() {
        if !ask[timed[k]] {
            k += 1;
            continue;
        }
        // Back up for context, not into the previous window.
        let mut first = k;
        while first > next_free && start(k) - start(first - 1) <= CONTEXT_MS {
            first -= 1;
        }
        let from_ms =
            start(first)
                .saturating_sub(EDGE_MS)
                .max(if first > 0 { end(first - 1) } else { 0 });
        let mut last = first;
        while last + 1 < timed.len() && end(last + 1) + EDGE_MS <= from_ms + MAX_WINDOW_MS {
            last += 1;
        }
        let to_ms = (end(last) + EDGE_MS)
            .min(timed.get(last + 1).map_or(u64::MAX, |_| start(last + 1)))
            .max(end(last));
        let words = timed[first..=last].to_vec();
        windows.push(Window {
            start_ms: from_ms,
            end_ms: to_ms,
            asked: words.iter().copied().filter(|&i| ask[i]).collect(),
            words,
        });
        next_free = last + 1;
        k = last + 1;
    }
    windows
}

/// A decoding verdict counts down to this margin: the guided decoding's
/// tolerance, so a word that only the wider tolerance of a failed window's
/// second try took, and every refusal, is forced again. (Taking refusals
/// down to [`MAX_REFUSED_MARGIN`] too saved 2-4 more windows per 10 minutes
/// at the same disagreements, but a refusal is judged from the window's
/// start, not from the word's sentence.)
pub const MIN_TAKEN_MARGIN: f32 = -3.0;

/// Takes the verdicts of the decoding: a substituted or interpolated word
/// whose first token the model took from the transcript is accepted, with
/// that token's margin.
pub fn take_decoding_verdicts(words: &mut [AlignedWord], recognized: &[RecognizedWord]) {
    for r in recognized {
        let Some((k, margin)) = r.asked else { continue };
        let Some(w) = words.get_mut(k) else { continue };
        let asked = matches!(w.status, WordStatus::Substituted | WordStatus::Interpolated);
        if asked && margin >= MIN_TAKEN_MARGIN && w.margin.is_none_or(|m| m < margin) {
            w.margin = Some(margin);
        }
    }
}

/// Takes the verdicts of the decoding's forced text ([`Verdict`]): a
/// substituted or interpolated word gets the best margin a chunk gave it
/// (chunks overlap). A margin that lets the word stand
/// ([`super::verdict`]) stands. A refusal says the transcript is
/// wrong there, and is heard again by verification, in its own window with
/// the word's sentence as context; the refusals are returned for
/// [`settle`] after it. (Taken as they stood, they flagged 4 words per 10
/// minutes on a fast voice the transcript agrees with, as verification
/// alone did; a word both refuse, 3.)
pub fn take_forced_verdicts(words: &mut [AlignedWord], verdicts: &[Verdict]) -> Vec<(usize, f32)> {
    let mut best: std::collections::BTreeMap<usize, f32> = std::collections::BTreeMap::new();
    for v in verdicts {
        let asked = words.get(v.word).is_some_and(|w| {
            matches!(w.status, WordStatus::Substituted | WordStatus::Interpolated)
        });
        if asked {
            let m = best.entry(v.word).or_insert(v.margin);
            *m = m.max(v.margin);
        }
    }
    let mut refused = Vec::new();
    for (k, m) in best {
        let w = &mut words[k];
        let before = w.margin;
        if before.is_some_and(|x| x >= m) {
            continue;
        }
        w.margin = Some(m);
        if super::verdict(w) != Some(true) {
            w.margin = before;
            if before.is_none() {
                refused.push((k, m));
            }
        }
    }
    refused
}

/// A word the decoding's window refused ([`take_forced_verdicts`]) keeps
/// the better of that margin and verification's: it is refused only if
/// both refuse it.
pub fn settle(words: &mut [AlignedWord], refused: &[(usize, f32)]) {
    for &(k, m) in refused {
        let w = &mut words[k];
        w.margin = Some(w.margin.map_or(m, |v| v.max(m)));
    }
}

/// Records the margins of a window's words (the engine scores only the
/// words asked about).
pub fn apply(words: &mut [AlignedWord], window: &Window, scores: &[Option<WordScore>]) {
    for (&i, score) in window.words.iter().zip(scores) {
        if let Some(s) = score {
            words[i].margin = Some(s.margin);
            words[i].margin_without_audio = s.margin_without_audio;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(status: WordStatus, start_ms: u64) -> AlignedWord {
        AlignedWord {
            text: "w".into(),
            start_ms: Some(start_ms),
            end_ms: Some(start_ms + 300),
            confidence: 0.9,
            status,
            char_end: 1,
            ..Default::default()
        }
    }

    #[test]
    fn windows_cover_substitutions_with_context_and_fit_the_encoder() {
        // A word every 500 ms for 100 s; substitutions at 20 s, 21 s, 60 s.
        let mut words: Vec<AlignedWord> = (0..200)
            .map(|i| word(WordStatus::Matched, i * 500))
            .collect();
        for i in [40, 42, 120] {
            words[i].status = WordStatus::Substituted;
        }
        words[30].status = WordStatus::Unspoken;
        let w = plan(&words);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].asked, [40, 42]);
        assert!(w[0].words.contains(&40) && w[0].words.contains(&42));
        assert!(!w[0].words.contains(&30), "unspoken words are not forced");
        assert_eq!(
            w[0].words[0], 24,
            "8 s of context before the first substitution"
        );
        assert!(w[1].words.contains(&120));
        for x in &w {
            assert!(x.end_ms - x.start_ms <= MAX_WINDOW_MS);
            let first = &words[x.words[0]];
            assert!(x.start_ms <= first.start_ms.unwrap());
            assert!(x.end_ms >= words[*x.words.last().unwrap()].end_ms.unwrap());
        }
        assert!(w[0].end_ms <= w[1].start_ms, "windows do not share words");
        assert!(plan(&words[..30]).is_empty());
        // A word the recognizer did not hear is asked about too.
        words[10].status = WordStatus::Interpolated;
        assert_eq!(plan(&words[..30])[0].asked, [10]);
        // A word with a verdict (carried over from a saved run) is not asked again.
        words[10].margin = Some(-1.0);
        assert!(plan(&words[..30]).is_empty());
    }

    #[test]
    fn a_refusal_in_the_decoding_is_heard_again() {
        let mut words: Vec<AlignedWord> = (0..20)
            .map(|i| word(WordStatus::Substituted, i * 500))
            .collect();
        words[0].status = WordStatus::Matched;
        let v = |word, margin| Verdict { word, margin };
        // Two chunks' verdicts on word 3: the better stands.
        let verdicts = [
            v(0, -20.0),
            v(1, -2.0),
            v(2, -12.0),
            v(3, -9.0),
            v(3, -1.0),
            v(4, -15.0),
        ];
        let refused = take_forced_verdicts(&mut words, &verdicts);
        assert_eq!(words[0].margin, None, "a matched word is not asked");
        assert_eq!(words[1].margin, Some(-2.0));
        assert_eq!(words[3].margin, Some(-1.0));
        assert_eq!(refused, [(2, -12.0), (4, -15.0)]);
        let asked = &plan(&words)[0].asked;
        assert!(asked.contains(&2) && asked.contains(&4), "{asked:?}");
        assert!(!asked.contains(&1) && !asked.contains(&3), "{asked:?}");
        // Verification accepts word 2 and refuses word 4; word 5 it did not reach.
        words[2].margin = Some(-3.0);
        words[4].margin = Some(-18.0);
        settle(&mut words, &refused);
        assert_eq!(words[2].margin, Some(-3.0));
        assert_eq!(
            words[4].margin,
            Some(-15.0),
            "both refuse: the better margin"
        );
        assert_eq!(words[5].margin, None);
    }
}
