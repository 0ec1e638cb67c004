//! Progress reporting without printing: the library calls these hooks, the
//! binary draws them (indicatif on a terminal, log lines otherwise).

pub trait Progress: Sync {
    /// A new stage begins ("decoding audio", "transcribing", ...).
    fn stage(&self, _name: &str) {}
    /// Transcription starts on this much audio.
    fn start_audio(&self, _total_s: f64) {}
    /// This many more seconds of audio are transcribed.
    fn audio_done(&self, _seconds: f64) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
