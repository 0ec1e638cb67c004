//! The published transcript: file bytes -> text (plain, or the main text of
//! an HTML page or a Markdown file, see [`markup`]) -> words with character
//! offsets into the file, plus hints about what is probably not spoken.
//!
//! Offsets are in Unicode scalar values (chars) of the decoded text. A word is
//! a run of characters without white space or dashes (em/en dash) that
//! contains a letter or digit. Hints are generic, never tied to one show:
//! text in square brackets is a cue; a short parenthetical in lower case
//! ("(laughs)") is a cue; "Name:" at the start of a line is a speaker label;
//! a short line without closing punctuation is a title or section header.

pub mod markup;
pub mod normalize;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("transcript '{path}' cannot be read: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error("transcript '{path}' is empty; pass the episode's published transcript, or leave out --transcript to caption from the recognized text")]
    Empty { path: PathBuf },
    #[error("transcript '{path}' looks like a binary file, not text; pass the transcript as plain text (UTF-8)")]
    Binary { path: PathBuf },
    #[error("transcript '{path}' is not valid UTF-8 (first bad byte at offset {offset}); re-save it as UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8")]
    Encoding { path: PathBuf, offset: usize },
}

/// Why a word is probably not spoken, before any audio is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hint {
    /// Ordinary text.
    Text,
    /// A bracketed cue such as `[Theme Music]` or `(laughs)`: never spoken.
    Cue,
    /// A speaker label such as `JOHN:` at the start of a line: never spoken.
    SpeakerLabel,
    /// Part of a short line without closing punctuation: a title or header.
    TitleLine,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TranscriptWord {
    pub text: String,
    pub char_start: usize,
    pub char_end: usize,
    /// 0-based line of the file.
    pub line: usize,
    pub hint: Hint,
    /// First word of its line (a new paragraph).
    pub starts_line: bool,
    /// Who speaks it, when the transcript names speakers ("JOHN:" opening a
    /// line names the speaker of that line and the lines after it).
    pub speaker: Option<String>,
    /// The time the transcript writes just before this word (a label's
    /// `Speaker 1 (00:01:23):`, an inline `[00:01:23]`, a subtitle cue's
    /// start), in ms: when the tool that wrote it heard this word.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Transcript {
    pub path: PathBuf,
    /// Of the file's bytes: what a saved report was aligned to.
    pub sha256: String,
    /// The file's text, decoded; word offsets are chars into it.
    pub text: String,
    pub words: Vec<TranscriptWord>,
}

/// Bytes -> text: UTF-8 (with or without BOM) or UTF-16 with BOM.
pub fn decode_text(path: &Path, bytes: &[u8]) -> Result<String, TranscriptError> {
    let text = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        std::str::from_utf8(rest)
            .map_err(|e| TranscriptError::Encoding {
                path: path.into(),
                offset: e.valid_up_to() + 3,
            })?
            .to_string()
    } else if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let le = bytes[0] == 0xFF;
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| TranscriptError::Encoding {
            path: path.into(),
            offset: 2,
        })?
    } else {
        if bytes.iter().take(8192).any(|&b| b == 0) {
            return Err(TranscriptError::Binary { path: path.into() });
        }
        std::str::from_utf8(bytes)
            .map_err(|e| TranscriptError::Encoding {
                path: path.into(),
                offset: e.valid_up_to(),
            })?
            .to_string()
    };
    if text.chars().any(|c| c == '\0') {
        return Err(TranscriptError::Binary { path: path.into() });
    }
    if text.trim().is_empty() {
        return Err(TranscriptError::Empty { path: path.into() });
    }
    Ok(text)
}

pub fn read(path: &Path) -> Result<Transcript, TranscriptError> {
    let bytes = std::fs::read(path).map_err(|e| TranscriptError::Open {
        path: path.into(),
        detail: e.to_string(),
    })?;
    let text = decode_text(path, &bytes)?;
    let extracted = match markup::detect(path, &text) {
        markup::Markup::Plain => None,
        markup::Markup::Html => Some(markup::from_html(&text)),
        markup::Markup::Markdown => Some(markup::from_markdown(&text)),
        markup::Markup::Subtitles => Some(markup::from_subtitles(&text)),
    };
    let words = match &extracted {
        None => split_words(&text),
        Some(e) => {
            // Words are found in the extracted text; offsets point into the file.
            let mut words = split_words(&e.text);
            // A time the file gives its text (a subtitle cue's) belongs to its
            // first spoken word.
            for (k, &(at, ms)) in e.times_ms.iter().enumerate() {
                let next_at = e.times_ms.get(k + 1).map_or(usize::MAX, |t| t.0);
                if let Some(w) = words
                    .iter_mut()
                    .find(|w| (at..next_at).contains(&w.char_start) && w.hint == Hint::Text)
                {
                    w.written_ms = Some(ms);
                }
            }
            for w in &mut words {
                w.char_start = e.offsets[w.char_start];
                w.char_end = e.offsets[w.char_end - 1] + 1;
            }
            words
        }
    };
    if words.is_empty() {
        return Err(TranscriptError::Empty { path: path.into() });
    }
    Ok(Transcript {
        path: path.into(),
        sha256: crate::fsutil::sha256_bytes(&bytes),
        text,
        words,
    })
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == '—' || c == '–'
}

const CLOSING: &[char] = &['.', '!', '?', ':', ';', '"', '”', '’', ')', ']', '…'];

/// Splits text into words with offsets and hints.
/// The word ends a sentence ("end.", "why?\"", "(laughs.)").
pub fn ends_sentence(text: &str) -> bool {
    let t = text.trim_end_matches(['"', '”', '’', '\'', ')', ']']);
    t.ends_with(['.', '?', '!', '…'])
}

pub fn split_words(text: &str) -> Vec<TranscriptWord> {
    let mut words = Vec::new();
    let mut speaker: Option<String> = None;
    let mut written_ms: Option<u64> = None;
    let mut char_pos = 0usize;
    for (line_no, line) in text.split('\n').enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let line_start = char_pos;
        char_pos += chars.len() + 1;
        // Tokens of this line: (start, end) in chars of the line.
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if is_separator(chars[i]) {
                i += 1;
                continue;
            }
            let s = i;
            while i < chars.len() && !is_separator(chars[i]) {
                i += 1;
            }
            // A dash joining two words stays with the first, so captions keep it.
            while i < chars.len() && (chars[i] == '—' || chars[i] == '–') {
                i += 1;
            }
            tokens.push((s, i));
        }
        // Bracket depth per token start: text inside [...] (or a short lower-case
        // parenthetical) is a cue.
        let mut cue = vec![false; tokens.len()];
        let mut open: Option<(char, usize)> = None;
        for (k, &(s, e)) in tokens.iter().enumerate() {
            let tok = &chars[s..e];
            if open.is_none() && (tok[0] == '[' || tok[0] == '(') {
                open = Some((tok[0], k));
            }
            if let Some((kind, first)) = open {
                let closes = tok.contains(&if kind == '[' { ']' } else { ')' });
                if closes {
                    let span = first..=k;
                    let is_cue = kind == '['
                        || (span.clone().count() <= 2
                            && span.clone().all(|j| {
                                chars[tokens[j].0..tokens[j].1]
                                    .iter()
                                    .all(|c| !c.is_alphabetic() || c.is_lowercase())
                            }));
                    if is_cue {
                        span.for_each(|j| cue[j] = true);
                    }
                    open = None;
                }
            }
        }
        // Times a transcript tool wrote ("[00:01:23]", "(12:05)", "00:01:23")
        // are never spoken.
        for (k, &(s, e)) in tokens.iter().enumerate() {
            if is_timestamp(&chars[s..e]) {
                cue[k] = true;
            }
        }
        let trimmed: String = line.trim().to_string();
        let title_line = !trimmed.is_empty() && !trimmed.ends_with(CLOSING) && tokens.len() <= 12;
        let label = speaker_label(&chars, &tokens, title_line);
        if let Some(label) = &label {
            let name: Vec<String> = tokens[label.names.clone()]
                .iter()
                .map(|&(s, e)| chars[s..e].iter().collect())
                .collect();
            speaker = Some(name.join(" ").trim_end_matches(':').to_string());
        }
        let label_end = label.map(|l| l.end);
        for (k, &(s, e)) in tokens.iter().enumerate() {
            let t: String = chars[s..e].iter().collect();
            let in_label = label_end.is_some_and(|n| k < n);
            if cue[k] || in_label {
                if let Some(ms) = time_ms(&chars[s..e], in_label) {
                    written_ms = Some(ms);
                }
            }
            if !t.chars().any(char::is_alphanumeric) {
                continue;
            }
            let hint = if cue[k] {
                Hint::Cue
            } else if in_label {
                Hint::SpeakerLabel
            } else if title_line {
                Hint::TitleLine
            } else {
                Hint::Text
            };
            words.push(TranscriptWord {
                text: t,
                char_start: line_start + s,
                char_end: line_start + e,
                line: line_no,
                hint,
                starts_line: false,
                speaker: speaker.clone(),
                written_ms: if hint == Hint::Text {
                    written_ms.take()
                } else {
                    None
                },
            });
        }
    }
    for k in 0..words.len() {
        words[k].starts_line = k == 0 || words[k - 1].line != words[k].line;
    }
    words
}

/// A time as transcript tools write them: `0:05`, `01:23`, `1:02:03`,
/// `00:01:23.450`, bare or in brackets or parentheses, perhaps followed by
/// `:` or `,`. Bare, only with hours (`1:02:03`): "at 3:30" is said.
fn is_timestamp(tok: &[char]) -> bool {
    is_time(tok, false)
}

/// [`is_timestamp`], or with `bare_minutes` also a bare `0:05`.
fn is_time(tok: &[char], bare_minutes: bool) -> bool {
    let text: String = tok.iter().collect();
    let text = text.trim_end_matches([':', ',', '-']);
    let (inner, enclosed) = match text.strip_prefix(['[', '(']) {
        Some(rest) => match rest.strip_suffix([']', ')']) {
            Some(inner) => (inner, true),
            None => return false,
        },
        None => (text, false),
    };
    let inner = inner.split(['.', ',']).next().unwrap_or("");
    let parts: Vec<&str> = inner.split(':').collect();
    let digits_ok = parts.len() >= 2
        && parts.len() <= 3
        && parts[0].len() <= 2
        && !parts[0].is_empty()
        && parts[1..].iter().all(|p| p.len() == 2)
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()));
    digits_ok && (enclosed || parts.len() == 3 || bare_minutes)
}

/// The time of a token [`is_time`] accepts, in ms: `1:02:03.450` ->
/// 3 723 450.
fn time_ms(tok: &[char], bare_minutes: bool) -> Option<u64> {
    if !is_time(tok, bare_minutes) {
        return None;
    }
    let text: String = tok.iter().collect();
    let inner = text
        .trim_end_matches([':', ',', '-'])
        .trim_matches(['[', ']', '(', ')']);
    let (clock, fraction) = match inner.split_once(['.', ',']) {
        Some((clock, fraction)) => (clock, fraction),
        None => (inner, ""),
    };
    let seconds = clock
        .split(':')
        .try_fold(0u64, |s, part| Some(s * 60 + part.parse::<u64>().ok()?))?;
    let ms: String = fraction.chars().chain("000".chars()).take(3).collect();
    Some(seconds * 1000 + ms.parse::<u64>().unwrap_or(0))
}

/// A speaker label's tokens on its line.
struct Label {
    /// The name ("Speaker 1", "JOHN").
    names: std::ops::Range<usize>,
    /// The tokens up to here are the label (the name, with a time after it
    /// on a line of its own).
    end: usize,
}

/// A speaker label opening a line: `JOHN:`, `John Peterson:`, `Speaker 1:`,
/// `Speaker 1 (00:01:23):`, `[00:01:23] JOHN:` (the time before it), or a
/// line holding only a name and a time (`John Peterson  0:05`, the speaker
/// of the lines after it). On a short line without closing punctuation, a
/// name with a number is a heading instead ("Chapter 3: The Return"); alone
/// on its line, only a name in capitals or with a number ("JOHN:",
/// "Speaker 2:") is a label, not a heading ("Key Takeaways:").
fn speaker_label(chars: &[char], tokens: &[(usize, usize)], title_line: bool) -> Option<Label> {
    let tok = |k: usize| &chars[tokens[k].0..tokens[k].1];
    let first = usize::from(!tokens.is_empty() && is_timestamp(tok(0)));
    let mut has_number = false;
    for k in first..tokens.len().min(first + 4) {
        let t = tok(k);
        let last = k + 1 == tokens.len();
        if k > first && (is_timestamp(t) || (last && is_time(t, true))) {
            // "Speaker 1 (00:01:23):", or a name and its time alone on a line.
            return (t.last() == Some(&':') || last).then_some(Label {
                names: first..k,
                end: k + 1,
            });
        }
        let number = k > first
            && t.iter()
                .take_while(|c| **c != ':')
                .all(char::is_ascii_digit);
        if !(t[0].is_uppercase() || number) {
            return None;
        }
        has_number |= number;
        if t.last() == Some(&':') {
            if has_number && title_line {
                return None;
            }
            // With the speech after it, or alone on its line before the speech.
            let capitals = (first..=k)
                .flat_map(|j| tok(j).iter())
                .all(|c| !c.is_lowercase());
            return (!last || has_number || capitals).then_some(Label {
                names: first..k + 1,
                end: k + 1,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(text: &str) -> Vec<(String, Hint)> {
        split_words(text)
            .into_iter()
            .map(|w| (w.text, w.hint))
            .collect()
    }

    #[test]
    fn offsets_are_chars_and_dashes_split() {
        let t = "It’s “evil”—that’s all.\nNext line here, fine.";
        let w = split_words(t);
        let texts: Vec<_> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "It’s",
                "“evil”—",
                "that’s",
                "all.",
                "Next",
                "line",
                "here,",
                "fine."
            ]
        );
        let chars: Vec<char> = t.chars().collect();
        for word in &w {
            let s: String = chars[word.char_start..word.char_end].iter().collect();
            assert_eq!(s, word.text);
        }
        assert!(w[4].starts_line && !w[5].starts_line);
    }

    #[test]
    fn cues_labels_and_titles() {
        let h = hints("[Theme Music]\nJOHN: Hello there (laughs) and (not this one) ok.\nBasic facts and figures\nShe said [sic] yes.");
        let of = |s: &str| h.iter().find(|(t, _)| t == s).unwrap().1;
        assert_eq!(of("[Theme"), Hint::Cue);
        assert_eq!(of("Music]"), Hint::Cue);
        assert_eq!(of("JOHN:"), Hint::SpeakerLabel);
        assert_eq!(of("Hello"), Hint::Text);
        assert_eq!(of("(laughs)"), Hint::Cue);
        assert_eq!(of("(not"), Hint::Text);
        assert_eq!(of("Basic"), Hint::TitleLine);
        assert_eq!(of("[sic]"), Hint::Cue);
        let w = split_words("John Peterson: Hello there.\nMore from him.\nANNA: Hi.");
        let speakers: Vec<_> = w.iter().map(|w| w.speaker.as_deref()).collect();
        assert_eq!(
            speakers,
            [&[Some("John Peterson"); 7][..], &[Some("ANNA"); 2]].concat()
        );
        assert_eq!(of("yes."), Hint::Text);
    }

    #[test]
    fn speaker_labels_and_times_as_transcript_tools_write_them() {
        let text = "Speaker 1 (00:01:23):\nHello and welcome.\n\
                    [00:01:30] JOHN: Thanks for having me.\n\
                    John Peterson  0:05\nGlad to be here [00:02:10] today.\n\
                    Speaker 2: At 3:30 we met, 1:02:03 later we left.\n\
                    Chapter 3: The Return\n\
                    Key Takeaways:\n\
                    ANNA:\nSo.\n\
                    ANNA (12:05): Right (laughs) [crosstalk] yes.";
        let w = split_words(text);
        let spoken: Vec<&str> = w
            .iter()
            .filter(|w| w.hint == Hint::Text)
            .map(|w| w.text.as_str())
            .collect();
        assert_eq!(
            spoken,
            [
                "Hello",
                "and",
                "welcome.",
                "Thanks",
                "for",
                "having",
                "me.",
                "Glad",
                "to",
                "be",
                "here",
                "today.",
                "At",
                "3:30",
                "we",
                "met,",
                "later",
                "we",
                "left.",
                "Key",
                "Takeaways:",
                "So.",
                "Right",
                "yes."
            ]
        );
        let speaker_of = |word: &str| {
            w.iter()
                .find(|x| x.text == word)
                .and_then(|x| x.speaker.clone())
                .unwrap_or_default()
        };
        assert_eq!(speaker_of("welcome."), "Speaker 1");
        assert_eq!(speaker_of("Thanks"), "JOHN");
        assert_eq!(speaker_of("Glad"), "John Peterson");
        assert_eq!(speaker_of("met,"), "Speaker 2");
        assert_eq!(speaker_of("Right"), "ANNA");
        assert_eq!(speaker_of("Takeaways:"), "Speaker 2");
        assert_eq!(speaker_of("So."), "ANNA");
        let hint_of = |word: &str| w.iter().find(|x| x.text == word).unwrap().hint;
        assert_eq!(hint_of("Peterson"), Hint::SpeakerLabel);
        assert_eq!(hint_of("0:05"), Hint::SpeakerLabel);
        assert_eq!(hint_of("1:02:03"), Hint::Cue);
        // A heading with a number is a heading, not a speaker.
        assert_eq!(hint_of("Chapter"), Hint::TitleLine);
        assert_eq!(hint_of("Return"), Hint::TitleLine);
    }

    #[test]
    fn written_times_belong_to_the_next_spoken_word() {
        let text = "Speaker 1 (00:01:23):\nHello and welcome.\n\
                    [00:01:30.5] JOHN: Thanks.\n\
                    John Peterson  0:05\nGlad to be here [1:02:03] today.\n\
                    Speaker 2: At 3:30 we met.";
        let words = split_words(text);
        let times: Vec<(&str, u64)> = words
            .iter()
            .filter_map(|w| Some((w.text.as_str(), w.written_ms?)))
            .collect();
        assert_eq!(
            times,
            [
                ("Hello", 83_000),
                ("Thanks.", 90_500),
                ("Glad", 5_000),
                ("today.", 3_723_000)
            ]
        );
    }

    #[test]
    fn encodings() {
        let p = Path::new("t.txt");
        assert_eq!(decode_text(p, b"\xEF\xBB\xBFhi").unwrap(), "hi");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("hé".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode_text(p, &utf16).unwrap(), "hé");
        assert!(matches!(
            decode_text(p, b"caf\xE9 latte"),
            Err(TranscriptError::Encoding { offset: 3, .. })
        ));
        assert!(matches!(
            decode_text(p, b"  \n\t"),
            Err(TranscriptError::Empty { .. })
        ));
        assert!(matches!(
            decode_text(p, b"\x00\x01\x02abc"),
            Err(TranscriptError::Binary { .. })
        ));
    }

    #[test]
    fn html_words_keep_offsets_into_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("episode.html");
        let src = "<html><body><nav>Menu</nav><article><h2>Intro</h2><p>It&rsquo;s a <em>good</em> day.</p></article></body></html>";
        std::fs::write(&path, src).unwrap();
        let t = read(&path).unwrap();
        let texts: Vec<&str> = t.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Intro", "It’s", "a", "good", "day."]);
        let chars: Vec<char> = src.chars().collect();
        let span = |w: &TranscriptWord| chars[w.char_start..w.char_end].iter().collect::<String>();
        assert_eq!(span(&t.words[4]), "day.");
        assert_eq!(span(&t.words[1]), "It&rsquo;s");
        assert_eq!(t.words[0].hint, Hint::TitleLine);
    }

    #[test]
    fn a_subtitle_cue_time_belongs_to_its_first_spoken_word() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("episode.srt");
        let src = "1\n00:00:01,000 --> 00:00:02,000\n[Music]\n\n2\n00:00:02,500 --> 00:00:04,000\nHello there.\n\n3\n00:00:04,100 --> 00:00:05,000\nAnd welcome.\n";
        std::fs::write(&path, src).unwrap();
        let t = read(&path).unwrap();
        let times: Vec<(&str, u64)> = t
            .words
            .iter()
            .filter_map(|w| Some((w.text.as_str(), w.written_ms?)))
            .collect();
        // The cue with no spoken word gives its time to none.
        assert_eq!(times, [("Hello", 2_500), ("And", 4_100)]);
    }
}
