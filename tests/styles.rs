//! Transcripts as podcast tools export them, captioned on the real model from
//! shows synthesized by two speech engines: speaker labels with times
//! (`Speaker 1 (00:00:05):` alone on its line, `[00:00:40] JOHN:`,
//! `Anna Lee  1:05`), bold speaker names in Markdown and HTML, chapter
//! headings (`Chapter 2: Title`, `## Title`, numbered), times in the text,
//! cues and stage directions (`[crosstalk]`, `[inaudible]`, `(laughs)`), show
//! notes with links, an ad read the transcript does not have. No caption
//! holds a label, a time, a heading or a note, at least 99.5% of the spoken
//! words are captioned, and every cue is within the hard limits.

use crate::util::*;
use std::path::Path;

/// Synthesizes `transcript` with `scripts/make-sample` (one voice per named
/// speaker), captions it and checks what every show must hold. Returns the
/// report, the ground truth, the WebVTT and what `caption` printed.
fn caption_show(
    transcript: &Path,
    engine: &str,
    extra: &[&str],
) -> (serde_json::Value, serde_json::Value, String, String) {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let ext = transcript.extension().unwrap().to_str().unwrap();
    let mut args = vec!["--engine", engine, "--voice-per-speaker"];
    args.extend_from_slice(extra);
    make_sample(transcript.to_str().unwrap(), dir.path(), "show", &args);
    let out = dir.path().join("out");
    let o = podcap(&[
        "caption",
        dir.path().join("show.mp3").to_str().unwrap(),
        "--transcript",
        dir.path().join(format!("show.{ext}")).to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json = out.join("show.json");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("show.truth.json")).unwrap())
            .unwrap();
    let words = report["words"].as_array().unwrap();
    let mut captioned = vec![false; words.len()];
    for cue in report["cues"].as_array().unwrap() {
        let (a, b) = (
            cue["first_word"].as_u64().unwrap() as usize,
            cue["last_word"].as_u64().unwrap() as usize,
        );
        for (k, c) in captioned.iter_mut().enumerate().take(b + 1).skip(a) {
            *c = words[k]["status"] != "unspoken";
        }
    }
    let word_at = |char_start: u64| words.iter().position(|w| w["char_start"] == char_start);

    // Nothing the readers did not say is in a caption.
    for u in truth["unspoken"].as_array().unwrap() {
        let (a, b) = (
            u["char_start"].as_u64().unwrap(),
            u["char_end"].as_u64().unwrap(),
        );
        for (k, w) in words.iter().enumerate() {
            let at = w["char_start"].as_u64().unwrap();
            assert!(
                !(a <= at && at < b && captioned[k]),
                "'{}' ({}) is captioned",
                w["text"],
                u["kind"]
            );
        }
    }
    // And the spoken words are.
    let spoken = truth["words"].as_array().unwrap();
    let missing: Vec<&str> = spoken
        .iter()
        .filter(|t| !word_at(t["char_start"].as_u64().unwrap()).is_some_and(|k| captioned[k]))
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert!(
        missing.len() * 200 <= spoken.len(),
        "{} of {} spoken words not captioned: {missing:?}",
        missing.len(),
        spoken.len()
    );
    // Every cue within the hard limits (the evaluation script exits 1 otherwise).
    let limits = std::process::Command::new("python3")
        .arg(root().join("scripts/eval-captions"))
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        limits.status.success(),
        "{}",
        String::from_utf8_lossy(&limits.stdout)
    );
    let vtt = std::fs::read_to_string(out.join("show.vtt")).unwrap();
    (
        report,
        truth,
        vtt,
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// None of `texts` (notes, headings, cues) is in a caption.
fn assert_not_captioned(vtt: &str, texts: &[&str]) {
    for text in texts {
        assert!(!vtt.contains(text), "'{text}' is captioned:\n{vtt}");
    }
}

fn assert_speakers(vtt: &str, names: &[&str]) {
    for name in names {
        assert!(
            vtt.contains(&format!("<v {name}>")),
            "no cue of {name}:\n{vtt}"
        );
    }
}

#[test]
fn labels_times_and_headings_are_never_captioned_and_the_speech_is() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("samples/episode.txt")).unwrap();
    let paragraphs: Vec<&str> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.starts_with('[') && p.matches(". ").count() >= 2)
        .collect();
    let two = |k: usize| -> String {
        let sentences: Vec<&str> = paragraphs[k].split_inclusive(". ").collect();
        sentences[..2].concat().trim().to_string()
    };
    let transcript = format!(
        "[Theme Music]\n\nSpeaker 1 (00:00:05):\n{}\n\n[00:00:40] JOHN: {}\n\nAnna Lee  1:05\n{} [00:01:20] {}\n\nChapter 2: The Early Years\n\nSpeaker 2: {}\n",
        two(5),
        two(9),
        two(13),
        two(14),
        two(17)
    );
    let path = dir.path().join("styled.txt");
    std::fs::write(&path, &transcript).unwrap();
    let (_, truth, vtt, _) = caption_show(&path, "espeak", &[]);
    let kinds: Vec<&str> = truth["unspoken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["kind"].as_str().unwrap())
        .collect();
    for kind in ["speaker_label", "timestamp", "header"] {
        assert!(kinds.contains(&kind), "the fixture has a {kind}: {kinds:?}");
    }
    assert_speakers(&vtt, &["Speaker 1", "JOHN", "Anna Lee", "Speaker 2"]);
}

#[test]
fn a_markdown_show_with_two_hosts_in_another_speech_engine() {
    // Bold names, `##` chapters, `(laughs)`, `[crosstalk]`, show-note links;
    // spoken by Festival.
    let (_, _, vtt, _) = caption_show(
        &root().join("samples/shows/small-gardens.md"),
        "festival",
        &[],
    );
    assert_speakers(&vtt, &["Maya", "Tom"]);
    assert_not_captioned(
        &vtt,
        &[
            "Seed library",
            "Chapter",
            "Show notes",
            "Mastodon",
            "laughs",
        ],
    );
}

#[test]
fn an_html_show_with_three_hosts_and_an_ad_read() {
    // `<strong>Speaker 1</strong> (00:00:06):`, numbered `<h2>` chapters,
    // `[inaudible]`, navigation and footer; an ad read the page does not have.
    let (report, _, vtt, _) = caption_show(
        &root().join("samples/shows/night-shift.html"),
        "espeak",
        &["--ad-read", "40"],
    );
    assert_speakers(&vtt, &["Speaker 1", "Speaker 2", "Speaker 3"]);
    assert_not_captioned(
        &vtt,
        &["Why people choose", "Privacy", "All episodes", "inaudible"],
    );
    let unscripted = report["unscripted"].as_array().unwrap();
    assert!(
        unscripted
            .iter()
            .any(|u| u["text"].as_str().unwrap().contains("brought to you")),
        "the ad read is not listed: {unscripted:?}"
    );
}

#[test]
fn a_plain_show_with_names_and_times_on_their_own_lines() {
    // `Dana Cruz  0:05` alone on its line, `Chapter 1: ...`, an inline
    // `[00:00:37]`; Festival, with an ad read. make-sample writes the times
    // as heard without the ad, so they run behind the audio after it.
    let (_, truth, vtt, printed) = caption_show(
        &root().join("samples/shows/the-long-game.txt"),
        "festival",
        &["--ad-read", "30"],
    );
    assert_speakers(&vtt, &["Dana Cruz", "Rui Alves"]);
    assert_not_captioned(&vtt, &["How it started", "Otter", "Apple Podcasts"]);
    let shifts: Vec<&str> = printed
        .lines()
        .filter(|l| l.contains("the transcript's times"))
        .collect();
    assert_eq!(shifts.len(), 1, "{printed}");
    let at_s = |line: &str| -> f64 {
        let (m, s) = line
            .split_whitespace()
            .next()
            .unwrap()
            .split_once(':')
            .unwrap();
        m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
    };
    let ad = &truth["edits"][0];
    assert!(
        at_s(shifts[0]) >= ad["end_s"].as_f64().unwrap() && shifts[0].contains("behind"),
        "{printed}"
    );
}

#[test]
fn an_srt_given_as_the_transcript_is_read_for_its_text() {
    // podcap's own SRT of the sample: its text is the published transcript's.
    let srt = sample_outputs().join("sample.srt");
    let dir = tempfile::tempdir().unwrap();
    let o = podcap(&[
        "caption",
        "samples/sample.mp3",
        "--transcript",
        srt.to_str().unwrap(),
        "--formats",
        "vtt,json",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sample.json")).unwrap()).unwrap();
    let stats = &report["stats"];
    let (matched, words) = (
        stats["matched"].as_u64().unwrap(),
        stats["transcript_words"].as_u64().unwrap(),
    );
    // Only spoken text: no cue numbers or times to leave unspoken.
    assert_eq!(stats["unspoken"], 0, "{stats}");
    assert!(matched * 100 >= words * 90, "{matched} of {words} matched");
    let vtt = std::fs::read_to_string(dir.path().join("sample.vtt")).unwrap();
    let cue_text: Vec<&str> = vtt
        .split("\n\n")
        .skip(2)
        .flat_map(|cue| cue.lines().skip(2))
        .collect();
    assert!(cue_text.len() > 20, "{vtt}");
    for line in cue_text {
        assert!(!line.contains("-->") && !line.contains(",000"), "{line}");
    }
    // Its times are the audio's: none is listed as out of step.
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!printed.contains("the transcript's times"), "{printed}");

    // The same cues 30 s later, as if a 30-s pre-roll had been in the audio
    // they were timed on: listed once, at the start.
    let shift = |time: &str| -> String {
        let (clock, ms) = time.trim().split_once(',').unwrap();
        let s = clock
            .split(':')
            .fold(0u64, |acc, p| acc * 60 + p.parse::<u64>().unwrap());
        let ms = s * 1000 + ms.parse::<u64>().unwrap() + 30_000;
        format!(
            "{:02}:{:02}:{:02},{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    let shifted: Vec<String> = std::fs::read_to_string(&srt)
        .unwrap()
        .lines()
        .map(|l| match l.split_once(" --> ") {
            Some((a, b)) => format!("{} --> {}", shift(a), shift(b)),
            None => l.to_string(),
        })
        .collect();
    let shifted_path = dir.path().join("shifted.srt");
    std::fs::write(&shifted_path, shifted.join("\n") + "\n").unwrap();
    let again = dir.path().join("again");
    let o = podcap(&[
        "align",
        dir.path().join("sample.json").to_str().unwrap(),
        "--transcript",
        shifted_path.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    let shifts: Vec<&str> = printed
        .lines()
        .filter(|l| l.contains("the transcript's times"))
        .collect();
    assert_eq!(shifts.len(), 1, "{printed}");
    assert!(shifts[0].contains("ahead of the audio"), "{printed}");
}
