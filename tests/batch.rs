//! `podcap batch` end to end on the real model: outputs byte-identical to
//! `podcap caption` whatever --jobs, reruns that skip or re-align, failures
//! that stay local, and `kill -9` at random moments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::*;

/// Output extensions of the default formats.
pub const EXTENSIONS: [&str; 3] = ["vtt", "srt", "json"];

/// A catalog folder of three short episodes (about 10-20 s each, three
/// voices): `a` and `b` with their transcripts, `c` without. Made once;
/// tests copy it before changing anything.
pub fn catalog() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        tiny_model();
        let root_dir = tempfile::tempdir().unwrap().keep();
        let dir = root_dir.join("catalog");
        std::fs::create_dir_all(&dir).unwrap();
        // Two sentences each of three paragraphs of the long episode's transcript.
        let text = std::fs::read_to_string(root().join("samples/episode.txt")).unwrap();
        let paragraphs: Vec<&str> = text
            .split("\n\n")
            .map(str::trim)
            .filter(|p| p.len() > 300 && !p.starts_with('['))
            .collect();
        let voices: [&[&str]; 3] = [
            &["--voice", "en-us+m3"],
            &["--voice", "en-us+f2", "--rate", "190"],
            &[],
        ];
        for (k, id) in ["a", "b", "c"].into_iter().enumerate() {
            let sentences: Vec<&str> = paragraphs[3 + 4 * k].split_inclusive(". ").collect();
            let body = sentences[..2].concat();
            let text_path = root_dir.join(format!("{id}.txt"));
            std::fs::write(&text_path, format!("{}\n", body.trim())).unwrap();
            let mut args = vec![
                root().join("scripts/make-sample").display().to_string(),
                text_path.display().to_string(),
                dir.display().to_string(),
                id.to_string(),
            ];
            args.extend(voices[k].iter().map(|s| s.to_string()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tool("python3", &args);
            std::fs::remove_file(dir.join(format!("{id}.truth.json"))).unwrap();
            // make-sample writes the transcript it spoke beside the audio.
            if id == "c" {
                std::fs::remove_file(dir.join("c.txt")).unwrap();
            }
        }
        dir
    })
}

/// A copy of the catalog folder at `dir`, to change.
pub fn copy_catalog(dir: &Path) -> PathBuf {
    let copy = dir.join("catalog");
    std::fs::create_dir_all(&copy).unwrap();
    for name in files_in(catalog()) {
        std::fs::copy(catalog().join(&name), copy.join(&name)).unwrap();
    }
    copy
}

pub fn summary(dir: &Path, stem: &str) -> serde_json::Value {
    let path = dir.join(format!("{stem}.json"));
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Status of each episode in a summary, by id.
pub fn statuses(summary: &serde_json::Value) -> BTreeMap<String, String> {
    summary["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn batch_outputs_equal_caption_whatever_jobs_and_reruns_skip_or_realign() {
    let work = tempfile::tempdir().unwrap();
    let cat = copy_catalog(work.path());
    let alone = work.path().join("alone");
    for id in ["a", "b", "c"] {
        let audio = cat.join(format!("{id}.mp3"));
        let transcript = cat.join(format!("{id}.txt"));
        let mut args = vec!["caption", s(&audio), "--out", s(&alone)];
        if transcript.exists() {
            args.extend(["--transcript", s(&transcript)]);
        }
        let o = podcap(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for jobs in ["1", "2"] {
        let out = work.path().join(format!("jobs{jobs}"));
        let o = podcap(&["batch", s(&cat), "--out", s(&out), "--jobs", jobs]);
        assert!(o.status.success(), "{}", stderr(&o));
        for id in ["a", "b", "c"] {
            for ext in EXTENSIONS {
                let name = format!("{id}.{ext}");
                assert!(
                    bytes(&alone.join(&name)) == bytes(&out.join(&name)),
                    "--jobs {jobs}: {name} differs from podcap caption's"
                );
            }
        }
        let sum = summary(&out, "summary");
        assert_eq!(
            statuses(&sum).values().collect::<Vec<_>>(),
            ["captioned"; 3],
            "{sum}"
        );
        let c = &sum["episodes"][2];
        assert!(c["note"].as_str().unwrap().contains("no transcript"), "{c}");
        assert!(c["transcript_words"].is_null());
        let a = &sum["episodes"][0];
        assert!(a["words_matched"].as_u64().unwrap() > 20, "{a}");
        let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
        assert_eq!(csv.lines().count(), 4, "{csv}");
    }

    // A rerun does nothing and says so; nothing is rewritten.
    let out = work.path().join("jobs2");
    let modified = |name: &str| {
        std::fs::metadata(out.join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = modified("a.vtt");
    let o = podcap(&["batch", s(&cat), "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        statuses(&summary(&out, "summary"))
            .values()
            .collect::<Vec<_>>(),
        ["up_to_date"; 3]
    );
    assert_eq!(modified("a.vtt"), before);

    // A changed transcript aligns again from the saved words; the new word is captioned.
    let text = std::fs::read_to_string(cat.join("b.txt")).unwrap();
    let word = text
        .split_whitespace()
        .nth(6)
        .unwrap()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_string();
    std::fs::write(cat.join("b.txt"), text.replacen(&word, "zeppelin", 1)).unwrap();
    let o = podcap(&["batch", s(&cat), "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sum = summary(&out, "summary");
    let st = statuses(&sum);
    assert_eq!(
        (st["a"].as_str(), st["b"].as_str(), st["c"].as_str()),
        ("up_to_date", "realigned", "up_to_date"),
        "{sum}"
    );
    let vtt = std::fs::read_to_string(out.join("b.vtt")).unwrap();
    assert!(vtt.contains("zeppelin"), "{vtt}");
    assert_eq!(modified("a.vtt"), before);

    // --force redoes everything.
    let o = podcap(&["batch", s(&cat), "--out", s(&out), "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        statuses(&summary(&out, "summary"))
            .values()
            .collect::<Vec<_>>(),
        ["captioned"; 3]
    );
}

#[test]
fn a_bad_file_fails_its_episode_only_with_the_message_caption_gives() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::copy(catalog().join("a.mp3"), dir.join("good.mp3")).unwrap();
    std::fs::copy(catalog().join("a.txt"), dir.join("good.txt")).unwrap();
    // Bytes that are no audio format, under an audio name.
    let noise: Vec<u8> = (0u32..40_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.join("corrupt.mp3"), noise).unwrap();
    std::fs::write(dir.join("notes.wav"), "show notes, not audio\n").unwrap();
    std::fs::write(dir.join("empty.txt"), "").unwrap();
    std::fs::write(
        dir.join("catalog.csv"),
        "id,audio,transcript\n\
         good,good.mp3,good.txt\n\
         corrupt,corrupt.mp3,good.txt\n\
         notes,notes.wav,good.txt\n\
         empty,good.mp3,empty.txt\n\
         lost,good.mp3,lost.txt\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = podcap(&["batch", s(&dir.join("catalog.csv")), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let sum = summary(&out, "summary");
    let st = statuses(&sum);
    assert_eq!(st["good"], "captioned", "{sum}");
    assert!(out.join("good.vtt").exists());
    let error = |id: &str| {
        sum["episodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has no error: {sum}"))
            .to_string()
    };
    // Each failure's message is the one `podcap caption` gives.
    for (id, audio, transcript) in [
        ("corrupt", "corrupt.mp3", "good.txt"),
        ("notes", "notes.wav", "good.txt"),
        ("empty", "good.mp3", "empty.txt"),
    ] {
        assert_eq!(st[id], "failed");
        let alone = podcap(&[
            "caption",
            s(&dir.join(audio)),
            "--transcript",
            s(&dir.join(transcript)),
            "--out",
            s(&dir.join("alone")),
        ]);
        assert_eq!(alone.status.code(), Some(2));
        let message = stderr(&alone);
        let message = message.trim().strip_prefix("error: ").unwrap();
        assert_eq!(error(id), message, "{id}");
        assert!(!out.join(format!("{id}.vtt")).exists());
    }
    assert!(
        error("lost").contains("catalog.csv:6: transcript"),
        "{}",
        error("lost")
    );
    assert!(error("lost").contains("not found"));
    // The table lists the failures.
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("4 failed"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("corrupt ") && l.contains("failed")),
        "{table}"
    );
}

#[test]
fn kill_9_at_random_moments_then_reruns_give_the_uninterrupted_outputs() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let work = tempfile::tempdir().unwrap();
    let expected_dir = work.path().join("expected");
    let started = std::time::Instant::now();
    let o = podcap(&["batch", s(catalog()), "--out", s(&expected_dir)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run_ms = started.elapsed().as_millis() as u64;
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for id in ["a", "b", "c"] {
        for ext in EXTENSIONS {
            let name = format!("{id}.{ext}");
            expected.insert(name.clone(), bytes(&expected_dir.join(&name)));
        }
    }

    let out = work.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let stop = AtomicBool::new(false);
    // Seeded from the clock, printed so a failure can be replayed.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill test seed {seed}");
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    std::thread::scope(|scope| {
        // Whatever appears under a final name is whole, at every moment.
        let watcher = scope.spawn(|| {
            let mut looks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for name in files_in(&out) {
                    let path = out.join(&name);
                    let Ok(data) = std::fs::read(&path) else {
                        continue;
                    };
                    if let Some(want) = expected.get(&name) {
                        assert!(&data == want, "{name} was visible incomplete or different");
                    } else if name.ends_with(".json") {
                        serde_json::from_slice::<serde_json::Value>(&data)
                            .unwrap_or_else(|e| panic!("{name} visible unfinished: {e}"));
                    }
                }
                for name in files_in(&out.join(".podcap")) {
                    let Ok(data) = std::fs::read(out.join(".podcap").join(&name)) else {
                        continue;
                    };
                    if name.ends_with(".record.json") {
                        serde_json::from_slice::<serde_json::Value>(&data)
                            .unwrap_or_else(|e| panic!("{name} visible unfinished: {e}"));
                    }
                }
                looks += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            looks
        });
        let mut killed = 0;
        let mut rounds = 0;
        let mut finished = false;
        while killed < 10 && rounds < 30 {
            rounds += 1;
            // Each kill is followed by a rerun (the next round) that resumes;
            // after a run that finished, start over, so the kill lands in real work.
            let force = std::mem::take(&mut finished);
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_podcap"));
            cmd.args(["batch", s(catalog()), "--out", s(&out)])
                .env("PODCAP_MODELS_DIR", root().join("models"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            if force {
                cmd.arg("--force");
            }
            let mut child = cmd.spawn().unwrap();
            let wait_ms = 30 + next() % (run_ms * 7 / 10).max(100);
            std::thread::sleep(std::time::Duration::from_millis(wait_ms));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                killed += 1;
            } else {
                finished = true;
            }
            child.wait().unwrap();
        }
        let o = podcap(&["batch", s(catalog()), "--out", s(&out)]);
        stop.store(true, Ordering::Relaxed);
        let looks = watcher.join().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(killed, 10, "{rounds} runs, {killed} killed while going");
        assert!(looks > 100, "the watcher looked only {looks} times");
    });
    for (name, want) in &expected {
        assert!(
            &bytes(&out.join(name)) == want,
            "{name} differs after the kills"
        );
    }
    // Nothing left over: no temporary files, in the folder or the records'.
    let leftovers: Vec<String> = files_in(&out)
        .into_iter()
        .chain(files_in(&out.join(".podcap")))
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
