//! Audio front end: any podcast file -> 16 kHz mono f32 samples.
//!
//! [`decode`] streams packets out of symphonia and downmixes them to mono at
//! the source rate; [`resample`] turns that stream into 16 kHz with rubato, block
//! by block, so no whole-episode buffer at the source rate is ever held.
//! Time 0 is the first sample a listener hears (gapless trimming is on).

pub mod decode;
pub mod mp4;
pub mod resample;
pub mod speech;

use std::path::{Path, PathBuf};

pub use decode::{probe, AudioInfo};

/// The rate Whisper and everything after the front end works at.
pub const SAMPLE_RATE_HZ: u32 = 16_000;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("audio file '{path}' cannot be opened: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error("'{path}' is empty; pass an audio file (MP3, M4A/AAC, FLAC, WAV, OGG/Vorbis)")]
    Empty { path: PathBuf },
    #[error("'{path}' is not a recognized audio file; podcap reads MP3, M4A/AAC, FLAC, WAV and OGG/Vorbis")]
    NotAudio { path: PathBuf },
    #[error("'{path}' has no audio track")]
    NoAudioTrack { path: PathBuf },
    #[error("'{path}' uses the {codec} codec, which podcap cannot decode; convert it first: ffmpeg -i '{path}' -ac 1 -ar 16000 out.wav")]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("'{path}' could not be decoded: {detail}")]
    Decode { path: PathBuf, detail: String },
    #[error("'{path}' contains no decodable audio")]
    NoAudio { path: PathBuf },
}

/// Decodes `path` and streams its 16 kHz mono signal to `sink` in blocks.
/// Decoding runs on its own thread, resampling (and `sink`) on the caller's,
/// with a short queue between them.
pub fn stream_16k_mono(path: &Path, sink: &mut dyn FnMut(&[f32])) -> Result<AudioInfo, AudioError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u32, Vec<f32>)>(32);
    let mut produced = 0usize;
    let info = std::thread::scope(|scope| {
        let decoder = scope.spawn(move || {
            decode::decode_mono(path, &mut |rate_hz, block| {
                // The receiver only goes away if the caller panicked.
                let _ = tx.send((rate_hz, block.to_vec()));
            })
        });
        let mut resampler: Option<resample::To16k> = None;
        let mut counted = |block: &[f32]| {
            produced += block.len();
            sink(block)
        };
        for (rate_hz, block) in rx {
            resampler
                .get_or_insert_with(|| resample::To16k::new(rate_hz))
                .push(&block, &mut counted);
        }
        if let Some(r) = resampler {
            r.finish(&mut counted);
        }
        decoder.join().expect("the decoder thread does not panic")
    })?;
    if produced == 0 {
        return Err(AudioError::NoAudio {
            path: path.to_path_buf(),
        });
    }
    Ok(info)
}

/// Decodes `path` into one 16 kHz mono buffer (for short files and tools).
pub fn load_16k_mono(path: &Path) -> Result<(Vec<f32>, AudioInfo), AudioError> {
    let mut samples = Vec::new();
    let info = stream_16k_mono(path, &mut |block| samples.extend_from_slice(block))?;
    Ok((samples, info))
}

/// Decodes `input` and writes what podcap hears to `output`: a 16 kHz mono
/// 16-bit WAV, streamed and written atomically.
pub fn decode_to_wav(input: &Path, output: &Path) -> Result<AudioInfo, crate::Error> {
    let out_err = |e: &dyn std::fmt::Display| crate::Error::Output {
        path: output.to_path_buf(),
        detail: e.to_string(),
    };
    probe(input)?;
    let mut file = crate::fsutil::AtomicFile::create(output).map_err(|e| out_err(&e))?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(std::io::BufWriter::new(file.file()), spec)
        .map_err(|e| out_err(&e))?;
    let mut failed: Option<hound::Error> = None;
    let info = stream_16k_mono(input, &mut |block| {
        for &s in block {
            if failed.is_none() {
                if let Err(e) = writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16) {
                    failed = Some(e);
                }
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(out_err(&e));
    }
    writer.finalize().map_err(|e| out_err(&e))?;
    file.commit().map_err(|e| out_err(&e))?;
    Ok(info)
}
