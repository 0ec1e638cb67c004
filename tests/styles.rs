//! Transcripts as podcast tools export them, captioned on the real model:
//! speaker labels with times (`Speaker 1 (00:00:05):` alone on its line,
//! `[00:00:40] JOHN:`, `Anna Lee  1:05`), times in the text, a chapter
//! heading. No caption holds a label, a time or a heading, and the spoken
//! words are captioned.

use crate::util::*;

#[test]
fn labels_times_and_headings_are_never_captioned_and_the_speech_is() {
    tiny_model();
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
    let script = root().join("scripts/make-sample");
    tool(
        "python3",
        &[
            script.to_str().unwrap(),
            path.to_str().unwrap(),
            dir.path().to_str().unwrap(),
            "styled",
        ],
    );
    let out = dir.path().join("out");
    let o = podcap(&[
        "caption",
        dir.path().join("styled.mp3").to_str().unwrap(),
        "--transcript",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("styled.json")).unwrap()).unwrap();
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("styled.truth.json")).unwrap())
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

    // Nothing the reader did not say is in a caption.
    let unspoken = truth["unspoken"].as_array().unwrap();
    let kinds: Vec<&str> = unspoken
        .iter()
        .map(|u| u["kind"].as_str().unwrap())
        .collect();
    for kind in ["speaker_label", "timestamp", "header"] {
        assert!(kinds.contains(&kind), "the fixture has a {kind}: {kinds:?}");
    }
    for u in unspoken {
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
    // The cues name their speakers.
    let vtt = std::fs::read_to_string(out.join("styled.vtt")).unwrap();
    for name in ["Speaker 1", "JOHN", "Anna Lee", "Speaker 2"] {
        assert!(
            vtt.contains(&format!("<v {name}>")),
            "no cue of {name}:\n{vtt}"
        );
    }
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
}
