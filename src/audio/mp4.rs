//! The edit list of an MP4/M4A audio track: AAC encoders put ~1024-2112
//! priming samples before the first sample a listener hears, and record that
//! in `moov/trak/edts/elst`. symphonia parses the box but does not apply it,
//! so podcap reads it here and trims the decoded audio accordingly.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What the edit list asks for, in frames of the track's sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// Frames to drop from the start (encoder delay).
    pub skip_frames: u64,
    /// Frames to keep after that (drops the end padding), if given.
    pub keep_frames: Option<u64>,
}

struct Boxes<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for Boxes<'a> {
    type Item = (&'a [u8; 4], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.data.len() < 8 {
            return None;
        }
        let size32 = u32::from_be_bytes(self.data[0..4].try_into().ok()?) as usize;
        let kind: &[u8; 4] = self.data[4..8].try_into().ok()?;
        let (header, size) = match size32 {
            0 => (8, self.data.len()),
            1 => (
                16,
                u64::from_be_bytes(self.data.get(8..16)?.try_into().ok()?) as usize,
            ),
            n => (8, n),
        };
        if size < header || size > self.data.len() {
            return None;
        }
        let body = &self.data[header..size];
        self.data = &self.data[size..];
        Some((kind, body))
    }
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    Boxes { data }.find(|(k, _)| *k == kind).map(|(_, b)| b)
}

fn be_u32(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as u64)
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Timescale of an `mvhd` or `mdhd` box body.
fn timescale(body: &[u8]) -> Option<u64> {
    match body.first()? {
        1 => be_u32(body, 20),
        _ => be_u32(body, 12),
    }
}

/// Reads the `moov` box of `path` (skipping `mdat` without reading it).
fn read_moov(path: &Path) -> Option<Vec<u8>> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut pos = 0u64;
    while pos + 8 <= len {
        let mut h = [0u8; 16];
        f.seek(SeekFrom::Start(pos)).ok()?;
        f.read_exact(&mut h[..8]).ok()?;
        let mut size = u32::from_be_bytes(h[0..4].try_into().ok()?) as u64;
        let mut header = 8;
        if size == 1 {
            f.read_exact(&mut h[8..16]).ok()?;
            size = u64::from_be_bytes(h[8..16].try_into().ok()?);
            header = 16;
        } else if size == 0 {
            size = len - pos;
        }
        if size < header || pos + size > len {
            return None;
        }
        if &h[4..8] == b"moov" {
            let mut body = vec![0u8; (size - header) as usize];
            f.read_exact(&mut body).ok()?;
            return Some(body);
        }
        pos += size;
    }
    None
}

/// The edit of the first sound track, converted to frames at `sample_rate_hz`.
pub fn audio_edit(path: &Path, sample_rate_hz: u32) -> Option<Edit> {
    let moov = read_moov(path)?;
    let movie_scale = timescale(child(&moov, b"mvhd")?)?;
    for (kind, trak) in (Boxes { data: &moov }) {
        if kind != b"trak" {
            continue;
        }
        let mdia = child(trak, b"mdia")?;
        let handler = child(mdia, b"hdlr")?;
        if handler.get(8..12)? != b"soun" {
            continue;
        }
        let media_scale = timescale(child(mdia, b"mdhd")?)?;
        let elst = child(child(trak, b"edts")?, b"elst")?;
        let version = *elst.first()?;
        let count = be_u32(elst, 4)? as usize;
        let entry_len = if version == 1 { 20 } else { 12 };
        for i in 0..count {
            let at = 8 + i * entry_len;
            let (duration, media_time) = if version == 1 {
                (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
            } else {
                (
                    be_u32(elst, at)?,
                    be_u32(elst, at + 4)? as u32 as i32 as i64,
                )
            };
            if media_time < 0 {
                continue; // an empty edit
            }
            let rate = sample_rate_hz as u64;
            return Some(Edit {
                skip_frames: media_time as u64 * rate / media_scale.max(1),
                keep_frames: (duration > 0).then(|| duration * rate / movie_scale.max(1)),
            });
        }
    }
    None
}
