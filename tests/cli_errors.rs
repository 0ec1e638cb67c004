//! Bad input: exit code 2, one line naming the file and the fix, and no
//! partial output (earlier outputs stay as they were).

use std::path::Path;

use crate::util::*;

/// Runs `caption` into `out` and checks the failure contract.
fn fails(args: &[&str], out: &Path, expect: &[&str]) -> String {
    let mut all = vec!["caption"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = podcap(&all);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2, got {:?}: {err}",
        o.status
    );
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "want one error line, got: {err}");
    for e in expect {
        assert!(
            lines[0].contains(e),
            "{:?} does not mention {e:?}",
            lines[0]
        );
    }
    lines[0].to_string()
}

#[test]
fn missing_episode() {
    tiny_model();
    let out = tempfile::tempdir().unwrap();
    fails(
        &["samples/no-such-episode.mp3"],
        out.path(),
        &["no-such-episode.mp3", "cannot be opened"],
    );
    assert!(files_in(out.path()).is_empty());
}

#[test]
fn file_that_is_not_audio() {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("notes.mp3");
    std::fs::write(&fake, "These are show notes, not audio.\n".repeat(200)).unwrap();
    let out = dir.path().join("out");
    fails(
        &[fake.to_str().unwrap()],
        &out,
        &["notes.mp3", "not a recognized audio file"],
    );
    assert!(files_in(&out).is_empty());

    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    fails(&[empty.to_str().unwrap()], &out, &["empty.wav", "is empty"]);
}

#[test]
fn empty_transcript_keeps_earlier_outputs() {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("episode.txt");
    std::fs::write(&transcript, "\n  \n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("sample.vtt"), "WEBVTT\n\nearlier\n").unwrap();
    fails(
        &[
            "samples/sample.mp3",
            "--transcript",
            transcript.to_str().unwrap(),
        ],
        &out,
        &["episode.txt", "is empty"],
    );
    assert_eq!(files_in(&out), ["sample.vtt"]);
    assert_eq!(
        std::fs::read_to_string(out.join("sample.vtt")).unwrap(),
        "WEBVTT\n\nearlier\n"
    );
}

#[test]
fn transcript_in_wrong_encoding() {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("latin1.txt");
    std::fs::write(&transcript, b"Caf\xe9 society, r\xe9sum\xe9.\n").unwrap();
    fails(
        &[
            "samples/sample.mp3",
            "--transcript",
            transcript.to_str().unwrap(),
        ],
        &dir.path().join("out"),
        &["latin1.txt", "UTF-8"],
    );
}

#[test]
fn unwritable_output_folder() {
    tiny_model();
    let dir = tempfile::tempdir().unwrap();
    // A folder cannot be made below a regular file (chmod would not stop root).
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("out");
    fails(&["samples/sample.mp3"], &out, &["cannot write", "--out"]);
    assert_eq!(files_in(dir.path()), ["file"]);
}
