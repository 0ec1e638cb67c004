//! `podcap audio`: what podcap hears, as a 16 kHz mono WAV or raw samples.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::AudioArgs;
use crate::terminal::mmss;

pub fn run(args: AudioArgs) -> anyhow::Result<ExitCode> {
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
