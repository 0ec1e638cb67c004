//! `podcap check`: is the published transcript true to the episode? Exit 0
//! passes, 1 below a threshold, 2 could not check.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use podcap::catalog::{self, Entry};
use podcap::check::{self, CheckRun, EpisodeResult, Recognition, Status, Thresholds};

use crate::cli::{CheckArgs, CheckFormat};
use crate::terminal::Terminal;

/// Findings listed per episode in the human format.
const SHOWN: usize = 20;

pub fn run(args: CheckArgs, models_dir: &Path) -> anyhow::Result<ExitCode> {
    let thresholds = Thresholds {
        max_wer: args.max_wer,
        max_unspoken_s: args.max_unspoken_s,
        max_unscripted_s: args.max_unscripted_s,
    };
    if !(0.0..=1.0).contains(&thresholds.max_wer) {
        bail!(
            "--max-wer {} is not a rate between 0 and 1; 0.05 allows 5% of the words to differ",
            thresholds.max_wer
        );
    }
    if thresholds.max_unspoken_s < 0.0 || thresholds.max_unscripted_s < 0.0 {
        bail!("--max-unspoken-s and --max-unscripted-s are seconds, 0 or more");
    }
    let is_catalog = catalog::is_catalog(&args.episode);
    let entries = if is_catalog {
        if args.transcript.is_some() {
            bail!(
                "'{}' is a catalog, which names each episode's transcript; leave out --transcript",
                args.episode.display()
            );
        }
        catalog::read(&args.episode)?
    } else {
        let Some(transcript) = args.transcript.clone() else {
            bail!("podcap check needs the transcript to check: pass --transcript FILE");
        };
        vec![Entry {
            id: args
                .episode
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "episode".into()),
            audio: args.episode.clone(),
            transcript: Some(transcript),
            out: None,
            origin: args.episode.display().to_string(),
            problem: None,
        }]
    };
    if let Some(j) = &args.from_json {
        if is_catalog && !j.is_dir() {
            bail!(
                "--from-json '{}' must be a folder of ID.json files when checking a catalog",
                j.display()
            );
        }
    }

    // One model load for every episode; none when all come from saved runs.
    let first_audio = entries[0].audio.clone();
    let base_options = args.engine.to_options(models_dir, &first_audio, None)?;
    let engine = match args.from_json {
        Some(_) => None,
        None => Some(podcap::pipeline::load_engine(&base_options)?),
    };
    // A saved run must have been made with the model asked for, if one is.
    let expected_model = args
        .engine
        .model
        .is_some()
        .then(|| base_options.model_path.clone());

    let mut results = Vec::new();
    for entry in &entries {
        let started = Instant::now();
        let outcome = (|| -> Result<check::EpisodeCheck, podcap::Error> {
            if let Some(problem) = &entry.problem {
                return Err(podcap::Error::Usage(problem.clone()));
            }
            let transcript = entry.transcript.as_deref().ok_or_else(|| {
                podcap::Error::Usage(format!(
                    "{}: no transcript for '{}'; put {}.txt (or .md, .html) beside it",
                    entry.origin,
                    entry.audio.display(),
                    entry.id
                ))
            })?;
            let progress = Terminal::new();
            let saved = args.from_json.as_ref().map(|j| {
                if is_catalog {
                    j.join(format!("{}.json", entry.id))
                } else {
                    j.clone()
                }
            });
            let recognition = match (&engine, &saved) {
                (_, Some(json)) => Recognition::Saved {
                    json,
                    model: expected_model.as_deref(),
                },
                (Some(engine), None) => Recognition::Run {
                    engine,
                    options: &base_options,
                    progress: &progress,
                },
                (None, None) => unreachable!("the model is loaded unless --from-json"),
            };
            check::check_episode(
                &entry.audio,
                transcript,
                recognition,
                &base_options.cues,
                &thresholds,
            )
        })();
        if !is_catalog {
            // One episode that cannot be checked is the run's error (exit 2).
            outcome.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        results.push(EpisodeResult {
            id: entry.id.clone(),
            audio: entry.audio.display().to_string(),
            transcript: entry
                .transcript
                .as_ref()
                .map(|t| t.display().to_string())
                .unwrap_or_default(),
            elapsed_s: started.elapsed().as_secs_f64(),
            outcome: outcome.map_err(|e| e.to_string()),
        });
    }
    let run = CheckRun {
        thresholds,
        episodes: results,
    };

    if let Some(path) = &args.junit {
        let xml = check::junit::render(&run);
        podcap::fsutil::write_atomically(path, |w| w.write_all(xml.as_bytes())).with_context(
            || {
                format!(
                    "cannot write the JUnit report '{}'; check that its folder is writable",
                    path.display()
                )
            },
        )?;
    }
    let text = match args.format {
        CheckFormat::Human => human(&run),
        CheckFormat::Json => check::json::render(&run),
        CheckFormat::Junit => check::junit::render(&run),
        CheckFormat::Github => check::github::render(&run),
    };
    print!("{text}");
    Ok(match run.status() {
        Status::Passed => ExitCode::SUCCESS,
        Status::Failed => ExitCode::from(1),
        Status::Error => ExitCode::from(2),
    })
}

/// Per episode: a summary line, the failed thresholds, then the findings.
fn human(run: &CheckRun) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for e in &run.episodes {
        let c = match &e.outcome {
            Err(message) => {
                let _ = writeln!(out, "{}: ERROR {message}", e.id);
                continue;
            }
            Ok(c) => c,
        };
        let f = &c.figures;
        let _ = writeln!(
            out,
            "{}: {} WER {} ({} substituted, {} missing, {} extra of {} words), CER {}; {} finding(s); {:.1} s of text not in the audio, {:.1} s of speech not in the transcript",
            e.id,
            if c.passed { "PASSED" } else { "FAILED" },
            check::percent(f.wer),
            f.substitutions,
            f.deletions,
            f.insertions,
            f.reference_words,
            check::percent(f.cer),
            f.findings,
            f.unspoken_s,
            f.unscripted_s,
        );
        for v in c.verdicts.iter().filter(|v| !v.passed) {
            let _ = writeln!(out, "  {}", v.describe());
        }
        let confident: Vec<&check::Finding> =
            c.findings.iter().filter(|f| !f.low_confidence).collect();
        for x in confident.iter().take(SHOWN) {
            let _ = writeln!(out, "  {}:{}  {}", e.transcript, x.start.line, x.summary());
        }
        if confident.len() > SHOWN {
            let _ = writeln!(
                out,
                "  and {} more (--format json lists every finding)",
                confident.len() - SHOWN
            );
        }
        if c.low_confidence_findings > 0 {
            let _ = writeln!(
                out,
                "  {} low-confidence disagreement(s), most likely the recognizer's slips, are not counted (WER with them: {})",
                c.low_confidence_findings,
                check::percent(c.figures_all.wer)
            );
        }
        if !c.page_text.is_empty() {
            let _ = writeln!(
                out,
                "  {} passage(s) of page text, headers, cues and speaker labels are not spoken, as expected (--format json lists them)",
                c.page_text.len()
            );
        }
    }
    if run.episodes.len() > 1 {
        let count = |s: Status| run.episodes.iter().filter(|e| e.status() == s).count();
        let _ = writeln!(
            out,
            "{} episode(s): {} passed, {} failed, {} could not be checked",
            run.episodes.len(),
            count(Status::Passed),
            count(Status::Failed),
            count(Status::Error)
        );
    }
    out
}
