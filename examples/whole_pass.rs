//! The benchmark's reference: one whole-file whisper.cpp pass through
//! whisper-rs (no chunking, no alignment), the way a user of whisper.cpp would
//! run it. Prints the recognized text.
//!
//! Usage: cargo run --release --example whole_pass -- MODEL.bin EPISODE [THREADS] [BEAM]

use std::path::Path;

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, episode, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: whole_pass MODEL.bin EPISODE [THREADS] [BEAM]");
    };
    let threads: i32 = rest.first().map_or(Ok(2), |s| s.parse())?;
    let beam: i32 = rest.get(1).map_or(Ok(1), |s| s.parse())?;
    let (samples_16k, _) = podcap::audio::load_16k_mono(Path::new(episode))?;
    whisper_rs::install_logging_hooks();
    let ctx = WhisperContext::new_with_params(model, WhisperContextParameters::default())?;
    let mut state = ctx.create_state()?;
    let mut params = if beam > 1 {
        FullParams::new(SamplingStrategy::BeamSearch {
            beam_size: beam,
            patience: -1.0,
        })
    } else {
        FullParams::new(SamplingStrategy::Greedy { best_of: 1 })
    };
    params.set_n_threads(threads);
    params.set_language(Some("en"));
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_timestamps(false);
    state.full(params, &samples_16k)?;
    for segment in state.as_iter() {
        println!("{}", segment.to_str_lossy()?.trim());
    }
    Ok(())
}
