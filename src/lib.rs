//! podcap: podcast episode + published transcript -> well-timed captions.
//!
//! The pipeline, one module per stage: [`audio`] decodes and resamples to
//! 16 kHz mono, [`transcribe`] runs Whisper, [`transcript`] reads the published
//! text, [`align`] joins recognized words to it, [`captions`] writes the outputs.
//! The library never prints; progress goes through [`progress::Progress`].

pub mod audio;
pub mod error;
pub mod fsutil;
pub mod model;
pub mod transcribe;

pub use error::Error;
pub mod align;
pub mod transcript;
