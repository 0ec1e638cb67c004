//! The review page: one self-contained HTML file (no external scripts or
//! styles) with an audio player, the transcript coloured by word status and
//! confidence (clicking a word plays from there), and the list of places where
//! transcript and audio disagree, each a link that seeks.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::{CaptionDoc, Format};
use crate::align::{UnspokenReason, WordStatus};

pub struct ReviewPage;

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn clock(ms: u64) -> String {
    format!("{}:{:04.1}", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
}

/// `target` relative to `base` (both made absolute), as a URL path.
fn relative_url(target: &Path, base: &Path) -> String {
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(p))
    };
    let (t, b) = (abs(target), abs(base));
    let tc: Vec<Component> = t.components().collect();
    let bc: Vec<Component> = b.components().collect();
    let common = tc.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    let mut rel = PathBuf::new();
    for _ in common..bc.len() {
        rel.push("..");
    }
    for c in &tc[common..] {
        rel.push(c.as_os_str());
    }
    rel.to_string_lossy()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

const STYLE: &str = "
body{font:16px/1.6 system-ui,sans-serif;margin:0;color:#222}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:.6em 1.2em;z-index:1}
header h1{font-size:1.1em;margin:0 0 .3em}
audio{width:100%}
.legend span{margin-right:1em}
main{display:grid;grid-template-columns:minmax(0,3fr) minmax(16em,1fr);gap:2em;padding:1em 1.2em}
#transcript p{margin:0 0 .9em}
.w{cursor:pointer;border-radius:3px}
.w:hover{outline:1px solid #888}
.matched{background:rgba(46,160,67,calc(.35 - .35*var(--c)))}
.substituted{background:#ffd8a8}
.interpolated{background:#d0ebff;font-style:italic}
.unspoken{color:#999;text-decoration:line-through;cursor:default}
.now{outline:2px solid #1c7ed6}
aside h2{font-size:1em}
aside ol{padding-left:1.2em;font-size:.9em}
aside a{font-variant-numeric:tabular-nums;margin-right:.4em}
";

const SCRIPT: &str = "
const player = document.getElementById('player');
document.addEventListener('click', (event) => {
  const target = event.target.closest('[data-start]');
  if (!target) return;
  event.preventDefault();
  player.currentTime = parseFloat(target.dataset.start);
  const playing = player.play();
  if (playing) playing.catch(() => {});
});
const timed = Array.from(document.querySelectorAll('.w[data-start]'));
let current = null;
player.addEventListener('timeupdate', () => {
  const t = player.currentTime;
  let lo = 0, hi = timed.length - 1, found = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (parseFloat(timed[mid].dataset.start) <= t) { found = timed[mid]; lo = mid + 1; } else { hi = mid - 1; }
  }
  if (found !== current) {
    if (current) current.classList.remove('now');
    if (found) found.classList.add('now');
    current = found;
  }
});
";

impl Format for ReviewPage {
    fn extension(&self) -> &'static str {
        "review.html"
    }

    fn render(&self, doc: &CaptionDoc) -> Vec<u8> {
        let r = doc.report;
        let name = Path::new(&r.episode.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut out = String::new();
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>podcap review: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n<audio id=\"player\" controls preload=\"metadata\" src=\"{}\"></audio>\n<div class=\"legend\"><span class=\"matched\" style=\"--c:0.3\">matched (darker: less sure)</span><span class=\"substituted\">heard differently</span><span class=\"interpolated\">not recognized, time estimated</span><span class=\"unspoken\">not spoken</span></div>\n</header>\n<main>\n<section id=\"transcript\">\n<p>",
            html(&name),
            html(&name),
            html(&relative_url(Path::new(&r.episode.path), doc.out_dir))
        );
        for (k, w) in r.words.iter().enumerate() {
            if k > 0 && w.starts_line {
                out.push_str("</p>\n<p>");
            } else if k > 0 && !r.words[k - 1].text.ends_with(['—', '–']) {
                out.push(' ');
            }
            let class = match w.status {
                WordStatus::Matched => "matched",
                WordStatus::Substituted => "substituted",
                WordStatus::Interpolated => "interpolated",
                WordStatus::Unspoken => "unspoken",
            };
            match w.start_ms {
                Some(start) if w.status != WordStatus::Unspoken => {
                    let title = match &w.heard {
                        Some(h) => format!("{} (heard: {h})", clock(start)),
                        None => format!("{} ({:.0}%)", clock(start), w.confidence * 100.0),
                    };
                    let _ = write!(
                        out,
                        "<span class=\"w {class}\" style=\"--c:{:.2}\" data-start=\"{:.3}\" title=\"{}\">{}</span>",
                        w.confidence,
                        start as f64 / 1000.0,
                        html(&title),
                        html(&w.text)
                    );
                }
                _ => {
                    let _ = write!(out, "<span class=\"w {class}\">{}</span>", html(&w.text));
                }
            }
        }
        out.push_str(
            "</p>\n</section>\n<aside>\n<h2>Where transcript and audio disagree</h2>\n<ol>\n",
        );
        let mut items: Vec<(u64, String)> = Vec::new();
        for s in &r.substitutions {
            items.push((
                s.start_ms,
                format!(
                    "transcript: “{}”, audio: “{}”",
                    html(&s.transcript),
                    html(&s.audio)
                ),
            ));
        }
        for u in &r.unscripted {
            items.push((
                u.start_ms,
                format!("not in the transcript: “{}”", html(&u.text)),
            ));
        }
        for u in r
            .unspoken
            .iter()
            .filter(|u| u.reason == UnspokenReason::NotHeard)
        {
            items.push((u.near_ms, format!("not in the audio: “{}”", html(&u.text))));
        }
        items.sort_by_key(|i| i.0);
        let page_text = r
            .unspoken
            .iter()
            .filter(|u| u.reason == UnspokenReason::PageText)
            .count();
        if page_text > 0 {
            let _ = writeln!(out, "<li>{page_text} passage(s) of page text around the episode are not in the audio (struck through)</li>");
        }
        for (ms, text) in items {
            let _ = writeln!(
                out,
                "<li><a href=\"#\" data-start=\"{:.3}\">{}</a>{text}</li>",
                ms as f64 / 1000.0,
                clock(ms)
            );
        }
        let _ = write!(
            out,
            "</ol>\n</aside>\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
        );
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls() {
        let dir = std::env::temp_dir().join("podcap-review-test/a b");
        std::fs::create_dir_all(&dir).unwrap();
        let out = std::env::temp_dir().join("podcap-review-test/out");
        std::fs::create_dir_all(&out).unwrap();
        assert_eq!(
            relative_url(&dir.join("ep 1.mp3"), &out),
            "../a%20b/ep%201.mp3"
        );
    }
}
