//! Decoding with symphonia: container probe, first audio track, packets ->
//! interleaved f32 -> mono (channel mean), handed to a sink in blocks at the
//! source rate. A corrupt packet is skipped, counted, and replaced by silence of
//! its duration so later times do not shift.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::AudioError;

/// What the decoder learned about a file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct AudioInfo {
    /// Container, from the file's magic bytes ("MP3", "MP4", "FLAC", "Ogg", "WAV").
    pub container: String,
    pub codec: String,
    pub source_rate_hz: u32,
    pub channels: usize,
    /// Duration of the decoded audio, at the source rate.
    pub duration_s: f64,
    /// Packets that failed to decode (replaced by silence).
    pub skipped_packets: u64,
    /// Set when the stream ended before the length its header announced.
    pub truncated_at_s: Option<f64>,
}

fn codec_name(codec: symphonia::core::codecs::CodecType) -> String {
    symphonia::default::get_codecs()
        .get_codec(codec)
        .map(|d| d.short_name.to_string())
        .unwrap_or_else(|| {
            use symphonia::core::codecs::*;
            match codec {
                CODEC_TYPE_OPUS => "Opus".into(),
                CODEC_TYPE_ALAC => "ALAC".into(),
                CODEC_TYPE_WAVPACK => "WavPack".into(),
                other => format!("{other}"),
            }
        })
}

struct Opened {
    format: Box<dyn symphonia::core::formats::FormatReader>,
    track: symphonia::core::formats::Track,
}

fn open(path: &Path) -> Result<Opened, AudioError> {
    let open_err = |e: std::io::Error| AudioError::Open {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let file = File::open(path).map_err(open_err)?;
    if file.metadata().map_err(open_err)?.len() == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format_opts = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())
        .map_err(|_| AudioError::NotAudio {
            path: path.to_path_buf(),
        })?;
    let format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
        .ok_or_else(|| AudioError::NoAudioTrack {
            path: path.to_path_buf(),
        })?
        .clone();
    Ok(Opened { format, track })
}

fn container_name(path: &Path) -> String {
    let mut head = [0u8; 12];
    let n = File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = &head[..n];
    let name = if head.len() >= 8 && &head[4..8] == b"ftyp" {
        "MP4"
    } else if head.starts_with(b"fLaC") {
        "FLAC"
    } else if head.starts_with(b"OggS") {
        "Ogg"
    } else if head.starts_with(b"RIFF") {
        "WAV"
    } else if head.starts_with(b"ID3")
        || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0)
    {
        "MP3"
    } else {
        "unknown"
    };
    name.to_string()
}

/// Checks that `path` is decodable audio without decoding it; returns the
/// duration its header announces, if any.
pub fn probe(path: &Path) -> Result<Option<f64>, AudioError> {
    let opened = open(path)?;
    let params = &opened.track.codec_params;
    symphonia::default::get_codecs()
        .make(params, &DecoderOptions::default())
        .map_err(|_| AudioError::UnsupportedCodec {
            path: path.to_path_buf(),
            codec: codec_name(params.codec),
        })?;
    Ok(match (params.n_frames, params.sample_rate) {
        (Some(n), Some(rate)) if rate > 0 => Some(n as f64 / rate as f64),
        _ => None,
    })
}

/// Streams the first audio track of `path` as mono blocks: `sink(source_rate_hz, block)`.
pub fn decode_mono(
    path: &Path,
    sink: &mut dyn FnMut(u32, &[f32]),
) -> Result<AudioInfo, AudioError> {
    let Opened { mut format, track } = open(path)?;
    let params = &track.codec_params;
    let mut decoder = symphonia::default::get_codecs()
        .make(params, &DecoderOptions::default())
        .map_err(|_| AudioError::UnsupportedCodec {
            path: path.to_path_buf(),
            codec: codec_name(params.codec),
        })?;
    let source_rate_hz = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.map(|c| c.count()).unwrap_or(0);
    let expected_frames = params.n_frames;
    // MP4 edit lists (AAC priming and padding) are applied here.
    let container = container_name(path);
    let edit = (container == "MP4")
        .then(|| super::mp4::audio_edit(path, source_rate_hz))
        .flatten();
    let mut skip_left = edit.map_or(0, |e| e.skip_frames);
    let mut keep_left = edit.and_then(|e| e.keep_frames).unwrap_or(u64::MAX);
    let mut frames: u64 = 0;
    let mut emit = |block: &[f32]| {
        let skip = skip_left.min(block.len() as u64) as usize;
        skip_left -= skip as u64;
        let block = &block[skip..];
        let n = keep_left.min(block.len() as u64) as usize;
        keep_left -= n as u64;
        frames += n as u64;
        if n > 0 {
            sink(source_rate_hz, &block[..n]);
        }
    };
    let mut skipped_packets = 0u64;
    let mut mono = Vec::new();
    let mut sample_buf: Option<SampleBuffer<f32>> = None;
    let mut ended_early = false;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(SymphoniaError::DecodeError(_)) => {
                // A damaged container frame: the reader resyncs on the next call.
                skipped_packets += 1;
                continue;
            }
            Err(e) => {
                if frames == 0 {
                    return Err(AudioError::Decode {
                        path: path.to_path_buf(),
                        detail: e.to_string(),
                    });
                }
                ended_early = true;
                break;
            }
        };
        if packet.track_id() != track.id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                let spec = *decoded.spec();
                channels = spec.channels.count();
                let n = decoded.frames();
                if n == 0 {
                    continue;
                }
                let buf = match &mut sample_buf {
                    Some(b) if b.capacity() >= n * channels => b,
                    _ => sample_buf.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
                };
                buf.copy_interleaved_ref(decoded);
                mono.clear();
                mono.extend(
                    buf.samples()
                        .chunks_exact(channels)
                        .map(|f| f.iter().sum::<f32>() / channels as f32),
                );
                emit(&mono);
            }
            Err(SymphoniaError::DecodeError(_)) => {
                skipped_packets += 1;
                let silent = packet.dur() as usize;
                if silent > 0 && source_rate_hz > 0 {
                    mono.clear();
                    mono.resize(silent, 0.0);
                    emit(&mono);
                }
            }
            Err(SymphoniaError::IoError(_)) => {
                ended_early = true;
                break;
            }
            Err(e) => {
                return Err(AudioError::Decode {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })
            }
        }
    }
    if frames == 0 {
        return Err(AudioError::NoAudio {
            path: path.to_path_buf(),
        });
    }
    let duration_s = frames as f64 / source_rate_hz as f64;
    // Gapless trimming can shorten the stream by up to a few thousand frames.
    let short = expected_frames.is_some_and(|n| n > frames + source_rate_hz as u64 / 10);
    Ok(AudioInfo {
        container,
        codec: codec_name(params.codec),
        source_rate_hz,
        channels,
        duration_s,
        skipped_packets,
        truncated_at_s: (ended_early || short).then_some(duration_s),
    })
}
