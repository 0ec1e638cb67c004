//! `podcap caption`: one episode -> captions, and where transcript and audio disagree.

use std::process::ExitCode;

use crate::cli::CaptionArgs;
use crate::terminal::{mmss, Terminal};

pub fn run(args: CaptionArgs, models_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let options = args.to_options(models_dir)?;
    let progress = Terminal::new();
    let outcome = podcap::caption(&options, &progress)?;
    let s = &outcome.report.stats;
    println!(
        "{}: {:.1} s of audio, {} words recognized in {:.1} s ({:.2}x real time), disagreements verified in {:.1} s, {} cues",
        options.episode.display(),
        s.audio_duration_ms as f64 / 1000.0,
        s.recognized_words,
        outcome.report.timings.transcribe_ms as f64 / 1000.0,
        outcome.report.timings.realtime_factor,
        outcome.report.timings.verify_ms as f64 / 1000.0,
        s.cues
    );
    if let Some(t) = outcome.report.episode.audio.truncated_at_s {
        println!(
            "warning: the audio stops early, at {}; it may be truncated",
            mmss((t * 1000.0) as u64)
        );
    }
    if outcome.report.episode.audio.skipped_packets > 0 {
        println!(
            "warning: {} damaged audio frames were skipped (kept as silence)",
            outcome.report.episode.audio.skipped_packets
        );
    }
    print_disagreements(&outcome.report);
    for p in &outcome.written {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The disagreement list of `caption` and `align`.
pub fn print_disagreements(report: &podcap::Report) {
    if report.transcript.is_none() {
        return;
    }
    let s = &report.stats;
    println!(
        "transcript words: {} matched, {} substituted, {} interpolated, {} not spoken",
        s.matched, s.substituted, s.interpolated, s.unspoken
    );
    const SHOWN: usize = 20;
    use podcap::align::UnspokenReason;
    use podcap::pipeline::Disagreement;
    let page_text = report
        .unspoken
        .iter()
        .filter(|u| u.reason == UnspokenReason::PageText)
        .count();
    if page_text > 0 {
        println!("{page_text} passage(s) of page text before or after the episode are not in the audio (see \"unspoken\" in the JSON)");
    }
    let slips = report.recognizer_slips();
    if slips > 0 {
        println!("{slips} place(s) the recognizer heard otherwise, but the model confirms the transcript there when asked (\"substitutions\" in the JSON)");
    }
    let list = report.disagreements();
    if list.is_empty() {
        println!("transcript and audio agree");
        return;
    }
    println!("where transcript and audio disagree ({}):", list.len());
    for d in list.iter().take(SHOWN) {
        let line = match d {
            Disagreement::NotInAudio { transcript, .. } => {
                format!("not in the audio: \"{transcript}\"")
            }
            Disagreement::NotInTranscript { audio, .. } => {
                format!("not in the transcript: \"{audio}\"")
            }
            Disagreement::Changed {
                transcript, audio, ..
            } => {
                let audio = if audio.is_empty() {
                    "(other words, not recognized)".to_string()
                } else {
                    format!("\"{audio}\"")
                };
                format!("transcript: \"{transcript}\", audio: {audio}")
            }
            Disagreement::TimesShift {
                written_ms,
                offset_ms,
                ..
            } => {
                let s = *offset_ms as f64 / 1000.0;
                let how = if offset_ms.unsigned_abs() <= podcap::align::WRITTEN_TIME_STEP_MS as u64
                {
                    "agree with the audio again".to_string()
                } else if s > 0.0 {
                    format!("run {s:.1} s behind the audio")
                } else {
                    format!("run {:.1} s ahead of the audio", -s)
                };
                format!(
                    "the transcript's times {how} from here (written {})",
                    mmss(*written_ms)
                )
            }
        };
        println!("  {:>8}  {line}", mmss(d.at_ms()));
    }
    if list.len() > SHOWN {
        println!("  ... {} more in the JSON", list.len() - SHOWN);
    }
}
