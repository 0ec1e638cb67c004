//! Chunk planning and stitching on the 16 kHz timeline.
//!
//! Cuts fall at the quietest 20 ms frame within ±`SEARCH_S` of each target, so
//! they land in pauses, not inside words. The plan depends on the samples only
//! (never on the number of workers), so any `--jobs` gives the same output.

use super::RecognizedWord;

pub const DEFAULT_TARGET_S: f64 = 60.0;
const SEARCH_S: f64 = 8.0;
const FRAME_SAMPLES: usize = 320; // 20 ms at 16 kHz

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start_sample: usize,
    pub end_sample: usize,
}

fn frame_energy(samples: &[f32], frame: usize) -> f32 {
    let s = &samples[frame * FRAME_SAMPLES..((frame + 1) * FRAME_SAMPLES).min(samples.len())];
    s.iter().map(|x| x * x).sum::<f32>() / s.len().max(1) as f32
}

/// Where to cut `samples` (which hold at least `target + search` samples past
/// the chunk start at 0): the middle of the quietest 20 ms frame near the
/// target; ties go to the frame nearest the target, so cuts are stable.
fn cut_point(samples: &[f32], target: usize, search: usize) -> usize {
    let lo = (target - search.min(target / 2)) / FRAME_SAMPLES;
    let hi = (target + search).min(samples.len()) / FRAME_SAMPLES;
    let best = (lo..hi)
        .min_by(|&a, &b| {
            let (ea, eb) = (frame_energy(samples, a), frame_energy(samples, b));
            ea.partial_cmp(&eb)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(
                    (a * FRAME_SAMPLES)
                        .abs_diff(target)
                        .cmp(&(b * FRAME_SAMPLES).abs_diff(target)),
                )
        })
        .unwrap_or(target / FRAME_SAMPLES);
    best * FRAME_SAMPLES + FRAME_SAMPLES / 2
}

/// Cuts a stream of 16 kHz samples into chunks as it arrives, holding at
/// most ~1.5 chunks. Gives the same cuts as [`plan`] on the whole signal.
pub struct Chunker {
    target: usize,
    search: usize,
    buffer: Vec<f32>,
    /// Stream position of `buffer[0]`.
    start_sample: usize,
}

impl Chunker {
    pub fn new(target_s: f64) -> Self {
        Self {
            target: (target_s * 16_000.0) as usize,
            search: (SEARCH_S * 16_000.0) as usize,
            buffer: Vec::new(),
            start_sample: 0,
        }
    }

    /// Enough buffered to cut: more than 1.5 targets left (the last chunk may be
    /// up to 1.5 targets rather than leave a scrap) and the whole search window.
    fn ready(&self) -> bool {
        self.buffer.len() > (self.target + self.target / 2).max(self.target + self.search)
    }

    fn cut(&mut self, emit: &mut dyn FnMut(Chunk, Vec<f32>)) {
        let cut = cut_point(&self.buffer, self.target, self.search);
        let rest = self.buffer.split_off(cut);
        let samples = std::mem::replace(&mut self.buffer, rest);
        let chunk = Chunk {
            start_sample: self.start_sample,
            end_sample: self.start_sample + cut,
        };
        self.start_sample += cut;
        emit(chunk, samples);
    }

    pub fn push(&mut self, block: &[f32], emit: &mut dyn FnMut(Chunk, Vec<f32>)) {
        self.buffer.extend_from_slice(block);
        while self.ready() {
            self.cut(emit);
        }
    }

    pub fn finish(mut self, emit: &mut dyn FnMut(Chunk, Vec<f32>)) {
        while self.buffer.len() > self.target + self.target / 2 {
            self.cut(emit);
        }
        if !self.buffer.is_empty() {
            let end = self.start_sample + self.buffer.len();
            emit(
                Chunk {
                    start_sample: self.start_sample,
                    end_sample: end,
                },
                std::mem::take(&mut self.buffer),
            );
        }
    }
}

/// Splits `samples` into chunks of about `target_s` seconds.
pub fn plan(samples: &[f32], target_s: f64) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut chunker = Chunker::new(target_s);
    chunker.push(samples, &mut |c, _| chunks.push(c));
    chunker.finish(&mut |c, _| chunks.push(c));
    chunks
}

/// Moves each chunk's words onto the episode timeline and joins them in order.
/// A word may not start before the previous one (a recognizer's timestamps near
/// a chunk edge can overshoot); such times are clamped.
pub fn stitch(chunks: &[Chunk], per_chunk: Vec<Vec<RecognizedWord>>) -> Vec<RecognizedWord> {
    let mut all: Vec<RecognizedWord> = Vec::new();
    for (chunk, words) in chunks.iter().zip(per_chunk) {
        let offset_ms = chunk.start_sample as u64 * 1000 / 16_000;
        let end_ms = chunk.end_sample as u64 * 1000 / 16_000;
        for mut w in words {
            w.start_ms = (w.start_ms + offset_ms).min(end_ms);
            w.end_ms = (w.end_ms + offset_ms).min(end_ms).max(w.start_ms);
            if let Some(prev) = all.last() {
                w.start_ms = w.start_ms.max(prev.start_ms);
                w.end_ms = w.end_ms.max(w.start_ms);
            }
            all.push(w);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_in_silence() {
        // 10 minutes of "speech" (noise) with a 0.5 s pause every 11 s.
        let rate = 16_000usize;
        let mut s = Vec::with_capacity(600 * rate);
        let mut x: u32 = 1;
        for i in 0..600 * rate {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let in_pause = (i % (11 * rate)) < rate / 2;
            s.push(if in_pause {
                0.0
            } else {
                (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            });
        }
        let chunks = plan(&s, 120.0);
        assert!(chunks.len() >= 4);
        assert_eq!(chunks[0].start_sample, 0);
        assert_eq!(chunks.last().unwrap().end_sample, s.len());
        for w in chunks.windows(2) {
            assert_eq!(w[0].end_sample, w[1].start_sample);
            let cut = w[0].end_sample;
            assert!(
                cut % (11 * rate) < rate / 2,
                "cut at {cut} is not in a pause"
            );
        }
        assert_eq!(plan(&s, 120.0), chunks);
    }

    #[test]
    fn streaming_gives_the_same_cuts_whatever_the_block_size() {
        let mut x: u32 = 9;
        let s: Vec<f32> = (0..16_000 * 400)
            .map(|i| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let loud = ((i / 16_000) % 13) as f32 / 13.0;
                ((x >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * loud
            })
            .collect();
        let whole = plan(&s, 60.0);
        for block in [1usize, 777, 16_000, 1 << 20] {
            let mut streamed = Vec::new();
            let mut joined = Vec::new();
            let mut c = Chunker::new(60.0);
            for b in s.chunks(block) {
                c.push(b, &mut |ch, samples| {
                    assert_eq!(samples.len(), ch.end_sample - ch.start_sample);
                    joined.extend(samples);
                    streamed.push(ch);
                });
            }
            c.finish(&mut |ch, samples| {
                joined.extend(samples);
                streamed.push(ch)
            });
            assert_eq!(streamed, whole, "block size {block}");
            assert!(joined == s);
        }
    }

    #[test]
    fn short_audio_is_one_chunk() {
        let s = vec![0.0; 16_000 * 100];
        assert_eq!(
            plan(&s, 120.0),
            vec![Chunk {
                start_sample: 0,
                end_sample: s.len()
            }]
        );
    }

    #[test]
    fn stitch_offsets_and_orders() {
        let w = |t: &str, a, b| RecognizedWord {
            text: t.into(),
            start_ms: a,
            end_ms: b,
            probability: 0.9,
        };
        let chunks = [
            Chunk {
                start_sample: 0,
                end_sample: 32_000,
            },
            Chunk {
                start_sample: 32_000,
                end_sample: 64_000,
            },
        ];
        let out = stitch(
            &chunks,
            vec![
                vec![w("a", 100, 500), w("b", 1500, 2500)],
                vec![w("c", 0, 300)],
            ],
        );
        let times: Vec<_> = out
            .iter()
            .map(|w| (w.text.as_str(), w.start_ms, w.end_ms))
            .collect();
        assert_eq!(
            times,
            vec![("a", 100, 500), ("b", 1500, 2000), ("c", 2000, 2300)]
        );
    }
}
