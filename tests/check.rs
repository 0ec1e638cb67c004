//! `podcap check` end to end: exit codes 0, 1 and 2 on the real model, the
//! findings of an edited transcript, JUnit valid against the JUnit schema
//! (xmllint with pytest's junit-10.xsd, fetched by scripts/setup), GitHub
//! annotations on the right lines, and saved runs of other audio refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// The JUnit file is valid against junit-10.xsd (xmllint, libxml2).
fn assert_valid_junit(xml: &Path) {
    let xsd = root().join("target/test-data/junit-10.xsd");
    assert!(
        xsd.exists(),
        "{} is missing: run scripts/setup",
        xsd.display()
    );
    let o = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(xml)
        .output()
        .expect("xmllint runs (scripts/setup installs libxml2-utils)");
    assert!(
        o.status.success(),
        "{} is not valid JUnit: {}",
        xml.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The sample's transcript with one spoken word, inside a sentence, changed
/// to `replacement`: the 1-based line of the edit, the original word, the
/// edited transcript's path and the chars of the edited sentence in it.
fn edited_transcript(
    dir: &Path,
    replacement: &str,
) -> (usize, String, PathBuf, std::ops::Range<usize>) {
    let text = std::fs::read_to_string(root().join("samples/sample.txt")).unwrap();
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("samples/sample.truth.json")).unwrap())
            .unwrap();
    // A long word well inside a sentence of the second spoken minute.
    let words = truth["words"].as_array().unwrap();
    let w = words
        .iter()
        .enumerate()
        .find(|(i, w)| {
            w["start_s"].as_f64().unwrap() > 60.0
                && w["text"].as_str().unwrap().chars().all(char::is_alphabetic)
                && w["text"].as_str().unwrap().len() >= 7
                && words[i - 1]["sentence"] == w["sentence"]
                && words[i + 1]["sentence"] == w["sentence"]
        })
        .expect("a long word inside a sentence")
        .1;
    let sentence: Vec<&serde_json::Value> = words
        .iter()
        .filter(|x| x["sentence"] == w["sentence"])
        .collect();
    let grown =
        replacement.chars().count() as i64 - w["text"].as_str().unwrap().chars().count() as i64;
    let sentence_chars = sentence[0]["char_start"].as_u64().unwrap() as usize
        ..(sentence.last().unwrap()["char_end"].as_u64().unwrap() as i64 + grown) as usize;
    let (a, b) = (
        w["char_start"].as_u64().unwrap() as usize,
        w["char_end"].as_u64().unwrap() as usize,
    );
    let chars: Vec<char> = text.chars().collect();
    let edited: String = chars[..a]
        .iter()
        .chain(replacement.chars().collect::<Vec<_>>().iter())
        .chain(&chars[b..])
        .collect();
    let line = chars[..a].iter().filter(|&&c| c == '\n').count() + 1;
    let path = dir.join("edited.txt");
    std::fs::write(&path, edited).unwrap();
    (
        line,
        w["text"].as_str().unwrap().to_string(),
        path,
        sentence_chars,
    )
}

/// Decoded with the edited transcript as the draft (no saved run): the
/// model refuses the edited word, and nothing else in its sentence is a
/// finding.
#[test]
fn an_edit_inside_a_sentence_is_the_only_finding_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, original, transcript, sentence) = edited_transcript(dir.path(), "watermelon");
    let o = podcap(&[
        "check",
        "samples/sample.mp3",
        "-t",
        transcript.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    let in_sentence: Vec<&serde_json::Value> = report["episodes"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["low_confidence"] == false)
        .filter(|f| {
            let (a, b) = (
                f["char_start"].as_u64().unwrap() as usize,
                f["char_end"].as_u64().unwrap() as usize,
            );
            a < sentence.end && sentence.start < b.max(a + 1)
        })
        .collect();
    assert_eq!(in_sentence.len(), 1, "{in_sentence:?}");
    assert_eq!(in_sentence[0]["kind"], "changed");
    assert_eq!(in_sentence[0]["transcript"], "watermelon", "for {original}");
}

fn saved_run() -> PathBuf {
    sample_outputs().join("sample.json")
}

#[test]
fn real_model_passes_the_agreeing_sample_with_valid_junit() {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("check.xml");
    let o = podcap(&[
        "check",
        "samples/sample.mp3",
        "--transcript",
        "samples/sample.txt",
        "--max-wer",
        "0.01",
        "--format",
        "json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["schema"], "podcap-check");
    assert_eq!(report["status"], "passed");
    let ep = &report["episodes"][0];
    assert_eq!(ep["id"], "sample");
    let confident: Vec<&serde_json::Value> = ep["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["low_confidence"] == false)
        .collect();
    assert!(
        confident.len() <= 1,
        "audio synthesized from its transcript: {confident:?}"
    );
    assert!(ep["figures"]["reference_words"].as_u64().unwrap() > 300);
    // The page text around the episode is listed apart, not as findings.
    assert!(!ep["page_text"].as_array().unwrap().is_empty());
    assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"3\" failures=\"0\" errors=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains("classname=\"podcap.check.sample\" name=\"wer &lt;= 0.01\""),
        "{xml}"
    );
}

#[test]
fn an_edited_word_fails_with_its_line_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (line, original, transcript, _) = edited_transcript(dir.path(), "watermelon");
    let t = transcript.to_str().unwrap();
    let json = saved_run();
    let run = |format: &str, junit: Option<&Path>| {
        let mut args = vec![
            "check",
            "samples/sample.mp3",
            "-t",
            t,
            "--from-json",
            json.to_str().unwrap(),
            "--max-wer",
            "0.002",
            "--format",
            format,
        ];
        if let Some(j) = junit {
            args.extend(["--junit", j.to_str().unwrap()]);
        }
        let o = podcap(&args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{format}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
        String::from_utf8(o.stdout).unwrap()
    };

    let report: serde_json::Value = serde_json::from_str(&run("json", None)).unwrap();
    let ep = &report["episodes"][0];
    assert_eq!(ep["status"], "failed");
    let confident: Vec<&serde_json::Value> = ep["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["low_confidence"] == false)
        .collect();
    assert_eq!(confident.len(), 1, "only the edit: {confident:?}");
    let f = confident[0];
    assert_eq!(f["kind"], "changed");
    assert_eq!(f["transcript"], "watermelon");
    assert!(
        f["audio"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(&original.to_lowercase()[..4]),
        "heard {} for {original}",
        f["audio"]
    );
    assert_eq!(f["start"]["line"].as_u64().unwrap() as usize, line);
    assert_eq!(ep["figures"]["substitutions"], 1);
    let failed: Vec<&str> = ep["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["passed"] == false)
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["wer"]);

    let github = run("github", None);
    let warning = github
        .lines()
        .find(|l| l.starts_with("::warning "))
        .unwrap_or_else(|| panic!("no warning annotation: {github}"));
    assert!(
        warning.starts_with(&format!(
            "::warning file={t},line={line},endLine={line},col="
        )),
        "{warning}"
    );
    assert!(warning.contains("transcript: \"watermelon\""), "{warning}");
    assert!(
        github
            .lines()
            .any(|l| l.starts_with(&format!("::error file={t},"))),
        "{github}"
    );

    let human = run("human", None);
    assert!(human.starts_with("sample: FAILED"), "{human}");
    assert!(
        human.contains(&format!("{t}:{line}  transcript: \"watermelon\"")),
        "{human}"
    );

    let junit = dir.path().join("j.xml");
    let xml = run("junit", Some(&junit));
    assert_valid_junit(&junit);
    assert_eq!(std::fs::read_to_string(&junit).unwrap(), xml);
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(
        xml.contains("watermelon"),
        "the failure names the worst finding: {xml}"
    );
}

#[test]
fn could_not_check_is_exit_2_with_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    // A saved run of other audio is refused.
    let wav = dir.path().join("other.wav");
    let o = podcap(&["audio", "samples/sample.mp3", "-o", wav.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = podcap(&[
        "check",
        wav.to_str().unwrap(),
        "-t",
        "samples/sample.txt",
        "--from-json",
        saved_run().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("sample.json' was made from other audio"), "{e}");
    assert!(e.contains("other.wav"), "{e}");
    assert!(o.stdout.is_empty());

    // Not audio, on the real model's path.
    let text = dir.path().join("notes.mp3");
    std::fs::write(&text, "not audio at all, just some words").unwrap();
    let o = podcap(&["check", text.to_str().unwrap(), "-t", "samples/sample.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("notes.mp3"), "{}", stderr(&o));

    let o = podcap(&["check", "samples/sample.mp3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pass --transcript"), "{}", stderr(&o));
}

#[test]
fn a_manifest_checks_every_row_into_one_junit_suite() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    std::fs::copy(saved_run(), saved.join("sample.json")).unwrap();
    let manifest = dir.path().join("episodes.csv");
    std::fs::write(
        &manifest,
        format!(
            "id,audio,transcript\nsample,{0}/samples/sample.mp3,{0}/samples/sample.txt\nlost,{0}/samples/missing.mp3,{0}/samples/sample.txt\n",
            root().display()
        ),
    )
    .unwrap();
    let junit = dir.path().join("all.xml");
    let o = podcap(&[
        "check",
        manifest.to_str().unwrap(),
        "--from-json",
        saved.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{out}{}", stderr(&o));
    assert!(out.contains("sample: PASSED"), "{out}");
    assert!(out.contains("lost: ERROR"), "{out}");
    assert!(
        out.contains("episodes.csv:3: audio file"),
        "the row's line: {out}"
    );
    assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"4\" failures=\"0\" errors=\"1\""),
        "{xml}"
    );
}
