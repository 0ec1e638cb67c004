//! `podcap align`: an earlier run's recognized words, aligned again to a (new) transcript.

use std::process::ExitCode;

use super::caption::print_disagreements;
use crate::cli::AlignArgs;

pub fn run(args: AlignArgs) -> anyhow::Result<ExitCode> {
    let cues = args.cues.to_options();
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
