//! The library's error, grouped by what the caller can do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Transcribe(#[from] crate::transcribe::TranscribeError),
    #[error(transparent)]
    Transcript(#[from] crate::transcript::TranscriptError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write '{path}': {detail}; check that the folder exists and is writable, or pass another --out")]
    Output { path: PathBuf, detail: String },
}
