//! The binary's side: runs commands and shows progress and results.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{Cli, Command, ModelCommand};
use podcap::progress::Progress;

/// indicatif on a terminal; plain lines on stderr otherwise.
struct Terminal {
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
    started: Instant,
    done_s: Mutex<f64>,
}

impl Terminal {
    fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            done_s: Mutex::new(0.0),
        }
    }
}

impl Progress for Terminal {
    fn stage(&self, name: &str) {
        if !self.tty {
            eprintln!("[{:>6.1}s] {name}", self.started.elapsed().as_secs_f64());
        }
    }

    fn start_audio(&self, total_s: f64) {
        if self.tty {
            let bar = ProgressBar::new(total_s.round() as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} transcribing [{bar:30}] {pos}/{len} s of audio, ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            *self.bar.lock().expect("lock") = Some(bar);
        } else {
            eprintln!(
                "[{:>6.1}s] {total_s:.1} s of audio to transcribe",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn audio_done(&self, seconds: f64) {
        let mut done = self.done_s.lock().expect("lock");
        *done += seconds;
        if let Some(bar) = self.bar.lock().expect("lock").as_ref() {
            bar.set_position(done.round() as u64);
        } else {
            eprintln!(
                "[{:>6.1}s] transcribed {:.1} s of audio",
                self.started.elapsed().as_secs_f64(),
                *done
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("lock").take() {
            bar.finish_and_clear();
        }
    }
}

fn mmss(ms: u64) -> String {
    format!("{}:{:04.1}", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
}

fn print_disagreements(report: &podcap::Report) {
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
    for u in &report.unscripted {
        lines.push((u.start_ms, format!("not in the transcript: \"{}\"", u.text)));
    }
    for sub in &report.substitutions {
        lines.push((
            sub.start_ms,
            format!(
                "transcript: \"{}\", audio: \"{}\"",
                sub.transcript, sub.audio
            ),
        ));
    }
    lines.sort_by_key(|l| l.0);
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

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let models_dir = cli
        .models_dir
        .clone()
        .unwrap_or_else(podcap::model::default_models_dir);
    match cli.command {
        Command::Caption(args) => {
            let options = args.to_options(&models_dir)?;
            let progress = Terminal::new();
            let outcome = podcap::caption(&options, &progress)?;
            let s = &outcome.report.stats;
            println!(
                "{}: {:.1} s of audio, {} words recognized in {:.1} s ({:.2}x real time), {} cues",
                options.episode.display(),
                s.audio_duration_ms as f64 / 1000.0,
                s.recognized_words,
                outcome.report.timings.transcribe_ms as f64 / 1000.0,
                outcome.report.timings.realtime_factor,
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
        Command::Align(args) => {
            let cues = podcap::captions::CueOptions {
                max_chars_per_line: args.max_line_chars,
                max_chars_per_s: args.max_cps,
                ..Default::default()
            };
            let outcome = podcap::pipeline::realign(
                &args.report,
                &args.transcript,
                &args.out,
                &args.formats,
                &cues,
            )?;
            println!(
                "{}: aligned {} recognized words in {} ms, {} cues",
                args.transcript.display(),
                outcome.report.stats.recognized_words,
                outcome.report.timings.align_ms,
                outcome.report.stats.cues
            );
            print_disagreements(&outcome.report);
            for p in &outcome.written {
                println!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audio(args) => {
            let raw = args.output.as_os_str() == "-";
            let info = if raw {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
                let mut failed = None;
                let mut bytes = Vec::new();
                let info = podcap::audio::stream_16k_mono(&args.episode, &mut |block| {
                    bytes.clear();
                    bytes.extend(block.iter().flat_map(|s| s.to_le_bytes()));
                    if failed.is_none() {
                        failed = out.write_all(&bytes).err();
                    }
                })?;
                if let Some(e) = failed.or_else(|| out.flush().err()) {
                    anyhow::bail!("cannot write to standard output: {e}");
                }
                info
            } else {
                podcap::audio::decode_to_wav(&args.episode, &args.output)?
            };
            // With raw samples on stdout, the summary goes to stderr.
            let mut summary: Box<dyn Write> = if raw {
                Box::new(std::io::stderr())
            } else {
                Box::new(std::io::stdout())
            };
            let _ = writeln!(
                summary,
                "{}: {} {}, {} Hz, {} channel(s), {:.3} s, {} damaged frame(s) skipped",
                args.episode.display(),
                info.container,
                info.codec,
                info.source_rate_hz,
                info.channels,
                info.duration_s,
                info.skipped_packets
            );
            if let Some(t) = info.truncated_at_s {
                let _ = writeln!(
                    summary,
                    "warning: the audio stops early, at {}; it may be truncated",
                    mmss((t * 1000.0) as u64)
                );
            }
            if !raw {
                let _ = writeln!(summary, "wrote {} (16 kHz mono)", args.output.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model {
            command: ModelCommand::Fetch { name, quantize },
        } => {
            struct Log;
            impl podcap::model::FetchObserver for Log {
                fn stage(&mut self, message: &str) {
                    eprintln!("{message}");
                }
            }
            let started = Instant::now();
            let weights = podcap::model::GgmlType::parse_weights(&quantize)
                .expect("clap accepts known weight types only");
            let (path, info) = podcap::model::fetch(&models_dir, &name, weights, &mut Log)?;
            println!(
                "{}: wrote {} ({:.1} MB, {} tensors, {} vocabulary entries) in {:.1} s",
                podcap::model::variant_name(&name, weights),
                path.display(),
                info.size_bytes as f64 / 1e6,
                info.tensor_count,
                info.vocab_len,
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Model {
            command: ModelCommand::List,
        } => {
            println!(
                "{:<8} {:<10} {:<11} description",
                "name", "installed", "size"
            );
            for m in podcap::model::list(&models_dir) {
                let status = match m.installed_bytes {
                    Some(b) if b == m.expected_bytes => "yes",
                    Some(_) => "damaged",
                    None => "no",
                };
                println!(
                    "{:<8} {:<10} {:<11} {}",
                    m.name,
                    status,
                    format!("{:.1} MB", m.expected_bytes as f64 / 1e6),
                    m.description
                );
            }
            println!(
                "fetch one with: podcap model fetch NAME   (models folder: {})",
                models_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
