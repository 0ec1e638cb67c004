//! The audio front end against ffmpeg-encoded fixtures made from one master:
//! every format lines up with the master within 1 ms and lasts as long within
//! 10 ms; damaged and foreign files fail or degrade as documented.

use std::path::{Path, PathBuf};

use podcap::audio;

use crate::util::*;

const TEXT: &str = "History shows that it is not enough to defeat a revolution. \
    It must also slander it, so that not even the memory remains.";

/// A speech master at `rate_hz`, stereo, 16-bit (espeak-ng, then sox).
fn master(dir: &Path, rate_hz: u32) -> PathBuf {
    master_with_channels(dir, rate_hz, 2)
}

fn master_with_channels(dir: &Path, rate_hz: u32, channels: u32) -> PathBuf {
    let speech = dir.join("speech.wav");
    if !speech.exists() {
        tool("espeak-ng", &["-w", speech.to_str().unwrap(), TEXT]);
    }
    let out = dir.join(format!("master-{rate_hz}-{channels}.wav"));
    // 0.3 s of silence first, so encoder delay would show as a shift.
    tool(
        "sox",
        &[
            "-R", // no random dither: the same fixture every run
            speech.to_str().unwrap(),
            "-r",
            &rate_hz.to_string(),
            "-c",
            &channels.to_string(),
            "-b",
            "16",
            out.to_str().unwrap(),
            "pad",
            "0.3",
            "0.2",
        ],
    );
    out
}

fn encode(master: &Path, ext: &str) -> PathBuf {
    let stem = master.file_stem().unwrap().to_str().unwrap();
    let out = master.with_file_name(format!("{stem}-encoded.{ext}"));
    let codec: &[&str] = match ext {
        "mp3" => &["-c:a", "libmp3lame", "-b:a", "128k"],
        "m4a" => &["-c:a", "aac", "-b:a", "128k"],
        "flac" => &["-c:a", "flac"],
        "ogg" => &["-c:a", "libvorbis", "-q:a", "4"],
        "wav" => &["-c:a", "pcm_s24le"],
        other => panic!("no codec for {other}"),
    };
    let mut args = vec!["-loglevel", "error", "-y", "-i", master.to_str().unwrap()];
    args.extend_from_slice(codec);
    args.push(out.to_str().unwrap());
    tool("ffmpeg", &args);
    out
}

/// The lag (in 16 kHz samples) that best lines `signal` up with `reference`.
fn best_lag(reference: &[f32], signal: &[f32], max_lag: i64) -> i64 {
    let n = reference.len().min(signal.len()) as i64;
    (-max_lag..=max_lag)
        .max_by(|&a, &b| {
            let corr = |lag: i64| -> f64 {
                (0..n)
                    .filter_map(|i| {
                        let j = i + lag;
                        (j >= 0 && j < signal.len() as i64)
                            .then(|| reference[i as usize] as f64 * signal[j as usize] as f64)
                    })
                    .sum()
            };
            corr(a).partial_cmp(&corr(b)).unwrap()
        })
        .unwrap()
}

/// Asserts that `signal` lines up with `reference` within 1 ms and lasts as long within 10 ms.
fn assert_lines_up(reference: &[f32], signal: &[f32], what: &str) {
    let lag = best_lag(reference, signal, 1600);
    assert!(
        lag.abs() <= 16,
        "{what} is shifted by {lag} samples ({} ms)",
        lag as f64 / 16.0
    );
    let diff = signal.len() as i64 - reference.len() as i64;
    assert!(
        diff.abs() <= 160,
        "{what} lasts {} ms longer than the master",
        diff as f64 / 16.0
    );
}

fn check_lines_up(rate_hz: u32, formats: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let m = master(dir.path(), rate_hz);
    let (reference, info) = audio::load_16k_mono(&m).unwrap();
    assert_eq!(info.source_rate_hz, rate_hz);
    for ext in formats {
        let f = encode(&m, ext);
        let (signal, info) = audio::load_16k_mono(&f).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_lines_up(&reference, &signal, &format!("{ext} at {rate_hz} Hz"));
        assert_eq!(info.skipped_packets, 0, "{ext}");
    }
}

#[test]
fn formats_line_up_at_44100() {
    check_lines_up(44_100, &["mp3", "m4a", "flac", "ogg", "wav"]);
}

#[test]
fn formats_line_up_at_48000_and_22050() {
    check_lines_up(48_000, &["mp3", "m4a", "flac"]);
    check_lines_up(22_050, &["ogg", "wav", "mp3"]);
}

/// VBR MP3 with a large ID3v2 cover image, 32-bit integer WAV, 8 kHz mono
/// MP3 and 96 kHz six-channel float WAV.
#[test]
fn variants_line_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let ffmpeg = |args: &[&str]| {
        let mut all = vec!["-loglevel", "error", "-y"];
        all.extend_from_slice(args);
        tool("ffmpeg", &all);
    };

    let m = master(dir.path(), 44_100);
    let m_s = m.to_str().unwrap();
    let (reference, _) = audio::load_16k_mono(&m).unwrap();
    let cover = d("cover.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "nullsrc=s=1200x1200,geq=random(1)*255:128:128",
        "-frames:v",
        "1",
        &cover,
    ]);
    assert!(
        std::fs::metadata(&cover).unwrap().len() > 1_000_000,
        "the cover is large"
    );
    let vbr = d("vbr-cover.mp3");
    ffmpeg(&[
        "-i",
        m_s,
        "-i",
        &cover,
        "-map",
        "0",
        "-map",
        "1",
        "-c:a",
        "libmp3lame",
        "-q:a",
        "4",
        "-c:v",
        "copy",
        "-id3v2_version",
        "3",
        &vbr,
    ]);
    let (signal, info) = audio::load_16k_mono(Path::new(&vbr)).unwrap();
    assert_eq!(info.container, "MP3");
    assert_lines_up(&reference, &signal, "VBR MP3 with cover art");
    let int32 = d("int32.wav");
    ffmpeg(&["-i", m_s, "-c:a", "pcm_s32le", &int32]);
    assert_lines_up(
        &reference,
        &audio::load_16k_mono(Path::new(&int32)).unwrap().0,
        "32-bit WAV",
    );

    let mono8k = master_with_channels(dir.path(), 8_000, 1);
    let (reference, info) = audio::load_16k_mono(&mono8k).unwrap();
    assert_eq!((info.source_rate_hz, info.channels), (8_000, 1));
    let mp3 = encode(&mono8k, "mp3");
    assert_lines_up(
        &reference,
        &audio::load_16k_mono(&mp3).unwrap().0,
        "8 kHz mono MP3",
    );

    let six = master_with_channels(dir.path(), 96_000, 6);
    let (reference, info) = audio::load_16k_mono(&six).unwrap();
    assert_eq!((info.source_rate_hz, info.channels), (96_000, 6));
    let float = d("float.wav");
    ffmpeg(&["-i", six.to_str().unwrap(), "-c:a", "pcm_f32le", &float]);
    let (signal, info) = audio::load_16k_mono(Path::new(&float)).unwrap();
    assert_eq!(info.channels, 6);
    assert_lines_up(&reference, &signal, "96 kHz 6-channel float WAV");
}

#[test]
fn truncated_file_gives_the_audio_up_to_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = encode(&master(dir.path(), 44_100), "mp3");
    let bytes = std::fs::read(&mp3).unwrap();
    let cut = dir.path().join("cut.mp3");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (full, _) = audio::load_16k_mono(&mp3).unwrap();
    let (half, info) = audio::load_16k_mono(&cut).unwrap();
    let ratio = half.len() as f64 / full.len() as f64;
    assert!((0.4..0.6).contains(&ratio), "kept {ratio:.2} of the audio");
    let stopped = info.truncated_at_s.expect("truncation is reported");
    assert!(
        (stopped - half.len() as f64 / 16_000.0).abs() < 0.1,
        "{stopped}"
    );

    // Through the CLI: a warning naming the time, and the WAV is written.
    let wav = dir.path().join("cut.wav");
    let o = podcap(&["audio", cut.to_str().unwrap(), "-o", wav.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("stops early, at 0:"), "{out}");
    assert!(wav.exists());
}

#[test]
fn corrupt_frames_are_counted_and_kept_as_silence() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = encode(&master(dir.path(), 44_100), "mp3");
    let mut bytes = std::fs::read(&mp3).unwrap();
    // Scramble the frame payloads in the middle, sparing the frame headers
    // (sync word 0xFFE and the 3 bytes after it).
    let mid = bytes.len() / 2;
    let mut x: u32 = 5;
    let mut spare = 0;
    for i in mid..mid + 4000 {
        if bytes[i] == 0xFF && bytes[i + 1] & 0xE0 == 0xE0 {
            spare = 4;
        }
        if spare > 0 {
            spare -= 1;
            continue;
        }
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        // Never 0xFF: a forged sync word is another kind of damage (a bogus
        // frame header), not a corrupt frame.
        bytes[i] = ((x >> 24) as u8).min(0xFE);
    }
    let bad = dir.path().join("bad.mp3");
    std::fs::write(&bad, &bytes).unwrap();
    let (good, _) = audio::load_16k_mono(&mp3).unwrap();
    let (damaged, info) = audio::load_16k_mono(&bad).unwrap();
    assert!(info.skipped_packets > 0, "the damaged frames are counted");
    // The timeline keeps its length: nothing after the damage moves.
    let diff = (damaged.len() as i64 - good.len() as i64).abs();
    assert!(
        diff <= 1152 * 16_000 / 44_100 * 2,
        "length changed by {diff} samples"
    );
    let tail = 16_000;
    let lag = best_lag(
        &good[good.len() - tail..],
        &damaged[damaged.len() - tail..],
        400,
    );
    assert!(
        lag.abs() <= 16,
        "the audio after the damage moved by {lag} samples"
    );
}

#[test]
fn foreign_files_exit_2_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (dir.path().join("notes.mp3"), "not a recognized audio file"),
        (dir.path().join("empty.flac"), "is empty"),
    ];
    std::fs::write(&cases[0].0, "show notes ".repeat(500)).unwrap();
    std::fs::write(&cases[1].0, b"").unwrap();
    // Opus: symphonia cannot decode it; the message gives the conversion.
    let opus = dir.path().join("talk.opus");
    tool(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:a",
            "libopus",
            opus.to_str().unwrap(),
        ],
    );
    // A video file with no audio track.
    let video = dir.path().join("silent.mp4");
    tool(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:d=1",
            "-c:v",
            "mpeg4",
            video.to_str().unwrap(),
        ],
    );
    let mut all = cases;
    all.push((opus, "ffmpeg -i"));
    all.push((video, "audio"));
    for (path, expect) in all {
        let wav = dir.path().join("out.wav");
        let o = podcap(&["audio", path.to_str().unwrap(), "-o", wav.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
        assert!(
            err.contains(path.file_name().unwrap().to_str().unwrap()) && err.contains(expect),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!wav.exists());
    }
}
