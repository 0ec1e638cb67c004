//! The real model on the committed sample: recognition quality, caption
//! timing against the synthesized ground truth, and well-formed outputs.

use serde_json::Value;

use crate::util::*;

struct Run {
    json: Value,
    vtt: String,
    srt: String,
}

fn caption_sample(extra: &[&str]) -> Run {
    tiny_model();
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().to_str().unwrap();
    let mut args = vec![
        "caption",
        "samples/sample.mp3",
        "--transcript",
        "samples/sample.txt",
        "--out",
        out_s,
    ];
    args.extend_from_slice(extra);
    let o = podcap(&args);
    assert!(o.status.success(), "podcap failed: {}", stderr(&o));
    assert_eq!(
        files_in(out.path()),
        ["sample.json", "sample.srt", "sample.vtt"]
    );
    Run {
        json: serde_json::from_slice(&std::fs::read(out.path().join("sample.json")).unwrap())
            .unwrap(),
        vtt: std::fs::read_to_string(out.path().join("sample.vtt")).unwrap(),
        srt: std::fs::read_to_string(out.path().join("sample.srt")).unwrap(),
    }
}

fn truth() -> Value {
    serde_json::from_slice(&std::fs::read(root().join("samples/sample.truth.json")).unwrap())
        .unwrap()
}

fn parse_ts(s: &str, sep: char) -> u64 {
    let (hms, ms) = s
        .split_once(sep)
        .unwrap_or_else(|| panic!("bad timestamp {s:?}"));
    let parts: Vec<u64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3, "{s}");
    assert_eq!(ms.len(), 3, "{s}");
    ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + ms.parse::<u64>().unwrap()
}

/// Checks WebVTT structure; returns (start_ms, end_ms, text) per cue.
fn parse_vtt(vtt: &str) -> Vec<(u64, u64, String)> {
    let mut blocks = vtt.split("\n\n");
    assert!(
        blocks.next().unwrap().starts_with("WEBVTT"),
        "no WEBVTT header"
    );
    let mut cues = Vec::new();
    for block in blocks {
        let block = block.trim_end_matches('\n');
        if block.is_empty() || block.starts_with("NOTE") {
            assert!(!block.contains("-->"), "NOTE contains -->");
            continue;
        }
        let lines: Vec<&str> = block.lines().collect();
        let timing = lines
            .iter()
            .position(|l| l.contains(" --> "))
            .expect("cue has a timing line");
        assert!(
            timing <= 1,
            "cue has more than an identifier before its timing: {block:?}"
        );
        let (a, b) = lines[timing].split_once(" --> ").unwrap();
        let text = lines[timing + 1..].join("\n");
        assert!(!text.is_empty(), "empty cue");
        assert!(!text.contains("-->"));
        assert!(
            !text.contains('<') && !text.contains("& "),
            "unescaped text {text:?}"
        );
        cues.push((parse_ts(a, '.'), parse_ts(b, '.'), text));
    }
    cues
}

#[test]
fn sample_is_recognized_aligned_and_captioned() {
    let run = caption_sample(&[]);
    let truth = truth();

    // Recognition: WER of the recognized text against what was spoken.
    let spoken: Vec<&str> = truth["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["text"].as_str().unwrap())
        .collect();
    let heard: Vec<&str> = run.json["recognized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["text"].as_str().unwrap())
        .collect();
    let wer = podcap::check::wer(&spoken.join(" "), &heard.join(" "));
    assert!(wer.wer < 0.15, "WER {:.3} ({wer:?})", wer.wer);

    // Captions: well-formed, ordered, and the JSON agrees with the VTT.
    let cues = parse_vtt(&run.vtt);
    let json_cues = run.json["cues"].as_array().unwrap();
    assert!(cues.len() >= 15, "only {} cues", cues.len());
    assert_eq!(cues.len(), json_cues.len());
    for (k, (start, end, text)) in cues.iter().enumerate() {
        assert!(start < end, "cue {k} ends before it starts");
        if k > 0 {
            assert!(cues[k - 1].1 <= *start, "cue {k} overlaps the one before");
        }
        assert!(
            text.lines().count() <= 2 && text.lines().all(|l| l.chars().count() <= 42),
            "cue {k}: {text:?}"
        );
        assert_eq!(json_cues[k]["start_ms"].as_u64().unwrap(), *start);
    }
    assert_eq!(run.srt.matches(" --> ").count(), cues.len());

    // Timing: each cue starts within 1 s of its first word in the ground truth.
    let words = run.json["words"].as_array().unwrap();
    let truth_words = truth["words"].as_array().unwrap();
    let truth_start = |char_start: u64| {
        truth_words
            .iter()
            .find(|w| w["char_start"].as_u64().unwrap() == char_start)
            .map(|w| (w["start_s"].as_f64().unwrap() * 1000.0) as i64)
    };
    for (k, cue) in json_cues.iter().enumerate() {
        let first = &words[cue["first_word"].as_u64().unwrap() as usize];
        let want = truth_start(first["char_start"].as_u64().unwrap()).unwrap_or_else(|| {
            panic!("cue {k} starts with {first}, which the ground truth says is not spoken")
        });
        let got = cue["start_ms"].as_i64().unwrap();
        assert!(
            (got - want).abs() <= 1000,
            "cue {k} starts at {got} ms, its first word at {want} ms"
        );
    }

    // Nothing the ground truth marks as not spoken appears in a caption.
    let unspoken: Vec<(u64, u64)> = truth["unspoken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["char_start"].as_u64().unwrap(),
                u["char_end"].as_u64().unwrap(),
            )
        })
        .collect();
    for cue in json_cues {
        for w in &words[cue["first_word"].as_u64().unwrap() as usize
            ..=cue["last_word"].as_u64().unwrap() as usize]
        {
            if w["status"] == "unspoken" {
                continue;
            }
            let c = w["char_start"].as_u64().unwrap();
            assert!(
                !unspoken.iter().any(|&(a, b)| a <= c && c < b),
                "caption {:?} contains unspoken text {}",
                cue["lines"],
                w["text"]
            );
        }
    }
    // And every cue's text is the transcript's own words, in order.
    for cue in json_cues {
        let text: Vec<&str> = words[cue["first_word"].as_u64().unwrap() as usize
            ..=cue["last_word"].as_u64().unwrap() as usize]
            .iter()
            .filter(|w| w["status"] != "unspoken")
            .map(|w| w["text"].as_str().unwrap())
            .collect();
        let lines: Vec<String> = cue["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        // Same words in the same order; line breaks may stand where a dash joined two words.
        let squash = |t: &str| t.split_whitespace().collect::<String>();
        assert_eq!(
            squash(&lines.join(" ")),
            squash(&podcap::captions::join_words(&text))
        );
    }
}

/// Chunk cuts depend on the audio only, so spreading the work differently
/// changes nothing in the outputs.
#[test]
fn jobs_do_not_change_the_output() {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for jobs in ["1", "2"] {
        let out = dir.path().join(jobs);
        let o = podcap(&[
            "caption",
            "samples/sample.mp3",
            "--transcript",
            "samples/sample.txt",
            "--jobs",
            jobs,
            "--formats",
            "json,vtt",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        outputs.push((
            std::fs::read(out.join("sample.json")).unwrap(),
            std::fs::read(out.join("sample.vtt")).unwrap(),
        ));
    }
    assert!(
        outputs[0].0 == outputs[1].0,
        "JSON differs between --jobs 1 and --jobs 2"
    );
    assert!(
        outputs[0].1 == outputs[1].1,
        "VTT differs between --jobs 1 and --jobs 2"
    );
}

/// Silence, music and noise are not speech: no words, no captions.
#[test]
fn silence_music_and_noise_give_no_words() {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    tool(
        "sox",
        &[
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            &d("silence.wav"),
            "trim",
            "0",
            "20",
        ],
    );
    tool(
        "sox",
        &[
            "-n",
            "-r",
            "44100",
            "-c",
            "2",
            &d("music.wav"),
            "synth",
            "20",
            "sine",
            "220",
            "sine",
            "277",
            "sine",
            "330",
            "remix",
            "-",
            "tremolo",
            "3",
            "40",
            "vol",
            "0.3",
        ],
    );
    tool(
        "sox",
        &[
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            &d("noise.wav"),
            "synth",
            "20",
            "pinknoise",
            "vol",
            "0.3",
        ],
    );
    for name in ["silence", "music", "noise"] {
        let o = podcap(&[
            "caption",
            &d(&format!("{name}.wav")),
            "--out",
            &d("out"),
            "--formats",
            "json,vtt",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("out/{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            json["recognized"].as_array().unwrap().len(),
            0,
            "{name}: {}",
            json["recognized"]
        );
        assert_eq!(json["cues"].as_array().unwrap().len(), 0, "{name}");
        let vtt = std::fs::read_to_string(dir.path().join(format!("out/{name}.vtt"))).unwrap();
        assert!(
            vtt.starts_with("WEBVTT") && !vtt.contains("-->"),
            "{name}: {vtt}"
        );
    }
}

/// `podcap align` reuses a run's recognized words: the same transcript gives
/// the same captions, and an edited transcript is aligned without the model.
#[test]
fn align_again_from_the_json() {
    let first = sample_outputs();
    let out = tempfile::tempdir().unwrap();
    let json = first.join("sample.json");
    let o = podcap(&[
        "align",
        json.to_str().unwrap(),
        "--transcript",
        "samples/sample.txt",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["sample.vtt", "sample.srt", "sample.json"] {
        assert!(
            std::fs::read(first.join(f)).unwrap() == std::fs::read(out.path().join(f)).unwrap(),
            "{f} differs"
        );
    }
    // An edited transcript: a sentence the audio does not have is reported as such.
    let edited = out.path().join("edited.txt");
    let text = std::fs::read_to_string("samples/sample.txt")
        .unwrap()
        .replacen(
            "From the Black Book",
            "This sentence was added to the transcript after the recording was made. From the Black Book",
            1,
        );
    std::fs::write(&edited, text).unwrap();
    let o = podcap(&[
        "align",
        json.to_str().unwrap(),
        "--transcript",
        edited.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--formats",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("sample.json")).unwrap()).unwrap();
    let unspoken: Vec<&str> = report["unspoken"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["reason"] == "not_heard")
        .map(|u| u["text"].as_str().unwrap())
        .collect();
    assert!(
        unspoken
            .iter()
            .any(|t| t.contains("added to the transcript after the recording")),
        "{unspoken:?}"
    );
}

/// A voice and pace the committed sample does not use (espeak-ng's Scottish
/// English at 185 words a minute, which tiny.en garbles more): every spoken
/// sentence is still captioned, none from unspoken text, and words start on time.
#[test]
fn an_unfamiliar_voice_is_still_captioned() {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    make_sample(
        "sample.txt",
        dir.path(),
        "ep",
        &[
            "--max-seconds",
            "120",
            "--voice",
            "en-gb-scotland+f4",
            "--rate",
            "185",
        ],
    );
    let out = dir.path().join("out");
    let o = podcap(&[
        "caption",
        &format!("{d}/ep.mp3"),
        "--transcript",
        &format!("{d}/ep.txt"),
        "--out",
        out.to_str().unwrap(),
        "--formats",
        "json",
    ]);
    assert!(o.status.success(), "podcap failed: {}", stderr(&o));
    let json: Value = serde_json::from_slice(&std::fs::read(out.join("ep.json")).unwrap()).unwrap();
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("ep.truth.json")).unwrap()).unwrap();
    let words = json["words"].as_array().unwrap();
    let u = |v: &Value| v.as_u64().unwrap();
    // Transcript offsets of the words in captions.
    let mut captioned = std::collections::HashSet::new();
    for cue in json["cues"].as_array().unwrap() {
        for w in &words[u(&cue["first_word"]) as usize..=u(&cue["last_word"]) as usize] {
            if w["status"] != "unspoken" {
                captioned.insert(u(&w["char_start"]));
            }
        }
    }
    let truth_words = truth["words"].as_array().unwrap();
    let sentences = truth["sentences"].as_array().unwrap().len();
    for s in 0..sentences as u64 {
        let spoken: Vec<u64> = truth_words
            .iter()
            .filter(|w| u(&w["sentence"]) == s)
            .map(|w| u(&w["char_start"]))
            .collect();
        let shown = spoken.iter().filter(|c| captioned.contains(c)).count();
        assert!(
            shown * 5 >= spoken.len() * 4,
            "sentence {s}: {shown} of {} words captioned",
            spoken.len()
        );
    }
    for span in truth["unspoken"].as_array().unwrap() {
        let (a, b) = (u(&span["char_start"]), u(&span["char_end"]));
        assert!(
            !captioned.iter().any(|&c| a <= c && c < b),
            "unspoken text captioned: {}",
            span["text"]
        );
    }
    // Word starts against the ground truth, for the words timed from the audio.
    let mut errors_ms: Vec<i64> = truth_words
        .iter()
        .filter_map(|t| {
            let w = words.iter().find(|w| w["char_start"] == t["char_start"])?;
            let timed = w["status"] == "matched" || w["status"] == "substituted";
            let start = w["start_ms"].as_i64().filter(|_| timed)?;
            Some((start - (t["start_s"].as_f64().unwrap() * 1000.0) as i64).abs())
        })
        .collect();
    errors_ms.sort_unstable();
    assert!(errors_ms.len() * 10 >= truth_words.len() * 8);
    let median = errors_ms[errors_ms.len() / 2];
    assert!(median <= 80, "median word start error {median} ms");
}
