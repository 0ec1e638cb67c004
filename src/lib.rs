//! podcap: podcast episode + published transcript -> well-timed captions.
//!
//! The pipeline, one module per stage: [`audio`] decodes and resamples to
//! 16 kHz mono, [`transcribe`] runs Whisper, [`transcript`] reads the published
//! text, [`align`] joins recognized words to it, [`captions`] builds cues and
//! renders the outputs; [`pipeline`] runs them in order. The library never
//! prints; progress goes through [`progress::Progress`].

pub mod align;
pub mod audio;
pub mod batch;
pub mod captions;
pub mod catalog;
pub mod check;
pub mod error;
pub mod fsutil;
pub mod model;
pub mod pipeline;
pub mod progress;
pub mod transcribe;
pub mod transcript;

pub use error::Error;
pub use pipeline::{caption, CaptionOptions, CaptionOutcome, Report};
