//! Captions and the review page in a real browser (headless Chromium, from
//! Debian; scripts/setup installs it): what players will see.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// Loads `page` in headless Chromium and returns the DOM after its scripts ran.
fn chromium_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--autoplay-policy=no-user-gesture-required",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("chromium: {e}; run scripts/setup, which installs it"));
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of `<pre id="result">` in a dumped DOM, as JSON.
fn result(dom: &str) -> Value {
    let start = dom
        .find("<pre id=\"result\">")
        .expect("the page wrote a result")
        + "<pre id=\"result\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A page that loads `vtt` as a text track and writes its cues (start, end,
/// text as the browser renders it, voice) into `<pre id="result">`.
fn track_page(dir: &Path, vtt: &str) -> PathBuf {
    std::fs::write(dir.join("cues.vtt"), vtt).unwrap();
    let page = dir.join("track.html");
    std::fs::write(
        &page,
        r#"<!doctype html><html><body><video><track id="t" kind="captions" src="cues.vtt"></video><pre id="result">pending</pre>
<script>
const t = document.getElementById('t');
function dump() {
  const cues = Array.from(t.track.cues).map(c => {
    const frag = c.getCueAsHTML();
    const voice = frag.querySelector ? frag.querySelector('span[title]') : null;
    return {start: c.startTime, end: c.endTime, text: frag.textContent, voice: voice ? voice.title : null};
  });
  document.getElementById('result').textContent = JSON.stringify(cues);
}
t.addEventListener('load', dump);
t.addEventListener('error', () => document.getElementById('result').textContent = '"error"');
t.track.mode = 'hidden';
</script></body></html>"#,
    )
    .unwrap();
    page
}

#[test]
fn browser_reads_the_sample_cues_as_the_json_says() {
    let dir = sample_outputs();
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("sample.json")).unwrap()).unwrap();
    let page_dir = tempfile::tempdir().unwrap();
    let cues = result(&chromium_dom(&track_page(
        page_dir.path(),
        &std::fs::read_to_string(dir.join("sample.vtt")).unwrap(),
    )));
    let cues = cues.as_array().expect("cues");
    let want = json["cues"].as_array().unwrap();
    assert_eq!(cues.len(), want.len());
    for k in [0, want.len() / 2, want.len() - 1] {
        let (got, want) = (&cues[k], &want[k]);
        assert_eq!(
            (got["start"].as_f64().unwrap() * 1000.0).round() as u64,
            want["start_ms"].as_u64().unwrap(),
            "cue {k}"
        );
        assert_eq!(
            (got["end"].as_f64().unwrap() * 1000.0).round() as u64,
            want["end_ms"].as_u64().unwrap(),
            "cue {k}"
        );
        let lines: Vec<&str> = want["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(got["text"].as_str().unwrap(), lines.join("\n"), "cue {k}");
    }
}

#[test]
fn browser_reads_hours_escapes_and_voices() {
    use podcap::captions::{vtt, Cue};
    let cue = |start_ms: u64, lines: &[&str], speaker: Option<&str>| Cue {
        start_ms,
        end_ms: start_ms + 2500,
        lines: lines.iter().map(|l| l.to_string()).collect(),
        first_word: 0,
        last_word: 0,
        speaker: speaker.map(str::to_string),
    };
    let cues = [
        cue(
            3_600_000 + 2_004,
            &["R&D at <Acme> & co.", "profits --> up"],
            Some("John Peterson"),
        ),
        cue(
            2 * 3_600_000 + 59 * 60_000 + 59_000,
            &["Last words."],
            Some("ANNA"),
        ),
        cue(3 * 3_600_000 + 5_000, &["No speaker here."], None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let got = result(&chromium_dom(&track_page(
        dir.path(),
        &vtt::render_cues(&cues, "Transcript: t-->x.txt"),
    )));
    let got = got.as_array().expect("cues");
    assert_eq!(got.len(), 3);
    for (g, c) in got.iter().zip(&cues) {
        assert_eq!(
            (g["start"].as_f64().unwrap() * 1000.0).round() as u64,
            c.start_ms
        );
        assert_eq!(
            (g["end"].as_f64().unwrap() * 1000.0).round() as u64,
            c.end_ms
        );
        assert_eq!(g["text"].as_str().unwrap(), c.text());
        assert_eq!(g["voice"].as_str(), c.speaker.as_deref());
    }
}

#[test]
fn review_page_loads_cleanly_and_seeks_on_click() {
    let dir = sample_outputs();
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("sample.json")).unwrap()).unwrap();
    let page = std::fs::read_to_string(dir.join("sample.review.html")).unwrap();
    // The harness: record errors before the page's own script runs, click a
    // word once the page has loaded, and write what happened.
    let catch = "<script>window.__errors=[];addEventListener('error',e=>__errors.push(String(e.message)));\
        const ce=console.error;console.error=(...a)=>{__errors.push(a.join(' '));ce(...a)};</script>";
    let probe = r#"<pre id="result">pending</pre><script>
addEventListener('load', () => {
  const words = document.querySelectorAll('#transcript .w[data-start]');
  const word = words[Math.floor(words.length / 2)];
  word.click();
  const link = document.querySelector('aside a[data-start]');
  const player = document.getElementById('player');
  const afterWord = player.currentTime;
  link.click();
  document.getElementById('result').textContent = JSON.stringify({
    errors: __errors, word: word.textContent, word_start: parseFloat(word.dataset.start), after_word: afterWord,
    link_start: parseFloat(link.dataset.start), after_link: player.currentTime, words: words.length,
    src: player.getAttribute('src')
  });
});
</script>"#;
    let harness = page
        .replacen("<head>", &format!("<head>{catch}"), 1)
        .replacen("</body>", &format!("{probe}</body>"), 1);
    let harness_path = dir.join("harness.html");
    std::fs::write(&harness_path, harness).unwrap();
    let r = result(&chromium_dom(&harness_path));
    assert_eq!(
        r["errors"].as_array().unwrap().len(),
        0,
        "console errors: {}",
        r["errors"]
    );
    assert!(
        (r["after_word"].as_f64().unwrap() - r["word_start"].as_f64().unwrap()).abs() < 0.001,
        "{r}"
    );
    assert!(
        (r["after_link"].as_f64().unwrap() - r["link_start"].as_f64().unwrap()).abs() < 0.001,
        "{r}"
    );
    // The clicked word's start is that word's start in the JSON.
    let start_ms = (r["word_start"].as_f64().unwrap() * 1000.0).round() as u64;
    assert!(
        json["words"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["start_ms"].as_u64() == Some(start_ms) && w["text"] == r["word"]),
        "{r}"
    );
    let timed = json["words"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["status"] != "unspoken")
        .count();
    assert_eq!(r["words"].as_u64().unwrap() as usize, timed);
    // The player points at the episode.
    let src = r["src"].as_str().unwrap();
    assert!(
        src.ends_with("samples/sample.mp3") && std::fs::canonicalize(dir.join(src)).is_ok(),
        "{src}"
    );
}
