//! podcap: parse arguments, run, print results; exit 0 ok, 1 a check
//! failed (`podcap check`), 2 error.

mod cli;
mod commands;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Like other command-line tools, stop quietly when the reader of our
    // output goes away (`podcap ... | head`) instead of panicking on EPIPE.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // whisper.cpp allocates and frees its buffers per chunk (a fresh decoding
    // state each, DTW's work memory each window). With glibc's sliding mmap
    // threshold they come from its heaps, which fragment and keep what was
    // freed: the first 10 minutes of the episode peaked at 401 MB, and at
    // 354 MB with the threshold fixed at 64 KiB.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: a malloc setting, made before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
    }
    // glibc gives each new thread an arena of its own, up to 8 per core, and
    // keeps what each holds. `podcap batch` starts threads for every episode:
    // over 100 entries its peak grew to 344 MB from 312 MB over 20; with one
    // arena per core, 328 MB from 311 MB (scripts/bench-batch).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: a malloc setting, made before any thread starts.
    unsafe {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        libc::mallopt(libc::M_ARENA_MAX, cores as libc::c_int);
    }
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
