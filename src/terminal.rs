//! Progress on the terminal: indicatif bars on a TTY, plain timestamped
//! lines on stderr otherwise (CI logs).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use podcap::progress::Progress;

/// indicatif on a terminal; plain lines on stderr otherwise.
pub struct Terminal {
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
    started: Instant,
    done_s: Mutex<f64>,
}

impl Terminal {
    pub fn new() -> Self {
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

/// `m:ss.s`.
pub fn mmss(ms: u64) -> String {
    format!("{}:{:04.1}", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
}
