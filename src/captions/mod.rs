//! Captions: aligned words -> cues -> files.
//!
//! [`build_cues`] groups timed words into cues of at most two lines, breaking
//! at pauses, paragraph starts, sentence ends and line/duration limits, and
//! times them (start at the first word, end after the last word with a short
//! linger, a minimum gap to the next cue). Each output format is one file
//! behind [`Format`]; all return bytes and the caller writes them atomically.

pub mod json;
pub mod review;
pub mod srt;
pub mod vtt;

use crate::align::{AlignedWord, WordStatus};
use crate::transcript::ends_sentence;

/// Cue limits; defaults follow common broadcast guidelines (Netflix English, BBC).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CueOptions {
    pub max_chars_per_line: usize,
    pub max_lines: usize,
    pub max_duration_ms: u64,
    pub min_duration_ms: u64,
    /// A cue never spans a pause longer than this.
    pub max_pause_ms: u64,
    /// Minimum gap between consecutive cues (2 frames at 24 fps).
    pub min_gap_ms: u64,
    /// How long a cue may stay up after its last word.
    pub max_linger_ms: u64,
    /// Target reading speed; cues are kept up longer (within the linger) to meet it.
    pub max_chars_per_s: f64,
}

impl Default for CueOptions {
    fn default() -> Self {
        Self {
            max_chars_per_line: 42,
            max_lines: 2,
            max_duration_ms: 7000,
            min_duration_ms: 833,
            max_pause_ms: 1500,
            min_gap_ms: 83,
            max_linger_ms: 1500,
            max_chars_per_s: 17.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub lines: Vec<String>,
    /// Index of the first and last word (into the alignment's words).
    pub first_word: usize,
    pub last_word: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

impl Cue {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

fn ends_clause(text: &str) -> bool {
    let t = text.trim_end_matches(['"', '”', '’', '\'', ')', ']']);
    t.ends_with([',', ';', ':', '.', '?', '!', '…'])
}

/// Words a line should not end on: a break goes before them instead.
const BREAK_BEFORE: &[&str] = &[
    "and", "but", "or", "nor", "so", "yet", "because", "although", "while", "which", "who", "that",
    "if", "when", "to", "of", "in", "on", "at", "for", "with", "from", "by", "about", "into",
    "over", "after", "before",
];
const NO_BREAK_AFTER: &[&str] = &[
    "a", "an", "the", "my", "your", "his", "her", "its", "our", "their", "this", "these", "those",
    "mr.", "mrs.", "dr.", "ms.",
];

/// Words as caption text: spaces between them, except after a dash that
/// joined them in the transcript ("populations—that's").
pub fn join_words(words: &[&str]) -> String {
    let mut out = String::new();
    for (k, w) in words.iter().enumerate() {
        if k > 0 && !words[k - 1].ends_with(['—', '–']) {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn text_len(words: &[&str]) -> usize {
    join_words(words).chars().count()
}

/// Splits words into at most `max_lines` lines of at most `max_chars` each,
/// at the best place: balanced, after punctuation, before conjunctions and
/// prepositions, never after an article. None if it cannot fit.
pub fn break_lines(words: &[&str], max_chars: usize, max_lines: usize) -> Option<Vec<String>> {
    let total = text_len(words);
    if total <= max_chars {
        return Some(vec![join_words(words)]);
    }
    if max_lines < 2 || words.len() < 2 {
        return None;
    }
    let mut best: Option<(i64, usize)> = None;
    for k in 1..words.len() {
        let (a, b) = (text_len(&words[..k]), text_len(&words[k..]));
        if a > max_chars || b > max_chars {
            continue;
        }
        let mut cost = (a as i64 - b as i64).abs();
        let last = words[k - 1].to_lowercase();
        let next = words[k].to_lowercase();
        if ends_sentence(&last) {
            cost -= 40;
        } else if ends_clause(&last) {
            cost -= 25;
        } else if BREAK_BEFORE.contains(&next.trim_matches(|c: char| !c.is_alphanumeric())) {
            cost -= 10;
        }
        if NO_BREAK_AFTER.contains(&last.as_str()) {
            cost += 100;
        }
        // Keep numbers with their units ("8.6 million") and names together.
        let starts_upper = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
        if (last.chars().any(|c| c.is_ascii_digit()) && !ends_clause(&last))
            || (starts_upper(words[k - 1]) && starts_upper(words[k]) && !ends_clause(&last))
        {
            cost += 30;
        }
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, k));
        }
    }
    best.map(|(_, k)| vec![join_words(&words[..k]), join_words(&words[k..])])
}

/// Cost of ending a cue after `words[k]` when `next` follows: cues should end
/// at sentence ends, else at clause ends, else before a conjunction or
/// preposition; never after an article or inside a name or number.
fn break_cost(words: &[AlignedWord], k: usize, next: Option<usize>) -> i64 {
    let Some(n) = next else { return 0 };
    let (w, nw) = (&words[k].text, &words[n].text);
    let lower = w.to_lowercase();
    let next_lower = nw.to_lowercase();
    let next_bare = next_lower.trim_matches(|c: char| !c.is_alphanumeric());
    let upper = |t: &str| t.chars().next().is_some_and(char::is_uppercase);
    let mut cost = if ends_sentence(w) {
        0
    } else if ends_clause(w) {
        4
    } else if BREAK_BEFORE.contains(&next_bare) {
        8
    } else {
        14
    };
    if NO_BREAK_AFTER.contains(&lower.as_str()) {
        cost += 60;
    }
    if !ends_clause(w)
        && ((upper(w) && upper(nw) && !words[n].starts_line)
            || w.chars().any(|c| c.is_ascii_digit()))
    {
        cost += 20;
    }
    cost
}

/// Breaks no cue may span: a long pause, or a change of speaker.
fn hard_break(prev: &AlignedWord, next: &AlignedWord, options: &CueOptions) -> bool {
    let pause = next
        .start_ms
        .unwrap_or(0)
        .saturating_sub(prev.end_ms.unwrap_or(0));
    pause > options.max_pause_ms || prev.speaker != next.speaker
}

/// Splits the timed words into cues: the cheapest sequence of breaks (dynamic
/// programming over break points) such that every cue fits the line limits,
/// lasts at most `max_duration_ms`, spans no pause over `max_pause_ms` and no
/// change of speaker, and crosses a paragraph start only to avoid a cue too
/// short to read.
fn segment(words: &[AlignedWord], timed: &[usize], options: &CueOptions) -> Vec<Vec<usize>> {
    let n = timed.len();
    let max_chars = options.max_chars_per_line * options.max_lines;
    // best[i]: cheapest cost of cutting timed[..i] into cues; from[i]: start of the last cue.
    let mut best = vec![i64::MAX; n + 1];
    let mut from = vec![0usize; n + 1];
    best[0] = 0;
    for i in 0..n {
        if best[i] == i64::MAX {
            continue;
        }
        let start_ms = words[timed[i]].start_ms.unwrap_or(0);
        let mut chars = 0usize;
        let mut inner_sentence_ends = 0i64;
        let mut paragraphs_crossed = 0i64;
        for j in i..n {
            let w = &words[timed[j]];
            if j > i {
                if hard_break(&words[timed[j - 1]], w, options) {
                    break;
                }
                paragraphs_crossed += i64::from(w.starts_line);
            }
            chars += w.text.chars().count() + usize::from(j > i);
            let end_ms = w.end_ms.unwrap_or(0);
            let too_long = end_ms.saturating_sub(start_ms) > options.max_duration_ms;
            if j > i && (chars > max_chars || too_long) {
                break;
            }
            if j > i {
                let texts: Vec<&str> = timed[i..=j]
                    .iter()
                    .map(|&k| words[k].text.as_str())
                    .collect();
                if break_lines(&texts, options.max_chars_per_line, options.max_lines).is_none() {
                    break;
                }
            }
            let next = timed.get(j + 1).map(|&k| &words[k]);
            // Breaks at pauses, speaker changes and paragraph starts cost nothing.
            let natural = next.is_none_or(|nw| nw.starts_line || hard_break(w, nw, options));
            let mut cost = 10
                // A sentence that ends inside a cue reads worse than one that ends it;
                // a cue across paragraphs only beats a cue too short to read.
                + 15 * inner_sentence_ends
                + 40 * paragraphs_crossed
                + if natural { 0 } else { break_cost(words, timed[j], timed.get(j + 1).copied()) };
            // Very short cues flash by; prefer fuller ones.
            if chars < 24 && !natural {
                cost += 10;
            }
            // A cue that cannot stay up for the minimum duration before the next begins.
            let room_ms = next.map_or(u64::MAX, |nw| {
                nw.start_ms.unwrap_or(0).saturating_sub(start_ms)
            });
            if room_ms < options.min_duration_ms + options.min_gap_ms {
                cost += 60;
            }
            let total = best[i] + cost;
            if total < best[j + 1] {
                best[j + 1] = total;
                from[j + 1] = i;
            }
            inner_sentence_ends += i64::from(ends_sentence(&w.text));
        }
    }
    let mut groups = Vec::new();
    let mut end = n;
    while end > 0 {
        let start = from[end];
        groups.push(timed[start..end].to_vec());
        end = start;
    }
    groups.reverse();
    groups
}

/// Groups the timed words of an alignment into cues.
pub fn build_cues(words: &[AlignedWord], options: &CueOptions) -> Vec<Cue> {
    let timed: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].status != WordStatus::Unspoken && words[i].start_ms.is_some())
        .collect();
    let groups = segment(words, &timed, options);

    let mut cues: Vec<Cue> = groups
        .into_iter()
        .map(|g| {
            let texts: Vec<&str> = g.iter().map(|&k| words[k].text.as_str()).collect();
            let lines = break_lines(&texts, options.max_chars_per_line, options.max_lines)
                .unwrap_or_else(|| vec![join_words(&texts)]);
            let first = g[0];
            let last = *g.last().expect("groups are not empty");
            Cue {
                start_ms: words[first].start_ms.unwrap_or(0),
                end_ms: g.iter().filter_map(|&k| words[k].end_ms).max().unwrap_or(0),
                lines,
                first_word: first,
                last_word: last,
                speaker: words[first].speaker.clone(),
            }
        })
        .collect();

    // Timing: linger for reading speed and minimum duration, keep the gap.
    for k in 0..cues.len() {
        let next_start = cues.get(k + 1).map(|c| c.start_ms);
        let c = &mut cues[k];
        let chars = c.lines.iter().map(|l| l.chars().count()).sum::<usize>() as f64;
        // Rounded up: a cue cut short by a millisecond reads too fast.
        let wanted_ms = ((chars / options.max_chars_per_s) * 1000.0).ceil() as u64;
        let mut end = c
            .end_ms
            .max(c.start_ms + wanted_ms.max(options.min_duration_ms));
        end = end.min(c.end_ms + options.max_linger_ms);
        if let Some(ns) = next_start {
            end = end.min(ns.saturating_sub(options.min_gap_ms));
        }
        c.end_ms = end.max(c.start_ms + 1);
    }
    cues
}

/// Everything a caption file may need.
pub struct CaptionDoc<'a> {
    pub report: &'a crate::Report,
    /// Where the file will be written (for links back to the episode).
    pub out_dir: &'a std::path::Path,
}

/// One output format.
pub trait Format: Send + Sync {
    fn extension(&self) -> &'static str;
    fn render(&self, doc: &CaptionDoc) -> Vec<u8>;
}

/// `HH:MM:SS.mmm` with the given decimal separator.
pub fn timestamp(ms: u64, separator: char) -> String {
    format!(
        "{:02}:{:02}:{:02}{}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        separator,
        ms % 1000
    )
}

/// Formats by name: "vtt", "srt", "json".
pub fn format_by_name(name: &str) -> Option<Box<dyn Format>> {
    match name {
        "vtt" => Some(Box::new(vtt::WebVtt)),
        "srt" => Some(Box::new(srt::Srt)),
        "json" => Some(Box::new(json::Json)),
        "review" => Some(Box::new(review::ReviewPage)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_ms: u64, end_ms: u64) -> AlignedWord {
        AlignedWord {
            text: text.into(),
            start_ms: Some(start_ms),
            end_ms: Some(end_ms),
            confidence: 0.9,
            status: WordStatus::Matched,
            ..Default::default()
        }
    }

    #[test]
    fn line_breaking_rules() {
        let w: Vec<&str> = "It was a country unlike any other, with a federal structure made up of"
            .split(' ')
            .collect();
        let lines = break_lines(&w, 42, 2).unwrap();
        assert_eq!(lines[0], "It was a country unlike any other,");
        let w: Vec<&str> = "He lived for many years in the small town of Springfield"
            .split(' ')
            .collect();
        let lines = break_lines(&w, 42, 2).unwrap();
        assert!(!lines[0].ends_with(" the"), "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 42));
        let long: Vec<&str> = std::iter::repeat_n("word", 30).collect();
        assert!(break_lines(&long, 42, 2).is_none());
    }

    /// Words of `text` spoken evenly from `t0_ms`, `ms_per_word` each.
    fn spoken(text: &str, t0_ms: u64, ms_per_word: u64) -> Vec<AlignedWord> {
        text.split(' ')
            .enumerate()
            .map(|(i, w)| {
                word(
                    w,
                    t0_ms + i as u64 * ms_per_word,
                    t0_ms + (i as u64 + 1) * ms_per_word - 40,
                )
            })
            .collect()
    }

    fn texts(cues: &[Cue]) -> Vec<String> {
        cues.iter().map(|c| c.lines.join(" | ")).collect()
    }

    #[test]
    fn every_cue_keeps_the_limits() {
        let text = "So this centennial anniversary is also a perfect opportunity to clarify questions like: \
            Was the Soviet Union really communist? What is a workers' state? What is internationalism and why do \
            we need it? And what are Stalinism, Leninism, Trotskyism, and Bolshevism? But first, I'd like to give a \
            little history and background on the USSR, what it was and what it achieved and why it was hated.";
        let words = spoken(text, 1000, 330);
        let o = CueOptions::default();
        let cues = build_cues(&words, &o);
        for (k, c) in cues.iter().enumerate() {
            assert!(
                c.lines.len() <= 2 && c.lines.iter().all(|l| l.chars().count() <= 42),
                "{:?}",
                c.lines
            );
            assert!(
                c.end_ms - c.start_ms <= o.max_duration_ms
                    && c.end_ms - c.start_ms >= o.min_duration_ms,
                "{c:?}"
            );
            if let Some(next) = cues.get(k + 1) {
                assert!(
                    next.start_ms >= c.end_ms + o.min_gap_ms,
                    "gap before cue {}",
                    k + 1
                );
            }
            assert_eq!(
                c.start_ms,
                words[c.first_word].start_ms.unwrap(),
                "a cue starts with its first word"
            );
        }
        // Questions end cues: no cue holds the end of one and the start of the next mid-line.
        for c in &cues {
            for line in &c.lines {
                let inner = line.trim_end_matches('?').contains("? ");
                assert!(!inner, "a line runs across a question: {line:?}");
            }
        }
    }

    #[test]
    fn never_breaks_after_an_article_or_inside_a_name_or_number() {
        let w: Vec<&str> = "The population grew to 289 million people by the year"
            .split(' ')
            .collect();
        let lines = break_lines(&w, 42, 2).unwrap();
        assert!(!lines[0].ends_with("289"), "{lines:?}");
        let w: Vec<&str> = "It was bigger than the US and Canada combined, which are huge"
            .split(' ')
            .collect();
        let lines = break_lines(&w, 42, 2).unwrap();
        assert!(!lines[0].ends_with(" the"), "{lines:?}");
        let w: Vec<&str> = "the last leader of the Soviet Union died, Mikhail Gorbachev and then"
            .split(' ')
            .collect();
        let lines = break_lines(&w, 42, 2).unwrap();
        assert!(
            !lines[0].ends_with("Mikhail") && !lines[0].ends_with(" the"),
            "{lines:?}"
        );
        let w: Vec<&str> = "spanning over 8.6 million square miles across eleven time zones"
            .split(' ')
            .collect();
        let lines = break_lines(&w, 42, 2).unwrap();
        assert!(!lines[0].ends_with("8.6"), "{lines:?}");
    }

    #[test]
    fn breaks_before_conjunctions_and_prepositions() {
        let w: Vec<&str> =
            "He was the man who tried to save Stalinism from itself but ended up paving the way"
                .split(' ')
                .collect();
        let lines = break_lines(&w, 42, 2).unwrap();
        let next = lines[1].split(' ').next().unwrap();
        assert!(BREAK_BEFORE.contains(&next), "{lines:?}");
    }

    #[test]
    fn speaker_changes_and_long_pauses_start_new_cues() {
        let mut words = spoken("Hello there.", 0, 300);
        let mut reply = spoken("Hi, good to see you.", 700, 300);
        for w in &mut words {
            w.speaker = Some("ANNA".into());
        }
        for w in &mut reply {
            w.speaker = Some("BO".into());
        }
        words.extend(reply);
        words.extend(spoken("Much later now.", 5000, 300));
        let cues = build_cues(&words, &CueOptions::default());
        assert_eq!(
            texts(&cues),
            ["Hello there.", "Hi, good to see you.", "Much later now."]
        );
        assert_eq!(cues[0].speaker.as_deref(), Some("ANNA"));
        assert_eq!(cues[1].speaker.as_deref(), Some("BO"));
    }

    #[test]
    fn reading_speed_lingers_within_limits() {
        // 40 characters said in 1 s: the cue stays up for 40/17 s if nothing follows soon.
        let words = spoken("Extraordinary circumstances demand it.", 0, 250);
        let cues = build_cues(&words, &CueOptions::default());
        assert_eq!(cues.len(), 1);
        let chars = cues[0].text().chars().count() as f64;
        let duration_ms = (cues[0].end_ms - cues[0].start_ms) as f64;
        assert!(chars / duration_ms * 1000.0 <= 17.0, "{:?}", cues[0]);
    }

    #[test]
    fn cues_break_at_pauses_and_sentences_and_keep_gaps() {
        let words = vec![
            word("Hello", 0, 300),
            word("everyone,", 300, 800),
            word("welcome", 900, 1300),
            word("to", 1300, 1400),
            word("the", 1400, 1500),
            word("show.", 1500, 2000),
            // 2.5 s pause
            word("Today", 4500, 4900),
            word("we", 4900, 5000),
            word("talk.", 5000, 5400),
        ];
        let cues = build_cues(&words, &CueOptions::default());
        assert_eq!(cues.len(), 2);
        assert_eq!(cues[0].text(), "Hello everyone, welcome to the show.");
        assert_eq!(cues[0].start_ms, 0);
        assert!(cues[0].end_ms >= 2000 && cues[0].end_ms <= 4500 - 83);
        assert_eq!(cues[1].start_ms, 4500);
        assert!(cues[1].end_ms - cues[1].start_ms >= 833);
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(3_723_004, '.'), "01:02:03.004");
        assert_eq!(timestamp(59_999, ','), "00:00:59,999");
    }
}
