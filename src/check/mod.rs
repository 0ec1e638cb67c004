//! `podcap check`: how well a published transcript matches its episode.
//!
//! Takes an aligned [`Report`] (a fresh run, or a saved run aligned again)
//! and the [`Transcript`] it was aligned to; gives the figures (word and
//! character error rates of the transcript against the audio), the findings
//! (where the two disagree, each with its time on the episode timeline in
//! ms, both texts and its place in the transcript file) and the verdict
//! against [`Thresholds`].
//!
//! What is heard is the reference: a *substitution* is a transcript word said
//! differently, a *deletion* a word said but missing from the transcript
//! (speech not in it, a passage said twice), an *insertion* a transcript word
//! never said. Text is compared normalized, with the alignment's rules (case,
//! punctuation, numbers both ways, fillers).
//!
//! Recognizer slips are not transcript errors. Each finding carries the
//! evidence for it ([`Finding::confidence`]); a finding the evidence does
//! not carry is *low-confidence*: a changed word whose transcript text the
//! model accepts when asked ([`crate::align::verify`]), or, where it was not
//! asked (a transcript edited since the saved run), whose heard words the
//! recognizer was unsure of. The thresholds judge the figures without
//! low-confidence findings; the figures with them are reported beside.

pub mod edits;
pub mod github;
pub mod json;
pub mod junit;

use crate::align::{UnspokenReason, WordStatus};
use crate::transcript::Transcript;
use crate::Report;
use edits::{chars_of, edit_counts, ratio, word_tokens, EditCounts};

pub use edits::{wer, WerReport};

/// Limits a transcript must keep to pass.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Thresholds {
    /// Word error rate, 0..1.
    pub max_wer: f64,
    /// Seconds it takes to say the transcript text that the audio lacks.
    pub max_unspoken_s: f64,
    /// Seconds of speech that the transcript lacks.
    pub max_unscripted_s: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_wer: 0.05,
            max_unspoken_s: 10.0,
            max_unscripted_s: 30.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Transcript text the audio does not have.
    Unspoken,
    /// Speech the transcript does not have.
    Unscripted,
    /// Transcript words the audio says differently.
    Changed,
    /// A passage the audio says twice and the transcript once.
    Repeated,
}

impl FindingKind {
    pub fn describe(self) -> &'static str {
        match self {
            FindingKind::Unspoken => "not in the audio",
            FindingKind::Unscripted => "not in the transcript",
            FindingKind::Changed => "changed",
            FindingKind::Repeated => "said twice",
        }
    }
}

/// A place in the transcript file: 1-based line and column (in chars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Place {
    pub line: usize,
    pub column: usize,
}

/// One place where transcript and audio disagree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// Where in the audio (for unspoken text: where it would have been).
    pub start_ms: u64,
    pub end_ms: u64,
    /// The transcript's text here (for unscripted speech: empty).
    pub transcript: String,
    /// What the audio says here, as recognized (for unspoken text: empty).
    pub audio: String,
    /// Seconds of speech in question: heard, or for unspoken text, the
    /// time the episode's speakers take to say it.
    pub duration_s: f64,
    /// The transcript's span in the file, in chars; an empty span where
    /// unscripted speech would go.
    pub char_start: usize,
    pub char_end: usize,
    pub start: Place,
    pub end: Place,
    /// How strongly the audio supports the finding, 0..1. For changed words
    /// the model was asked about, 1 - exp(margin): how much less likely the
    /// model finds the transcript's word than its own choice; otherwise the
    /// recognizer's probability for the words it heard. For unspoken text,
    /// the share of its time that the audio fills with other speech or not
    /// at all (silence there means the recognizer may have missed it).
    pub confidence: f32,
    /// The evidence does not carry it: most likely a recognizer slip. Not
    /// counted by the thresholds.
    pub low_confidence: bool,
    /// Word errors it accounts for.
    pub words: EditCounts,
    #[serde(skip)]
    char_errors: usize,
    /// Reference (heard) words and chars here: `[if not counted, if counted]`.
    #[serde(skip)]
    reference: [(usize, usize); 2],
}

/// Unspoken text that is not a finding: page text around the episode,
/// headers, cues and speaker labels.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageText {
    pub text: String,
    pub reason: UnspokenReason,
    pub char_start: usize,
    pub char_end: usize,
    pub start: Place,
}

/// Error rates and amounts, over the findings counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Figures {
    /// Words heard (the reference).
    pub reference_words: usize,
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub wer: f64,
    pub reference_chars: usize,
    pub char_errors: usize,
    pub cer: f64,
    pub unspoken_s: f64,
    pub unscripted_s: f64,
    pub findings: usize,
}

/// One threshold's verdict.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    /// "wer", "unspoken_s" or "unscripted_s".
    pub name: &'static str,
    /// The command-line flag that sets it.
    pub flag: &'static str,
    pub limit: f64,
    pub value: f64,
    pub passed: bool,
}

/// The check of one episode.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpisodeCheck {
    pub audio_duration_ms: u64,
    pub transcript_words: usize,
    /// Without low-confidence findings: what the thresholds judge.
    pub figures: Figures,
    /// With every finding.
    pub figures_all: Figures,
    pub low_confidence_findings: usize,
    pub verdicts: Vec<Verdict>,
    pub passed: bool,
    /// Worst first; low-confidence findings last.
    pub findings: Vec<Finding>,
    pub page_text: Vec<PageText>,
}

/// 1-based line and column of char offsets into a text.
pub struct Lines {
    /// Char offset where each line starts.
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        for (i, c) in text.chars().enumerate() {
            if c == '\n' {
                starts.push(i + 1);
            }
        }
        Self { starts }
    }

    pub fn place(&self, char_offset: usize) -> Place {
        let line = self.starts.partition_point(|&s| s <= char_offset).max(1);
        Place {
            line,
            column: char_offset - self.starts[line - 1] + 1,
        }
    }
}

/// Below this, a finding is most likely a recognizer slip: tiny.en's
/// probability for words it mishears (see README, "podcap check").
pub const MIN_CONFIDENCE: f32 = 0.5;
/// Speaking pace assumed when the episode gives too few words to measure it.
const DEFAULT_MS_PER_CHAR: f64 = 65.0;

/// Checks the transcript of an aligned report.
pub fn check(report: &Report, transcript: &Transcript, thresholds: &Thresholds) -> EpisodeCheck {
    let lines = Lines::new(&transcript.text);
    let ms_per_char = speaking_pace_ms_per_char(report);
    let mut findings = Vec::new();
    let mut page_text = Vec::new();

    for u in &report.unspoken {
        if u.reason != UnspokenReason::NotHeard {
            page_text.push(PageText {
                text: u.text.clone(),
                reason: u.reason,
                char_start: u.char_start,
                char_end: u.char_end,
                start: lines.place(u.char_start),
            });
            continue;
        }
        findings.push(unspoken_finding(report, u, ms_per_char, &lines));
    }
    for s in &report.substitutions {
        // The model's verdict where it was asked; else the recognizer's confidence.
        let (confidence, low_confidence) = match s.transcript_verified {
            Some(accepted) => {
                let margin = report
                    .words
                    .iter()
                    .filter(|w| w.char_start >= s.char_start && w.char_end <= s.char_end)
                    .filter_map(|w| w.margin)
                    .fold(0.0f32, f32::min);
                (1.0 - margin.exp(), accepted)
            }
            None => {
                let heard = recognized_probability(report, s.start_ms, s.end_ms);
                (heard, heard < MIN_CONFIDENCE)
            }
        };
        let t = word_tokens(&s.transcript);
        let a = word_tokens(&s.audio);
        let (tc, ac) = (chars_of(&t), chars_of(&a));
        findings.push(Finding {
            kind: FindingKind::Changed,
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            transcript: s.transcript.clone(),
            audio: s.audio.clone(),
            duration_s: s.end_ms.saturating_sub(s.start_ms) as f64 / 1000.0,
            char_start: s.char_start,
            char_end: s.char_end,
            start: lines.place(s.char_start),
            end: lines.place(s.char_end.saturating_sub(1).max(s.char_start)),
            confidence,
            low_confidence,
            words: edit_counts(&a, &t),
            char_errors: edit_counts(&ac, &tc).errors(),
            reference: [(t.len(), tc.len()), (a.len(), ac.len())],
        });
    }
    for u in &report.unscripted {
        findings.push(unscripted_finding(report, u, &lines));
    }

    // Worst first: confident before low-confidence, then by seconds in question.
    findings.sort_by(|a, b| {
        a.low_confidence
            .cmp(&b.low_confidence)
            .then(b.duration_s.total_cmp(&a.duration_s))
            .then(a.start_ms.cmp(&b.start_ms))
    });

    let figures_all = figures(report, &findings, |_| true);
    let figures = figures(report, &findings, |f| !f.low_confidence);
    let verdicts = vec![
        Verdict {
            name: "wer",
            flag: "--max-wer",
            limit: thresholds.max_wer,
            value: figures.wer,
            passed: figures.wer <= thresholds.max_wer,
        },
        Verdict {
            name: "unspoken_s",
            flag: "--max-unspoken-s",
            limit: thresholds.max_unspoken_s,
            value: figures.unspoken_s,
            passed: figures.unspoken_s <= thresholds.max_unspoken_s,
        },
        Verdict {
            name: "unscripted_s",
            flag: "--max-unscripted-s",
            limit: thresholds.max_unscripted_s,
            value: figures.unscripted_s,
            passed: figures.unscripted_s <= thresholds.max_unscripted_s,
        },
    ];
    EpisodeCheck {
        audio_duration_ms: report.stats.audio_duration_ms,
        transcript_words: report.stats.transcript_words,
        low_confidence_findings: findings.iter().filter(|f| f.low_confidence).count(),
        passed: verdicts.iter().all(|v| v.passed),
        verdicts,
        figures,
        figures_all,
        findings,
        page_text,
    }
}

/// The episode's own pace: time from its first to its last matched word
/// over the characters said between them (pauses included).
fn speaking_pace_ms_per_char(report: &Report) -> f64 {
    let matched: Vec<&crate::align::AlignedWord> = report
        .words
        .iter()
        .filter(|w| w.status == WordStatus::Matched)
        .collect();
    let (Some(first), Some(last)) = (matched.first(), matched.last()) else {
        return DEFAULT_MS_PER_CHAR;
    };
    let chars: usize = matched.iter().map(|w| w.text.chars().count() + 1).sum();
    let span_ms = last
        .end_ms
        .unwrap_or(0)
        .saturating_sub(first.start_ms.unwrap_or(0));
    if matched.len() < 20 || span_ms == 0 {
        return DEFAULT_MS_PER_CHAR;
    }
    span_ms as f64 / chars as f64
}

/// Mean probability of the recognized words inside `start_ms..end_ms`.
fn recognized_probability(report: &Report, start_ms: u64, end_ms: u64) -> f32 {
    let heard: Vec<f32> = report
        .recognized
        .iter()
        .filter(|r| r.end_ms > start_ms && r.start_ms < end_ms.max(start_ms + 1))
        .map(|r| r.probability)
        .collect();
    if heard.is_empty() {
        0.0
    } else {
        heard.iter().sum::<f32>() / heard.len() as f32
    }
}

fn unspoken_finding(
    report: &Report,
    u: &crate::align::UnspokenSpan,
    ms_per_char: f64,
    lines: &Lines,
) -> Finding {
    let t = word_tokens(&u.text);
    let tc = chars_of(&t);
    let needed_ms = (u.text.chars().count() + 1) as f64 * ms_per_char;
    // The gap between the timed words around the span, and how much of it is
    // silent: room enough to have said it silently means the recognizer may
    // have missed it, not the speaker.
    let before = report
        .words
        .iter()
        .rev()
        .filter(|w| w.char_end <= u.char_start)
        .find_map(|w| w.end_ms)
        .unwrap_or(0);
    let after = report
        .words
        .iter()
        .filter(|w| w.char_start >= u.char_end)
        .find_map(|w| w.start_ms)
        .unwrap_or(report.stats.audio_duration_ms)
        .max(before);
    let speech_ms: u64 = report
        .recognized
        .iter()
        .filter(|r| r.start_ms >= before && r.end_ms <= after)
        .map(|r| r.end_ms - r.start_ms)
        .sum();
    let silent_ms = (after - before).saturating_sub(speech_ms) as f64;
    let confidence = (1.0 - silent_ms / needed_ms.max(1.0)).clamp(0.0, 1.0) as f32;
    Finding {
        kind: FindingKind::Unspoken,
        start_ms: u.near_ms,
        end_ms: u.near_ms,
        transcript: u.text.clone(),
        audio: String::new(),
        duration_s: needed_ms / 1000.0,
        char_start: u.char_start,
        char_end: u.char_end,
        start: lines.place(u.char_start),
        end: lines.place(u.char_end.saturating_sub(1).max(u.char_start)),
        confidence,
        low_confidence: confidence < MIN_CONFIDENCE,
        words: EditCounts {
            insertions: t.len(),
            ..Default::default()
        },
        char_errors: tc.len(),
        reference: [(t.len(), tc.len()), (0, 0)],
    }
}

/// Speech the transcript lacks: a passage said twice when it is the
/// transcript text just before or after it, else unscripted speech.
fn unscripted_finding(
    report: &Report,
    u: &crate::align::UnscriptedRegion,
    lines: &Lines,
) -> Finding {
    let a = word_tokens(&u.text);
    let ac = chars_of(&a);
    let confidence = recognized_probability(report, u.start_ms, u.end_ms);
    let low_confidence = confidence < MIN_CONFIDENCE || u.is_short();
    let timed: Vec<&crate::align::AlignedWord> = report
        .words
        .iter()
        .filter(|w| w.start_ms.is_some() && w.status != WordStatus::Unspoken)
        .collect();
    let split = timed.partition_point(|w| w.end_ms.unwrap_or(0) <= u.start_ms);
    let reach = a.len() + 2;
    let before = &timed[split.saturating_sub(reach)..split];
    let after = &timed[split..(split + reach).min(timed.len())];
    let repeat = [before, after].into_iter().find_map(|side| {
        let tokens: Vec<(usize, String)> = side
            .iter()
            .enumerate()
            .flat_map(|(k, w)| word_tokens(&w.text).into_iter().map(move |t| (k, t)))
            .collect();
        let toks: Vec<String> = tokens.iter().map(|(_, t)| t.clone()).collect();
        let shared = common_subsequence(&a, &toks);
        // Most of what was heard is the neighbouring text, in order.
        (a.len() >= 2 && shared.len() * 5 >= a.len() * 3).then(|| {
            let first = tokens[*shared.first().expect("non-empty")].0;
            let last = tokens[*shared.last().expect("non-empty")].0;
            &side[first..=last]
        })
    });
    let insertion_at = timed
        .get(split.wrapping_sub(1))
        .map(|w| w.char_end)
        .or_else(|| timed.first().map(|w| w.char_start))
        .unwrap_or(0);
    let (kind, transcript, char_start, char_end) = match repeat {
        Some(words) => (
            FindingKind::Repeated,
            words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            words[0].char_start,
            words[words.len() - 1].char_end,
        ),
        None => (
            FindingKind::Unscripted,
            String::new(),
            insertion_at,
            insertion_at,
        ),
    };
    Finding {
        kind,
        start_ms: u.start_ms,
        end_ms: u.end_ms,
        transcript,
        audio: u.text.clone(),
        duration_s: u.end_ms.saturating_sub(u.start_ms) as f64 / 1000.0,
        char_start,
        char_end,
        start: lines.place(char_start),
        end: lines.place(char_end.saturating_sub(1).max(char_start)),
        confidence,
        low_confidence,
        words: EditCounts {
            deletions: a.len(),
            ..Default::default()
        },
        char_errors: ac.len(),
        reference: [(0, 0), (a.len(), ac.len())],
    }
}

/// Indices into `b` of a longest common subsequence of `a` and `b`.
fn common_subsequence(a: &[String], b: &[String]) -> Vec<usize> {
    let (n, m) = (a.len(), b.len());
    let mut len = vec![vec![0u16; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[i][j] = if a[i] == b[j] {
                len[i + 1][j + 1] + 1
            } else {
                len[i + 1][j].max(len[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(j);
            i += 1;
            j += 1;
        } else if len[i + 1][j] >= len[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The figures when the findings for which `counted` holds are transcript
/// errors and the others are not. The reference is the transcript's text as
/// heard, with each counted finding's audio in place of its transcript text.
fn figures(report: &Report, findings: &[Finding], counted: impl Fn(&Finding) -> bool) -> Figures {
    // Words the findings do not cover: heard as the transcript has them.
    let (mut reference_words, mut reference_chars) = (0usize, 0usize);
    for w in report
        .words
        .iter()
        .filter(|w| matches!(w.status, WordStatus::Matched | WordStatus::Interpolated))
    {
        let t = word_tokens(&w.text);
        reference_words += t.len();
        reference_chars += chars_of(&t).len() + usize::from(!t.is_empty());
    }
    let mut f = Figures::default();
    let mut ops = EditCounts::default();
    for x in findings {
        let counts = counted(x);
        let (words, chars) = x.reference[usize::from(counts)];
        reference_words += words;
        reference_chars += chars + usize::from(words > 0);
        if !counts {
            continue;
        }
        ops.add(x.words);
        f.char_errors += x.char_errors;
        match x.kind {
            FindingKind::Unspoken => f.unspoken_s += x.duration_s,
            FindingKind::Unscripted | FindingKind::Repeated => f.unscripted_s += x.duration_s,
            FindingKind::Changed => {}
        }
        f.findings += 1;
    }
    f.reference_words = reference_words;
    f.reference_chars = reference_chars;
    f.substitutions = ops.substitutions;
    f.deletions = ops.deletions;
    f.insertions = ops.insertions;
    f.wer = ratio(ops.errors(), reference_words, 0);
    f.cer = ratio(f.char_errors, reference_chars, 0);
    f
}

/// `m:ss.s` on the episode timeline, as the findings show times.
pub fn clock(ms: u64) -> String {
    let tenths = (ms + 50) / 100;
    let (h, m, s, t) = (
        tenths / 36_000,
        tenths / 600 % 60,
        tenths / 10 % 60,
        tenths % 10,
    );
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{t}")
    } else {
        format!("{m}:{s:02}.{t}")
    }
}

impl Finding {
    /// One line for people: "transcript: 'Tuesday', audio: 'Thursday' at 12:34.5".
    pub fn summary(&self) -> String {
        let at = clock(self.start_ms);
        match self.kind {
            FindingKind::Unspoken => format!(
                "not in the audio ({:.1} s of text) near {at}: \"{}\"",
                self.duration_s, self.transcript
            ),
            FindingKind::Unscripted => format!(
                "not in the transcript ({:.1} s) at {at}: \"{}\"",
                self.duration_s, self.audio
            ),
            FindingKind::Changed if self.audio.is_empty() => format!(
                "transcript: \"{}\", audio: (other words, not recognized) at {at}",
                self.transcript
            ),
            FindingKind::Changed => format!(
                "transcript: \"{}\", audio: \"{}\" at {at}",
                self.transcript, self.audio
            ),
            FindingKind::Repeated => format!("said twice at {at}: \"{}\"", self.transcript),
        }
    }
}

/// One episode of a check run: its check, or why it could not be checked.
#[derive(Debug, Clone)]
pub struct EpisodeResult {
    pub id: String,
    pub audio: String,
    pub transcript: String,
    /// Seconds the check took (recognition included, unless from a saved run).
    pub elapsed_s: f64,
    pub outcome: Result<EpisodeCheck, String>,
}

impl EpisodeResult {
    pub fn status(&self) -> Status {
        match &self.outcome {
            Ok(c) if c.passed => Status::Passed,
            Ok(_) => Status::Failed,
            Err(_) => Status::Error,
        }
    }
}

/// A run's verdict; ordered, so the worst episode decides the run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    /// Below a threshold.
    Failed,
    /// Could not be checked.
    Error,
}

/// A check of one or more episodes against the same thresholds.
#[derive(Debug, Clone)]
pub struct CheckRun {
    pub thresholds: Thresholds,
    pub episodes: Vec<EpisodeResult>,
}

impl CheckRun {
    pub fn status(&self) -> Status {
        self.episodes
            .iter()
            .map(EpisodeResult::status)
            .max()
            .unwrap_or(Status::Passed)
    }
}

/// "3.1%".
pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

impl Verdict {
    /// "WER 3.1% is above --max-wer 2.0%".
    pub fn describe(&self) -> String {
        let (value, limit) = match self.name {
            "wer" => (percent(self.value), percent(self.limit)),
            _ => (
                format!("{:.1} s", self.value),
                format!("{:.1} s", self.limit),
            ),
        };
        let what = match self.name {
            "wer" => "WER",
            "unspoken_s" => "transcript text not in the audio",
            _ => "speech not in the transcript",
        };
        if self.passed {
            format!("{what} {value} is within {} {limit}", self.flag)
        } else {
            format!("{what} {value} is above {} {limit}", self.flag)
        }
    }

    /// The kinds of finding this threshold counts.
    pub fn counts(&self, kind: FindingKind) -> bool {
        match self.name {
            "wer" => true,
            "unspoken_s" => kind == FindingKind::Unspoken,
            _ => matches!(kind, FindingKind::Unscripted | FindingKind::Repeated),
        }
    }
}

/// Where a check's recognized words come from.
pub enum Recognition<'a> {
    /// Run the model, with the engine settings of `options` (its episode
    /// and transcript are those of the check).
    Run {
        engine: &'a crate::pipeline::Engine,
        options: &'a crate::CaptionOptions,
        progress: &'a dyn crate::progress::Progress,
    },
    /// A saved `podcap caption` JSON, which must have been made from this
    /// audio and, when the caller names one, with this model file.
    Saved {
        json: &'a std::path::Path,
        model: Option<&'a std::path::Path>,
    },
}

/// Checks `transcript` against the episode `audio`.
pub fn check_episode(
    audio: &std::path::Path,
    transcript_path: &std::path::Path,
    recognition: Recognition,
    cues: &crate::captions::CueOptions,
    thresholds: &Thresholds,
) -> Result<EpisodeCheck, crate::Error> {
    let (report, transcript) = match recognition {
        Recognition::Run {
            engine,
            options,
            progress,
        } => {
            let options = crate::CaptionOptions {
                episode: audio.to_path_buf(),
                transcript: Some(transcript_path.to_path_buf()),
                ..options.clone()
            };
            let inputs = crate::pipeline::read_inputs(&options)?;
            let report = crate::pipeline::analyze_with(engine, &options, &inputs, progress)?;
            progress.finish();
            let transcript = inputs.transcript.expect("read from options.transcript");
            (report, transcript)
        }
        Recognition::Saved { json, model } => {
            let transcript = crate::transcript::read(transcript_path)?;
            let report = crate::pipeline::realign_report(json, &transcript, cues)?;
            check_provenance(json, &report, audio, model)?;
            (report, transcript)
        }
    };
    Ok(check(&report, &transcript, thresholds))
}

/// Refuses a saved report made from other audio or another model.
fn check_provenance(
    json: &std::path::Path,
    report: &Report,
    audio: &std::path::Path,
    model: Option<&std::path::Path>,
) -> Result<(), crate::Error> {
    let refuse = |what: String| {
        crate::Error::Usage(format!(
            "'{}' {what}; caption this episode again (podcap caption) and check against that JSON, or leave out --from-json",
            json.display()
        ))
    };
    if report.episode.sha256.is_empty() {
        return Err(refuse(
            "was made by an older podcap and does not record which audio it heard".into(),
        ));
    }
    crate::audio::probe(audio)?;
    let sha = crate::fsutil::sha256_file(audio).map_err(|e| crate::audio::AudioError::Open {
        path: audio.into(),
        detail: e.to_string(),
    })?;
    if sha != report.episode.sha256 {
        return Err(refuse(format!(
            "was made from other audio ('{}', SHA-256 {}…) than '{}' (SHA-256 {}…)",
            report.episode.path,
            &report.episode.sha256[..12.min(report.episode.sha256.len())],
            audio.display(),
            &sha[..12]
        )));
    }
    if let Some(model) = model {
        let sha = crate::fsutil::sha256_file(model).map_err(crate::model::ModelError::from)?;
        if sha != report.model.sha256 {
            return Err(refuse(format!(
                "was made with the model '{}', not '{}'",
                report.model.name,
                model.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{build_report, EpisodeInfo, ModelReport};
    use crate::transcribe::RecognizedWord;

    /// A transcript and what a recognizer heard: words said back to back,
    /// 300 ms each, a pause after a sentence, all with `probability` unless
    /// written "word@p".
    fn checked(text: &str, heard: &str, probability: f32) -> EpisodeCheck {
        let (report, transcript) = report_of(text, heard, probability);
        check(&report, &transcript, &Thresholds::default())
    }

    fn report_of(text: &str, heard: &str, probability: f32) -> (Report, Transcript) {
        let transcript = Transcript {
            path: "t.txt".into(),
            sha256: String::new(),
            text: text.into(),
            words: crate::transcript::split_words(text),
        };
        let mut t_ms = 1000;
        let recognized: Vec<RecognizedWord> = heard
            .split_whitespace()
            .map(|w| {
                let (w, p) = match w.split_once('@') {
                    Some((w, p)) => (w, p.parse().unwrap()),
                    None => (w, probability),
                };
                let word = RecognizedWord {
                    text: w.into(),
                    start_ms: t_ms,
                    end_ms: t_ms + 280,
                    probability: p,
                    ..Default::default()
                };
                t_ms += 300 + if w.ends_with('.') { 400 } else { 0 };
                word
            })
            .collect();
        let report = build_report(
            EpisodeInfo {
                path: "e.mp3".into(),
                sha256: String::new(),
                audio: Default::default(),
            },
            ModelReport {
                name: "scripted".into(),
                path: String::new(),
                sha256: String::new(),
                beam_size: 1,
                language: "en".into(),
                draft_tolerance_nats: None,
            },
            Some(&transcript),
            recognized,
            Vec::new(),
            t_ms + 1000,
            &Default::default(),
        );
        (report, transcript)
    }

    #[test]
    fn the_models_verdict_decides_over_the_recognizers_confidence() {
        let (mut report, transcript) = report_of(TEXT, &HEARD.replace("Tuesday", "Thursday"), 0.9);
        let k = report
            .words
            .iter()
            .position(|w| w.text == "Tuesday")
            .unwrap();
        let mut judged = |margin: f32, margin_without_audio: Option<f32>| {
            report.words[k].margin = Some(margin);
            report.words[k].margin_without_audio = margin_without_audio;
            report.substitutions = crate::align::substitutions(&report.words);
            check(&report, &transcript, &Thresholds::default())
        };
        // Heard otherwise with confidence, but the model accepts "Tuesday": a slip.
        let c = judged(-1.0, None);
        assert_eq!(c.findings.len(), 1);
        assert!(c.findings[0].low_confidence);
        assert_eq!(c.figures.wer, 0.0);
        // Refused, but about as much without the audio: a word the model
        // hardly knows, a slip still.
        let c = judged(-12.0, Some(-11.0));
        assert!(c.findings[0].low_confidence);
        // Refused, and the audio is what refuses it: counted, with the
        // margin's confidence.
        let c = judged(-12.0, Some(-4.0));
        assert!(!c.findings[0].low_confidence);
        assert!(c.findings[0].confidence > 0.99);
        assert_eq!(c.figures.substitutions, 1);
    }

    #[test]
    fn an_unheard_word_the_model_refuses_is_a_change() {
        // The recognizer heard nothing for "harbour"; the model, asked, refuses it.
        let (mut report, transcript) = report_of(TEXT, &HEARD.replace(" harbour", ""), 0.9);
        let k = report
            .words
            .iter()
            .position(|w| w.text == "harbour")
            .unwrap();
        assert_eq!(report.words[k].status, WordStatus::Interpolated);
        assert!(check(&report, &transcript, &Thresholds::default())
            .findings
            .is_empty());
        report.words[k].margin = Some(-10.0);
        report.substitutions = crate::align::substitutions(&report.words);
        let c = check(&report, &transcript, &Thresholds::default());
        assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
        let f = &c.findings[0];
        assert_eq!(
            (f.kind, f.transcript.as_str(), f.audio.as_str()),
            (FindingKind::Changed, "harbour", "")
        );
        assert!(f.summary().contains("not recognized"));
        assert_eq!(c.figures.insertions, 1);
    }

    const TEXT: &str = "A Show About Things\n\
        We met on Tuesday at the old harbour to talk about boats.\n\
        The weather was calm and the water was very clear that morning.\n\
        Everyone agreed that the small blue boat was the best one of all.\n\
        Then we walked back to town and had lunch together by the square.\n";
    const HEARD: &str = "We met on Tuesday at the old harbour to talk about boats. \
        The weather was calm and the water was very clear that morning. \
        Everyone agreed that the small blue boat was the best one of all. \
        Then we walked back to town and had lunch together by the square.";

    #[test]
    fn agreeing_audio_has_no_findings_and_page_text_apart() {
        let c = checked(TEXT, HEARD, 0.9);
        assert!(c.findings.is_empty(), "{:?}", c.findings);
        assert_eq!(c.figures.wer, 0.0);
        assert!(c.passed);
        assert_eq!(c.figures.reference_words, 50);
        assert_eq!(c.page_text.len(), 1, "{:?}", c.page_text);
        assert_eq!(c.page_text[0].text, "A Show About Things");
        assert_eq!(c.page_text[0].start, Place { line: 1, column: 1 });
    }

    #[test]
    fn changed_word_with_both_texts_and_its_line() {
        let c = checked(TEXT, &HEARD.replace("Tuesday", "Thursday"), 0.9);
        assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
        let f = &c.findings[0];
        assert_eq!(f.kind, FindingKind::Changed);
        assert_eq!(
            (f.transcript.as_str(), f.audio.as_str()),
            ("Tuesday", "Thursday")
        );
        assert_eq!(
            f.start,
            Place {
                line: 2,
                column: 11
            }
        );
        assert_eq!(
            f.end,
            Place {
                line: 2,
                column: 17
            }
        );
        assert!(!f.low_confidence);
        assert_eq!(c.figures.substitutions, 1);
        assert!((c.figures.wer - 1.0 / 50.0).abs() < 1e-9);
        // "thursday" for "tuesday": 2 char edits.
        assert_eq!(c.figures.char_errors, 2);
        assert!(f
            .summary()
            .starts_with("transcript: \"Tuesday\", audio: \"Thursday\" at 0:0"));
    }

    #[test]
    fn unsure_recognizer_is_low_confidence_and_not_counted() {
        let c = checked(TEXT, &HEARD.replace("Tuesday", "Thursday@0.2"), 0.9);
        assert_eq!(c.findings.len(), 1);
        assert!(c.findings[0].low_confidence);
        assert_eq!(c.low_confidence_findings, 1);
        assert_eq!(c.figures.wer, 0.0);
        assert_eq!(c.figures.reference_words, 50);
        assert!(c.figures_all.wer > 0.0);
        assert!(c.passed);
    }

    #[test]
    fn dropped_sentence_is_unspoken_text_with_its_length() {
        let heard = HEARD.replace(
            "The weather was calm and the water was very clear that morning. ",
            "",
        );
        let c = checked(TEXT, &heard, 0.9);
        assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
        let f = &c.findings[0];
        assert_eq!(f.kind, FindingKind::Unspoken);
        assert_eq!(
            f.transcript,
            "The weather was calm and the water was very clear that morning."
        );
        assert_eq!(f.start.line, 3);
        assert!(f.duration_s > 2.0 && f.duration_s < 8.0, "{}", f.duration_s);
        assert!(!f.low_confidence, "{}", f.confidence);
        assert_eq!(c.figures.insertions, 12);
        assert_eq!(c.figures.reference_words, 38);
        assert!((c.figures.unspoken_s - f.duration_s).abs() < 1e-9);
    }

    #[test]
    fn extra_speech_is_unscripted_where_it_would_go() {
        let heard = HEARD.replace(
            "Everyone agreed",
            "Before we go on a quick word from our sponsor who makes chairs. Everyone agreed",
        );
        let c = checked(TEXT, &heard, 0.9);
        assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
        let f = &c.findings[0];
        assert_eq!(f.kind, FindingKind::Unscripted);
        assert!(f.audio.starts_with("Before we go on"), "{}", f.audio);
        assert!(f.transcript.is_empty());
        // After "morning." on line 3.
        assert_eq!(f.start.line, 3);
        assert_eq!(c.figures.deletions, 13);
        assert!(c.figures.unscripted_s > 3.0);
    }

    #[test]
    fn passage_said_twice() {
        let s = "Everyone agreed that the small blue boat was the best one of all. ";
        let heard = HEARD.replace(s, &format!("{s}{s}"));
        let c = checked(TEXT, &heard, 0.9);
        assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
        let f = &c.findings[0];
        assert_eq!(f.kind, FindingKind::Repeated);
        assert_eq!(f.transcript, s.trim());
        assert_eq!(f.start.line, 4);
        assert!(f.summary().starts_with("said twice"));
    }

    #[test]
    fn thresholds_decide_and_worst_comes_first() {
        let heard = HEARD.replace("Tuesday", "Thursday").replace(
            "The weather was calm and the water was very clear that morning. ",
            "",
        );
        let c = checked(TEXT, &heard, 0.9);
        assert_eq!(c.findings[0].kind, FindingKind::Unspoken);
        assert_eq!(c.findings[1].kind, FindingKind::Changed);
        assert!(!c.passed);
        let failed: Vec<&str> = c
            .verdicts
            .iter()
            .filter(|v| !v.passed)
            .map(|v| v.name)
            .collect();
        assert_eq!(failed, ["wer"]);
    }

    #[test]
    fn lines_and_columns() {
        let l = Lines::new("ab\ncd\n\nef");
        assert_eq!(l.place(0), Place { line: 1, column: 1 });
        assert_eq!(l.place(4), Place { line: 2, column: 2 });
        assert_eq!(l.place(7), Place { line: 4, column: 1 });
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(754_500), "12:34.5");
        assert_eq!(clock(3_723_040), "1:02:03.0");
    }
}
