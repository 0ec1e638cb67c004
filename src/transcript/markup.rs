//! Transcripts saved as a web page (HTML) or written in Markdown: the text a
//! reader sees, with every character's offset in the original file, so words
//! keep their offsets into the file as given.
//!
//! HTML: the main text only: inside `<main>` (or else `<article>`, or else
//! the body), without scripts, styles, navigation, headers, footers, asides
//! and forms; block elements end lines; entities are decoded. Markdown:
//! headings, emphasis, links, images, list and quote markers and code fences
//! are stripped to their text.

/// Extracted text and, for each of its chars, the char offset in the source
/// (plus one entry for the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub offsets: Vec<usize>,
    /// Times the file gives its text (a subtitle cue's start): (char offset
    /// into `text` where the timed text begins, ms).
    pub times_ms: Vec<(usize, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    Plain,
    Html,
    Markdown,
    /// SRT or WebVTT given as the transcript.
    Subtitles,
}

/// Guesses the markup from the file name, then from the content.
pub fn detect(path: &std::path::Path, text: &str) -> Markup {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" | "xhtml" => return Markup::Html,
        "md" | "markdown" => return Markup::Markdown,
        "srt" | "vtt" => return Markup::Subtitles,
        _ => {}
    }
    let mut lines = text.trim_start_matches('\u{feff}').lines().map(str::trim);
    let first = lines.by_ref().find(|l| !l.is_empty()).unwrap_or("");
    if first.starts_with("WEBVTT")
        || (first.chars().all(|c| c.is_ascii_digit())
            && lines.next().is_some_and(|l| l.contains("-->")))
    {
        return Markup::Subtitles;
    }
    let head: String = text
        .trim_start()
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        Markup::Html
    } else {
        Markup::Plain
    }
}

struct Builder {
    text: String,
    offsets: Vec<usize>,
    times_ms: Vec<(usize, u64)>,
}

impl Builder {
    fn push(&mut self, c: char, at: usize) {
        self.text.push(c);
        self.offsets.push(at);
    }

    /// A space, unless the text already ends in white space.
    fn space(&mut self, at: usize) {
        if !self.text.is_empty() && !self.text.ends_with(char::is_whitespace) {
            self.push(' ', at);
        }
    }

    fn newline(&mut self, at: usize) {
        while self.text.ends_with(' ') {
            self.text.pop();
            self.offsets.pop();
        }
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.push('\n', at);
        }
    }

    /// Text at `chars[i]` (an entity such as `&amp;` ending before `limit`
    /// decoded, white space as one space); returns the index after it.
    fn text_char(&mut self, chars: &[char], i: usize, limit: usize) -> usize {
        let c = chars[i];
        if c == '&' {
            let semi = (i + 1..limit.min(i + 12)).find(|&k| chars[k] == ';');
            if let Some(k) = semi {
                if let Some(decoded) = entity(&chars[i + 1..k].iter().collect::<String>()) {
                    if decoded == ' ' {
                        self.space(i);
                    } else {
                        self.push(decoded, i);
                    }
                    return k + 1;
                }
            }
        }
        if c.is_whitespace() {
            self.space(i);
        } else {
            self.push(c, i);
        }
        i + 1
    }

    fn finish(mut self, end: usize) -> Extracted {
        self.offsets.push(end);
        Extracted {
            text: self.text,
            offsets: self.offsets,
            times_ms: self.times_ms,
        }
    }
}

const SKIPPED: &[&str] = &[
    "script", "style", "nav", "header", "footer", "aside", "noscript", "template", "svg", "form",
    "button", "iframe", "select", "head", "title",
];
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "blockquote",
    "tr",
    "dt",
    "dd",
    "ul",
    "ol",
    "table",
    "main",
    "figure",
    "figcaption",
    "pre",
    "hr",
    "body",
];

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "rsquo" => '’',
        "lsquo" => '‘',
        "rdquo" => '”',
        "ldquo" => '“',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)?
        }
    })
}

/// Name of the tag starting at `chars[i] == '<'`, lower case, and whether it closes.
fn tag_at(chars: &[char], i: usize) -> Option<(String, bool, usize)> {
    let mut j = i + 1;
    let closing = chars.get(j) == Some(&'/');
    if closing {
        j += 1;
    }
    let start = j;
    while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '-') {
        j += 1;
    }
    if j == start {
        return None;
    }
    let name: String = chars[start..j]
        .iter()
        .collect::<String>()
        .to_ascii_lowercase();
    let end = (j..chars.len()).find(|&k| chars[k] == '>')?;
    Some((name, closing, end))
}

pub fn from_html(src: &str) -> Extracted {
    let chars: Vec<char> = src.chars().collect();
    let lower = src.to_ascii_lowercase();
    // The main text's container: <main>, else <article>, else everything.
    let container = ["main", "article"]
        .into_iter()
        .find(|t| lower.contains(&format!("<{t}")));
    let mut out = Builder {
        text: String::new(),
        offsets: Vec::new(),
        times_ms: Vec::new(),
    };
    let mut inside = container.is_none();
    let mut skip: Option<(String, usize)> = None; // tag being skipped, nesting depth
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '<' {
            if chars[i..].starts_with(&['<', '!', '-', '-']) {
                let rest: String = chars[i..].iter().collect();
                let end = rest
                    .find("-->")
                    .map_or(chars.len(), |e| i + rest[..e].chars().count() + 3);
                i = end;
                continue;
            }
            if let Some((name, closing, end)) = tag_at(&chars, i) {
                let self_closing = chars[end - 1] == '/';
                if let Some((skipped, depth)) = &mut skip {
                    if *skipped == name {
                        if closing {
                            *depth -= 1;
                        } else if !self_closing {
                            *depth += 1;
                        }
                        if *depth == 0 {
                            skip = None;
                        }
                    }
                } else if Some(name.as_str()) == container {
                    inside = !closing;
                    out.newline(i);
                } else if !closing && !self_closing && SKIPPED.contains(&name.as_str()) {
                    skip = Some((name, 1));
                } else if BLOCKS.contains(&name.as_str()) && inside {
                    out.newline(i);
                }
                i = end + 1;
                continue;
            }
        }
        if skip.is_some() || !inside {
            i += 1;
            continue;
        }
        i = out.text_char(&chars, i, chars.len());
    }
    out.finish(chars.len())
}

pub fn from_markdown(src: &str) -> Extracted {
    let mut out = Builder {
        text: String::new(),
        offsets: Vec::new(),
        times_ms: Vec::new(),
    };
    let mut pos = 0usize; // char offset of the current line
    let mut in_fence = false;
    for line in src.split('\n') {
        let chars: Vec<char> = line.chars().collect();
        let line_start = pos;
        pos += chars.len() + 1;
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            out.newline(line_start);
            continue;
        }
        if in_fence {
            continue;
        }
        // Block markers: heading hashes, quote marks, list bullets and numbers.
        let mut i = chars.iter().take_while(|c| c.is_whitespace()).count();
        loop {
            let rest = &chars[i..];
            let skip = if rest.first() == Some(&'>') {
                1
            } else if rest.first() == Some(&'#') {
                rest.iter().take_while(|&&c| c == '#').count()
            } else if matches!(rest, ['-' | '*' | '+', ' ', ..]) {
                1
            } else {
                let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0
                    && matches!(rest.get(digits), Some('.') | Some(')'))
                    && rest.get(digits + 1) == Some(&' ')
                {
                    digits + 1
                } else {
                    0
                }
            };
            if skip == 0 {
                break;
            }
            i += skip;
            i += chars[i..].iter().take_while(|c| c.is_whitespace()).count();
        }
        while i < chars.len() {
            let c = chars[i];
            // ![alt](url): dropped; [text](url): text kept.
            if c == '!' && chars.get(i + 1) == Some(&'[') {
                if let Some(end) = link_end(&chars, i + 1) {
                    i = end;
                    continue;
                }
            }
            if c == '[' {
                if let Some(end) = link_end(&chars, i) {
                    let close = (i..end).find(|&k| chars[k] == ']').expect("a link has a ]");
                    for (k, &ch) in chars.iter().enumerate().take(close).skip(i + 1) {
                        out.push(ch, line_start + k);
                    }
                    i = end;
                    continue;
                }
            }
            let emphasis = c == '*'
                || c == '`'
                || (c == '_' && {
                    // `_` marks emphasis at a word edge, not inside snake_case.
                    let before = i.checked_sub(1).map(|k| chars[k]);
                    let after = chars.get(i + 1).copied();
                    !(before.is_some_and(char::is_alphanumeric)
                        && after.is_some_and(char::is_alphanumeric))
                });
            if !emphasis {
                out.push(c, line_start + i);
            }
            i += 1;
        }
        out.newline(line_start + chars.len());
    }
    out.finish(src.chars().count())
}

/// A cue time, `01:02:03,450` (SRT) or `01:02:03.450` / `02:03.450` (WebVTT), in ms.
fn cue_time_ms(text: &str) -> Option<u64> {
    let (clock, ms) = text.trim().split_once([',', '.'])?;
    let mut s = 0u64;
    for part in clock.split(':') {
        s = s * 60 + part.parse::<u64>().ok()?;
    }
    Some(s * 1000 + ms.get(..3)?.parse::<u64>().ok()?)
}

/// SRT or WebVTT given as the transcript: the cues' text as flowing
/// paragraphs (a new one where the speaker changes or cues are 2 s or more
/// apart, so a cue's line breaks make no headings), without cue numbers,
/// times, settings, NOTE, STYLE and REGION blocks, or tags. A `<v Name>`
/// voice opens its paragraph with a `Name:` label where the speaker changes.
pub fn from_subtitles(src: &str) -> Extracted {
    let mut out = Builder {
        text: String::new(),
        offsets: Vec::new(),
        times_ms: Vec::new(),
    };
    let chars: Vec<char> = src.chars().collect();
    // Lines as (start, end) char ranges.
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &c) in chars.iter().enumerate() {
        if c == '\n' {
            lines.push((start, i));
            start = i + 1;
        }
    }
    lines.push((start, chars.len()));
    let line = |k: usize| -> String {
        let (a, b) = lines[k];
        chars[a..b].iter().collect::<String>().trim().to_string()
    };
    let mut speaker: Option<String> = None;
    let mut last_end_ms: Option<u64> = None;
    let mut k = 0;
    while k < lines.len() {
        // A block runs to the next blank line; only a block with a timing line is a cue.
        let block_end = (k..lines.len())
            .find(|&j| line(j).is_empty())
            .unwrap_or(lines.len());
        let timing = (k..block_end).find(|&j| line(j).contains("-->"));
        if let Some(t) = timing {
            let times = line(t);
            let (from, to) = times.split_once("-->").expect("a timing line");
            let start_ms = cue_time_ms(from);
            let end_ms = to.split_whitespace().next().and_then(cue_time_ms);
            if let (Some(s), Some(last)) = (start_ms, last_end_ms) {
                if s >= last + 2000 {
                    out.newline(lines[t].0);
                }
            }
            last_end_ms = end_ms.or(last_end_ms);
            if let Some(ms) = start_ms {
                out.times_ms.push((out.offsets.len(), ms));
            }
            for j in t + 1..block_end {
                let (a, b) = lines[j];
                let mut i = a;
                while i < b {
                    let c = chars[i];
                    if c == '<' || c == '{' {
                        let close = if c == '<' { '>' } else { '}' };
                        let Some(end) = (i..b).find(|&e| chars[e] == close) else {
                            out.push(c, i);
                            i += 1;
                            continue;
                        };
                        // <v Name> or <v.loud Name>: a voice.
                        if c == '<' && chars.get(i + 1) == Some(&'v') {
                            let tag: String = chars[i + 2..end].iter().collect();
                            let name_at = tag.find(' ').map(|p| p + 1);
                            if let Some(p) = name_at {
                                let name = tag[p..].trim().to_string();
                                if !name.is_empty() && speaker.as_deref() != Some(name.as_str()) {
                                    out.newline(i);
                                    let first = i + 2 + tag[..p].chars().count();
                                    for (n, ch) in tag[p..].trim_end().chars().enumerate() {
                                        out.push(ch, first + n);
                                    }
                                    out.push(':', end);
                                    out.push(' ', end);
                                    speaker = Some(name);
                                }
                            }
                        }
                        i = end + 1;
                        continue;
                    }
                    i = out.text_char(&chars, i, b);
                }
                out.space(b);
            }
        }
        k = block_end + 1;
    }
    while out.text.ends_with(' ') {
        out.text.pop();
        out.offsets.pop();
    }
    out.finish(chars.len())
}

/// `[text](url)` starting at `chars[i] == '['`: the index after `)`.
fn link_end(chars: &[char], i: usize) -> Option<usize> {
    let close = (i + 1..chars.len()).find(|&k| chars[k] == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let paren = (close + 2..chars.len()).find(|&k| chars[k] == ')')?;
    Some(paren + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_offsets(src: &str, e: &Extracted) {
        let s: Vec<char> = src.chars().collect();
        assert_eq!(e.offsets.len(), e.text.chars().count() + 1);
        for (k, c) in e.text.chars().enumerate() {
            if !c.is_whitespace() && s[e.offsets[k]] != '&' {
                assert_eq!(s[e.offsets[k]], c, "char {k} of {:?}", e.text);
            }
        }
    }

    #[test]
    fn html_main_text_only() {
        let src = "<!doctype html><html><head><title>T</title><style>p{}</style></head><body>\
            <nav><a href=/>Home</a></nav><header>Site</header><main><h1>Episode 5</h1>\
            <p>Hello&nbsp;there, it&rsquo;s   me &amp; you.</p><script>var x = '<p>no</p>';</script>\
            <p>Second <b>paragraph</b>.<!-- hidden --></p></main><footer>Copyright</footer></body></html>";
        let e = from_html(src);
        assert_eq!(
            e.text,
            "Episode 5\nHello there, it’s me & you.\nSecond paragraph.\n"
        );
        check_offsets(src, &e);
    }

    #[test]
    fn html_without_main_uses_the_body() {
        let src = "<html><body><div>One two.</div><aside>Ad</aside><div>Three &#8212; four&#x2e;</div></body></html>";
        assert_eq!(from_html(src).text, "One two.\nThree — four.\n");
    }

    #[test]
    fn markdown_to_text() {
        let src = "# Episode 5\n\n> **JOHN:** Hello [there](https://x.org), it's _me_.\n\n- one\n1. two ![img](a.png)\n```\ncode\n```\nsnake_case stays";
        let e = from_markdown(src);
        assert_eq!(
            e.text,
            "Episode 5\nJOHN: Hello there, it's me.\none\ntwo\nsnake_case stays\n"
        );
        check_offsets(src, &e);
    }

    #[test]
    fn subtitles_to_flowing_text() {
        let srt = "1\n00:00:01,000 --> 00:00:03,500\nHello and welcome\nto the show.\n\n2\n00:00:03,600 --> 00:00:05,000\n<i>Today</i> we talk\n\n3\n00:00:09,000 --> 00:00:10,000\nabout R&amp;D.\n";
        let e = from_subtitles(srt);
        assert_eq!(
            e.text,
            "Hello and welcome to the show. Today we talk\nabout R&D."
        );
        check_offsets(srt, &e);
        // Each cue's start, where its text begins.
        assert_eq!(e.times_ms, [(0, 1000), (31, 3600), (45, 9000)]);
        let vtt = "WEBVTT\n\nNOTE made by hand\n\n00:01.000 --> 00:02.000 align:start\n<v Ann Lee>Hi there.\n\nintro\n00:02.100 --> 00:03.000\n<v Ann Lee>Still me.\n\n00:03.100 --> 00:04.000\n<v.loud Bo>And me.\n";
        let e = from_subtitles(vtt);
        assert_eq!(e.text, "Ann Lee: Hi there. Still me.\nBo: And me.");
        assert_eq!(
            detect(std::path::Path::new("t.txt"), vtt),
            Markup::Subtitles
        );
        assert_eq!(
            detect(std::path::Path::new("t.txt"), srt),
            Markup::Subtitles
        );
        assert_eq!(
            detect(std::path::Path::new("t.txt"), "1\nHello"),
            Markup::Plain
        );
    }

    #[test]
    fn detection() {
        use std::path::Path;
        assert_eq!(detect(Path::new("a.md"), "x"), Markup::Markdown);
        assert_eq!(
            detect(Path::new("a.txt"), "  <!DOCTYPE html><p>"),
            Markup::Html
        );
        assert_eq!(detect(Path::new("a.txt"), "Hello <b>"), Markup::Plain);
    }
}
