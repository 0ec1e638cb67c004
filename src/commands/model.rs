//! `podcap model`: fetch and list Whisper models.

use std::process::ExitCode;
use std::time::Instant;

use crate::cli::ModelCommand;

pub fn run(command: ModelCommand, models_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    match command {
        ModelCommand::Fetch { name, quantize } => fetch(&name, &quantize, models_dir),
        ModelCommand::List => list(models_dir),
    }
}

fn fetch(name: &str, quantize: &str, models_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    struct Log;
    impl podcap::model::FetchObserver for Log {
        fn stage(&mut self, message: &str) {
            eprintln!("{message}");
        }
    }
    let started = Instant::now();
    let weights = podcap::model::GgmlType::parse_weights(quantize)
        .expect("clap accepts known weight types only");
    let (path, info) = podcap::model::fetch(models_dir, name, weights, &mut Log)?;
    println!(
        "{}: wrote {} ({:.1} MB, {} tensors, {} vocabulary entries) in {:.1} s",
        podcap::model::variant_name(name, weights),
        path.display(),
        info.size_bytes as f64 / 1e6,
        info.tensor_count,
        info.vocab_len,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn list(models_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    println!(
        "{:<8} {:<10} {:<11} description",
        "name", "installed", "size"
    );
    for m in podcap::model::list(models_dir) {
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
