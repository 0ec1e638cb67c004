//! Chunk planning and stitching on the 16 kHz timeline.
//!
//! Cuts fall at the quietest 20 ms frame within ±`search_s` of each target,
//! so they land in pauses, not inside words. Speech without a pause still gets
//! cut, so every chunk also hears about `LEAD_S` of audio before its first
//! cut (from a pause, if there is one near) and `TRAIL_S` after its second:
//! a word cut in two is heard whole by a neighbour, and [`stitch`] keeps one copy. The lead is the longer: Whisper
//! stops short of a sentence that the end of its audio cuts off, and leaves
//! it to the next window, which here is the next chunk's lead.
//! The plan depends on the samples only (never on the number of workers), so
//! any `--jobs` gives the same output.

use super::RecognizedWord;

/// Two 30-s Whisper windows per chunk, with the lead: a window moves on
/// from the last timestamp it decoded, so it covers 22-28 s of speech, and
/// a third is opened only while the words end before the next chunk's
/// audio. On the first 10 minutes (two voices, alternating, with the lead
/// starting in a pause): 26-28 encoder passes against 31-32 for 40-s
/// chunks, 29.1 / 29.3 s against 30.1 / 33.0 s, the same word times within
/// 3 ms. (With whisper_full, 60-s chunks needed a third window for their
/// last seconds: 40 s was as fast, with a better WER.)
pub const DEFAULT_TARGET_S: f64 = 50.0;
pub const DEFAULT_SEARCH_S: f64 = 3.0;
/// Audio a chunk hears before its first cut: the next chunk's share of a
/// sentence the chunk before left undecoded.
const LEAD_S: f64 = 4.0;
/// The lead starts at the quietest 20 ms within this of `LEAD_S`: a window
/// that starts inside a word is where tiny.en's greedy decoding fails (on
/// a fast voice, a first window that started in "Bulgaria" was judged
/// no speech, and 12 s of words were lost).
const LEAD_SEARCH_S: f64 = 1.0;
/// Audio a chunk hears after its second cut: the rest of a word cut in two.
const TRAIL_S: f64 = 0.5;
const FRAME_SAMPLES: usize = 320; // 20 ms at 16 kHz

/// One chunk: the part of the timeline it answers for (`start_sample` to
/// `end_sample`, cut to cut), the first sample of the audio it is given
/// (up to `LEAD_S` + `LEAD_SEARCH_S` earlier; the audio ends up to `TRAIL_S` later), and where
/// the next chunk's audio starts (`None` for the last chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start_sample: usize,
    pub end_sample: usize,
    pub audio_start_sample: usize,
    pub next_audio_start_sample: Option<usize>,
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
    lead: usize,
    lead_search: usize,
    trail: usize,
    /// The next chunk's lead: the samples from its audio start to `buffer`.
    before: Vec<f32>,
    buffer: Vec<f32>,
    /// Stream position of `buffer[0]`.
    start_sample: usize,
}

impl Chunker {
    /// Chunks of about `target_s`, cut at the quietest point within `search_s` of it.
    pub fn new(target_s: f64, search_s: f64) -> Self {
        Self {
            target: (target_s * 16_000.0) as usize,
            search: (search_s * 16_000.0) as usize,
            lead: (LEAD_S * 16_000.0) as usize,
            lead_search: (LEAD_SEARCH_S * 16_000.0) as usize,
            trail: (TRAIL_S * 16_000.0) as usize,
            before: Vec::new(),
            buffer: Vec::new(),
            start_sample: 0,
        }
    }

    /// Enough buffered to cut: more than 1.5 targets left (the last chunk may be
    /// up to 1.5 targets rather than leave a scrap), the whole search window and the trail.
    fn ready(&self) -> bool {
        self.buffer.len()
            > (self.target + self.target / 2).max(self.target + self.search) + self.trail
    }

    fn cut(&mut self, emit: &mut dyn FnMut(Chunk, Vec<f32>)) {
        let cut = cut_point(&self.buffer, self.target, self.search);
        let mut samples = Vec::with_capacity(self.before.len() + cut + self.trail);
        samples.extend_from_slice(&self.before);
        samples.extend_from_slice(&self.buffer[..(cut + self.trail).min(self.buffer.len())]);
        let lead = if cut > self.lead + self.lead_search {
            cut - cut_point(&self.buffer[..cut], cut - self.lead, self.lead_search)
        } else {
            cut.min(self.lead)
        };
        let chunk = Chunk {
            start_sample: self.start_sample,
            end_sample: self.start_sample + cut,
            audio_start_sample: self.start_sample - self.before.len(),
            next_audio_start_sample: Some(self.start_sample + cut - lead),
        };
        self.before = self.buffer[cut - lead..cut].to_vec();
        self.buffer.drain(..cut);
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
            let chunk = Chunk {
                start_sample: self.start_sample,
                end_sample: self.start_sample + self.buffer.len(),
                audio_start_sample: self.start_sample - self.before.len(),
                next_audio_start_sample: None,
            };
            let mut samples = std::mem::take(&mut self.before);
            samples.append(&mut self.buffer);
            emit(chunk, samples);
        }
    }
}

/// Splits `samples` into chunks of about `target_s` seconds.
pub fn plan(samples: &[f32], target_s: f64) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut chunker = Chunker::new(target_s, DEFAULT_SEARCH_S);
    chunker.push(samples, &mut |c, _| chunks.push(c));
    chunker.finish(&mut |c, _| chunks.push(c));
    chunks
}

fn ms(sample: usize) -> u64 {
    sample as u64 * 1000 / 16_000
}

fn mid_ms(w: &RecognizedWord) -> u64 {
    (w.start_ms + w.end_ms) / 2
}

/// Time two words share, in ms.
fn shared_ms(a: &RecognizedWord, b: &RecognizedWord) -> u64 {
    a.end_ms
        .min(b.end_ms)
        .saturating_sub(a.start_ms.max(b.start_ms))
}

/// The same stretch of speech: the words share at least half the shorter one's time.
fn same_speech(a: &RecognizedWord, b: &RecognizedWord) -> bool {
    let shorter = (a.end_ms - a.start_ms).min(b.end_ms - b.start_ms).max(1);
    shared_ms(a, b) * 2 >= shorter
}

/// Moves each chunk's words onto the episode timeline and joins them in order.
///
/// A chunk keeps the words whose middle lies between its cuts. Near a cut
/// inside speech the two neighbours may disagree about which side a word is
/// on, so each also offers the words it heard in its overlap: one is taken
/// where no kept word covers that time (a word neither side kept), and a kept
/// word that repeats the speech of the word before it (both sides kept it) is
/// dropped. A word may not start before the previous one; such times are clamped.
pub fn stitch(chunks: &[Chunk], per_chunk: Vec<Vec<RecognizedWord>>) -> Vec<RecognizedWord> {
    let mut all: Vec<RecognizedWord> = Vec::new();
    // The previous chunk's words past its end cut.
    let mut spare_after: Vec<RecognizedWord> = Vec::new();
    for (k, (chunk, words)) in chunks.iter().zip(per_chunk).enumerate() {
        let offset_ms = ms(chunk.audio_start_sample);
        let from_ms = if k == 0 { 0 } else { ms(chunk.start_sample) };
        let to_ms = if k + 1 == chunks.len() {
            u64::MAX
        } else {
            ms(chunk.end_sample)
        };
        let mut kept = Vec::new();
        let mut spare_before = Vec::new();
        let mut next_spare_after = Vec::new();
        for mut w in words {
            w.start_ms += offset_ms;
            w.end_ms = (w.end_ms + offset_ms).max(w.start_ms);
            let mid = mid_ms(&w);
            if mid < from_ms {
                spare_before.push(w);
            } else if mid >= to_ms {
                next_spare_after.push(w);
            } else {
                kept.push(w);
            }
        }
        // The seam with the previous chunk: words neither side kept, then doubles.
        let mut offered: Vec<RecognizedWord> = spare_after.drain(..).chain(spare_before).collect();
        offered.sort_by_key(|w| w.start_ms);
        for w in offered {
            let clear_of =
                |other: &RecognizedWord| shared_ms(other, &w) * 5 <= w.end_ms - w.start_ms;
            let after_prev = all
                .last()
                .is_none_or(|p| clear_of(p) && mid_ms(&w) > mid_ms(p));
            let before_next = kept
                .first()
                .is_none_or(|n| clear_of(n) && mid_ms(&w) < mid_ms(n));
            if after_prev && before_next {
                all.push(w);
            }
        }
        let mut kept = kept.into_iter().peekable();
        while let (Some(prev), Some(w)) = (all.last(), kept.peek()) {
            if !same_speech(prev, w) {
                break;
            }
            kept.next();
        }
        for mut w in kept {
            if let Some(prev) = all.last() {
                w.start_ms = w.start_ms.max(prev.start_ms);
                w.end_ms = w.end_ms.max(w.start_ms);
            }
            all.push(w);
        }
        spare_after = next_spare_after;
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
    fn the_next_chunks_audio_starts_in_a_pause_near_the_lead() {
        let rate = 16_000;
        let mut x: u32 = 5;
        let quiet = |t: usize| {
            (60 * rate..60 * rate + rate / 10).contains(&t)
                || (55_300 * 16..55_400 * 16).contains(&t)
        };
        let s: Vec<f32> = (0..rate * 100)
            .map(|i| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                if quiet(i) {
                    0.0
                } else {
                    (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                }
            })
            .collect();
        let chunks = plan(&s, 60.0);
        assert_eq!(chunks.len(), 2);
        assert!(
            quiet(chunks[0].end_sample),
            "cut at {}",
            chunks[0].end_sample
        );
        let start = chunks[1].audio_start_sample;
        assert!(quiet(start), "the lead starts at {start}, not in the pause");
        assert_eq!(chunks[0].next_audio_start_sample, Some(start));
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
            let mut c = Chunker::new(60.0, DEFAULT_SEARCH_S);
            // Each chunk's audio is the signal from its audio start, with its
            // lead and trail; the parts between cuts join up to the signal.
            let mut take = |ch: Chunk, samples: Vec<f32>| {
                let audio_end = (ch.end_sample + (TRAIL_S * 16_000.0) as usize).min(s.len());
                assert_eq!(samples, s[ch.audio_start_sample..audio_end]);
                assert!(
                    ch.start_sample - ch.audio_start_sample
                        <= ((LEAD_S + LEAD_SEARCH_S) * 16_000.0) as usize
                );
                joined.extend_from_slice(&s[ch.start_sample..ch.end_sample]);
                streamed.push(ch);
            };
            for b in s.chunks(block) {
                c.push(b, &mut take);
            }
            c.finish(&mut take);
            assert_eq!(streamed, whole, "block size {block}");
            assert!(joined == s);
            for pair in whole.windows(2) {
                assert_eq!(
                    pair[0].next_audio_start_sample,
                    Some(pair[1].audio_start_sample)
                );
            }
            assert_eq!(whole.last().unwrap().next_audio_start_sample, None);
        }
    }

    #[test]
    fn short_audio_is_one_chunk() {
        let s = vec![0.0; 16_000 * 100];
        assert_eq!(
            plan(&s, 120.0),
            vec![Chunk {
                start_sample: 0,
                end_sample: s.len(),
                audio_start_sample: 0,
                next_audio_start_sample: None,
            }]
        );
    }

    #[test]
    fn stitch_keeps_one_copy_of_each_word_at_a_cut_inside_speech() {
        let w = |t: &str, a, b| RecognizedWord {
            text: t.into(),
            start_ms: a,
            end_ms: b,
            probability: 0.9,
            ..Default::default()
        };
        // Cut at 2 s; the second chunk's audio starts 1 s before the cut.
        let chunks = [
            Chunk {
                start_sample: 0,
                end_sample: 32_000,
                audio_start_sample: 0,
                next_audio_start_sample: Some(16_000),
            },
            Chunk {
                start_sample: 32_000,
                end_sample: 64_000,
                audio_start_sample: 16_000,
                next_audio_start_sample: None,
            },
        ];
        let texts = |out: Vec<RecognizedWord>| -> Vec<(String, u64, u64)> {
            out.into_iter()
                .map(|w| (w.text, w.start_ms, w.end_ms))
                .collect()
        };
        // "b" straddles the cut: each chunk puts its middle on the other side.
        let lost = stitch(
            &chunks,
            vec![
                vec![w("a", 100, 500), w("b", 1800, 2300)],
                vec![w("b", 700, 1250), w("c", 1500, 1900)],
            ],
        );
        assert_eq!(
            texts(lost),
            vec![
                ("a".into(), 100, 500),
                ("b".into(), 1700, 2250),
                ("c".into(), 2500, 2900)
            ]
        );
        // Both chunks keep "x": one copy stays.
        let doubled = stitch(
            &chunks,
            vec![
                vec![w("a", 100, 500), w("x", 1800, 2150)],
                vec![w("x", 900, 1200), w("c", 1500, 1900)],
            ],
        );
        assert_eq!(
            texts(doubled),
            vec![
                ("a".into(), 100, 500),
                ("x".into(), 1800, 2150),
                ("c".into(), 2500, 2900)
            ]
        );
        // A made-up fragment where the second chunk's audio starts mid-word
        // lies over words the first chunk kept: dropped.
        let fragment = stitch(
            &chunks,
            vec![
                vec![w("a", 100, 500), w("b", 1200, 1900)],
                vec![w("uh", 0, 300), w("c", 1500, 1900)],
            ],
        );
        assert_eq!(texts(fragment).len(), 3);
    }
}
