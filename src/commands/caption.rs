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
    let mut lines: Vec<(u64, String)> = Vec::new();
    // Page text around the episode (title, links, footer) is expected not to be
    // heard: count it rather than list it.
    use podcap::align::UnspokenReason;
    let page_text = report
        .unspoken
        .iter()
        .filter(|u| u.reason == UnspokenReason::PageText)
        .count();
    for u in report
        .unspoken
        .iter()
        .filter(|u| u.reason == UnspokenReason::NotHeard)
    {
        lines.push((u.near_ms, format!("not in the audio: \"{}\"", u.text)));
    }
    if page_text > 0 {
        println!("{page_text} passage(s) of page text before or after the episode are not in the audio (see \"unspoken\" in the JSON)");
    }
    // A few words more than the transcript has are most often the
    // recognizer's, from a stretch it misheard: in the JSON, not listed.
    for u in report.unscripted.iter().filter(|u| !u.is_short()) {
        lines.push((u.start_ms, format!("not in the transcript: \"{}\"", u.text)));
    }
    // Where the model, asked about the transcript's words, accepts them, the
    // recognizer slipped: counted, not listed.
    let slips = report
        .substitutions
        .iter()
        .filter(|s| s.transcript_verified == Some(true))
        .count();
    for sub in report
        .substitutions
        .iter()
        .filter(|s| s.transcript_verified != Some(true))
    {
        let audio = if sub.audio.is_empty() {
            "(other words, not recognized)".to_string()
        } else {
            format!("\"{}\"", sub.audio)
        };
        lines.push((
            sub.start_ms,
            format!("transcript: \"{}\", audio: {audio}", sub.transcript),
        ));
    }
    lines.sort_by_key(|l| l.0);
    if slips > 0 {
        println!("{slips} place(s) the recognizer heard otherwise, but the model confirms the transcript there when asked (\"substitutions\" in the JSON)");
    }
    if lines.is_empty() {
        println!("transcript and audio agree");
        return;
    }
    println!("where transcript and audio disagree ({}):", lines.len());
    for (ms, line) in lines.iter().take(SHOWN) {
        println!("  {:>8}  {line}", mmss(*ms));
    }
    if lines.len() > SHOWN {
        println!("  ... {} more in the JSON", lines.len() - SHOWN);
    }
}
