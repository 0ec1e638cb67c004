//! `podcap batch`: a catalog of episodes, with progress for the whole run
//! and one line per episode in flight, then a table. Exit 0 every episode
//! done, 1 some failed, 2 the run could not start.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::bail;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use podcap::batch::{self, BatchProgress, EpisodeSummary, Shard, Status, Summary};
use podcap::catalog;

use crate::cli::BatchArgs;

/// Rows of the end table; failures are always listed.
const SHOWN: usize = 50;

pub fn run(args: BatchArgs, models_dir: &Path) -> anyhow::Result<ExitCode> {
    if let Some(dirs) = &args.merge_summaries {
        let summary = batch::summary::merge(dirs)?;
        podcap::pipeline::check_output_dir(&args.out)?;
        let written = summary.write(&args.out)?;
        print_table(&summary);
        for p in written {
            println!("wrote {}", p.display());
        }
        return Ok(exit_code(&summary));
    }
    let catalog_path = args.catalog.clone().expect("clap requires a catalog");
    if !catalog::is_catalog(&catalog_path) {
        bail!(
            "'{}' is not a catalog; name a folder of episodes or a .csv / .jsonl manifest (for one episode, use podcap caption)",
            catalog_path.display()
        );
    }
    let shard = args
        .shard
        .as_deref()
        .map(|s| Shard::parse(s, &|name| std::env::var(name).ok()))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let entries = catalog::read(&catalog_path)?;
    let options = args.to_options(models_dir, &catalog_path, shard)?;
    // Problems found in the catalog itself, up front, with their lines.
    for e in entries
        .iter()
        .filter(|e| shard.is_none_or(|s| s.contains(&e.id)))
    {
        if let Some(problem) = &e.problem {
            eprintln!("warning: {problem} (this episode fails, the others go on)");
        }
    }
    let progress = BatchTerminal::new();
    let summary = batch::run(&entries, &options, &progress)?;
    progress.finish();
    print_table(&summary);
    let t = &summary.totals;
    let (unit, per) = audio_unit(t.audio_s);
    println!(
        "{} episodes: {} captioned, {} realigned, {} up to date, {} failed; {:.1} {unit} of audio in {:.1} s",
        t.episodes,
        t.captioned,
        t.realigned,
        t.up_to_date,
        t.failed,
        t.audio_s / per,
        t.seconds_taken
    );
    println!(
        "summary: {}",
        options
            .caption
            .out_dir
            .join(format!("{}.json", summary.file_stem()))
            .display()
    );
    Ok(exit_code(&summary))
}

fn exit_code(summary: &Summary) -> ExitCode {
    if summary.failed().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_table(summary: &Summary) {
    let shown: Vec<&EpisodeSummary> = summary
        .episodes
        .iter()
        .enumerate()
        .filter(|(i, e)| *i < SHOWN || e.status == Status::Failed)
        .map(|(_, e)| e)
        .collect();
    let width = shown.iter().map(|e| e.id.len()).max().unwrap_or(0).max(7);
    println!(
        "{:<width$}  {:<10}  {:>8}  {:>7}  {:>6}  {:>7}  {:>13}  error",
        "episode", "status", "audio", "time", "RTF", "matched", "disagreements"
    );
    let opt = |v: Option<usize>| v.map_or("-".to_string(), |v| v.to_string());
    for e in &shown {
        let matched = match (e.words_matched, e.transcript_words) {
            (Some(m), Some(t)) if t > 0 => format!("{:.1}%", 100.0 * m as f64 / t as f64),
            _ => "-".into(),
        };
        println!(
            "{:<width$}  {:<10}  {:>8}  {:>6.1}s  {:>6}  {:>7}  {:>13}  {}",
            e.id,
            e.status.name(),
            crate::terminal::mmss((e.audio_s * 1000.0) as u64),
            e.seconds_taken,
            e.realtime_factor.map_or("-".into(), |r| format!("{r:.2}")),
            matched,
            opt(e.disagreements),
            e.error.as_deref().or(e.note.as_deref()).unwrap_or("")
        );
    }
    if summary.episodes.len() > shown.len() {
        println!(
            "... {} more in the summary",
            summary.episodes.len() - shown.len()
        );
    }
}

/// The run's progress: one bar for the catalog (by audio seconds, so the
/// ETA follows the work) and one line per episode in flight, on a terminal;
/// plain lines on stderr otherwise.
struct BatchTerminal {
    bars: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    episodes: usize,
    finished: usize,
    total_s: f64,
    /// Audio of the finished episodes, and transcribed of those in flight.
    done_s: f64,
    /// Audio transcribed by this run (not skipped): the rate of the ETA.
    worked_s: f64,
    in_flight: HashMap<String, (Option<ProgressBar>, f64)>,
}

impl BatchTerminal {
    fn new() -> Self {
        let tty = std::io::stderr().is_terminal();
        let bars = tty.then(MultiProgress::new);
        let overall = bars.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        Self {
            bars,
            overall,
            started: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    fn log(&self, text: &str) {
        eprintln!("[{:>7.1}s] {text}", self.started.elapsed().as_secs_f64());
    }

    /// "3/20 episodes, 0.4 of 2.1 h of audio, ETA 5 min".
    fn overall_message(&self, s: &State) -> String {
        let elapsed_s = self.started.elapsed().as_secs_f64();
        let eta = if s.worked_s > 0.0 {
            let rate = s.worked_s / elapsed_s.max(1e-3);
            let left_s = (s.total_s - s.done_s).max(0.0) / rate;
            format!(", ETA {}", duration(left_s))
        } else {
            String::new()
        };
        let (unit, per) = audio_unit(s.total_s);
        format!(
            "{}/{} episodes, {:.1} of {:.1} {unit} of audio{eta}",
            s.finished,
            s.episodes,
            s.done_s / per,
            s.total_s / per
        )
    }

    fn update(&self, s: &State) {
        if let Some(bar) = &self.overall {
            bar.set_length(s.total_s.round() as u64);
            bar.set_position(s.done_s.round() as u64);
            bar.set_message(self.overall_message(s));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.overall {
            bar.finish_and_clear();
        }
    }
}

impl BatchProgress for BatchTerminal {
    fn start(&self, episodes: usize, audio_s: f64) {
        let mut s = self.state.lock().expect("lock");
        s.episodes = episodes;
        s.total_s = audio_s;
        if self.bars.is_none() {
            let (unit, per) = audio_unit(audio_s);
            self.log(&format!(
                "{episodes} episodes, {:.1} {unit} of audio",
                audio_s / per
            ));
        }
        self.update(&s);
    }

    fn episode_stage(&self, id: &str, stage: &str) {
        let mut s = self.state.lock().expect("lock");
        let entry = s.in_flight.entry(id.to_string()).or_insert_with(|| {
            let bar = self.bars.as_ref().map(|m| {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix}: {msg}")
                        .expect("valid template"),
                );
                bar.set_prefix(id.to_string());
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
                bar
            });
            (bar, 0.0)
        });
        match &entry.0 {
            Some(bar) => bar.set_message(stage.to_string()),
            None => self.log(&format!("{id}: {stage}")),
        }
    }

    fn episode_audio_done(&self, id: &str, seconds: f64) {
        let mut s = self.state.lock().expect("lock");
        s.done_s += seconds;
        s.worked_s += seconds;
        if let Some((bar, transcribed)) = s.in_flight.get_mut(id) {
            *transcribed += seconds;
            if let Some(bar) = bar {
                bar.set_message(format!("transcribing, {:.0} s of audio done", transcribed));
            }
        }
        self.update(&s);
    }

    fn episode_finished(&self, e: &EpisodeSummary) {
        let mut s = self.state.lock().expect("lock");
        let (bar, transcribed) = s.in_flight.remove(&e.id).unwrap_or((None, 0.0));
        if let Some(bar) = bar {
            bar.finish_and_clear();
            if let Some(m) = &self.bars {
                m.remove(&bar);
            }
        }
        s.finished += 1;
        s.done_s += (e.audio_s - transcribed).max(0.0);
        let what = match (&e.error, e.status) {
            (Some(error), _) => format!("failed: {error}"),
            (None, Status::UpToDate) => "up to date".into(),
            (None, status) => format!(
                "{} ({:.1} s of audio in {:.1} s)",
                status.name(),
                e.audio_s,
                e.seconds_taken
            ),
        };
        let line = format!("{}: {what}; {}", e.id, self.overall_message(&s));
        match &self.bars {
            Some(m) => {
                let _ = m.println(line);
            }
            None => self.log(&line),
        }
        self.update(&s);
    }
}

/// Hours of audio for a long catalog, minutes for a short one: (unit, seconds per unit).
fn audio_unit(total_s: f64) -> (&'static str, f64) {
    if total_s >= 3600.0 {
        ("h", 3600.0)
    } else {
        ("min", 60.0)
    }
}

/// "1 h 05 min", "5 min", "40 s".
fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{} min", s.div_ceil(60))
    } else {
        format!("{s} s")
    }
}
