//! Where the audio is loud enough to be speech.
//!
//! The recognizer leaves out words that the transcript has and the audio
//! says (Whisper drops fillers, "uh", "um", by training). The alignment
//! places such words between their timed neighbours; where that gap holds a
//! pause, only its sounding part can hold them. On real recordings
//! (scripts/eval-real-speech), fillers placed in the middle of the gap were
//! up to 1.8 s from where they were said; that recording's breathing in the
//! pauses is as loud as its fillers, so levels alone did not place them
//! there.
//!
//! Levels are taken over 10-ms frames as the audio streams past; a frame
//! sounds when it is at least [`SOUND_SHARE`] of the way from the
//! recording's quiet level (its 10th-percentile frame) up to its loud level
//! (95th percentile), and at least [`MIN_SOUND_DB`] above the quiet level.

const FRAME_SAMPLES: usize = 160; // 10 ms at 16 kHz
/// The length of a frame of [`levels_db`].
pub const FRAME_MS: u64 = 10;
/// How far from the quiet level to the loud level a sounding frame is.
const SOUND_SHARE: f32 = 0.35;
/// A sounding frame is at least this far above the quiet level.
const MIN_SOUND_DB: f32 = 10.0;
/// Sounding stretches closer than this are one (the gaps inside a word).
const BRIDGE_MS: u64 = 60;

/// Frame levels of a 16 kHz stream, fed block by block.
#[derive(Default)]
pub struct LevelMeter {
    levels_db: Vec<f32>,
    power_sum: f32,
    in_frame: usize,
}

impl LevelMeter {
    pub fn push(&mut self, samples_16k: &[f32]) {
        for &x in samples_16k {
            self.power_sum += x * x;
            self.in_frame += 1;
            if self.in_frame == FRAME_SAMPLES {
                self.close_frame();
            }
        }
    }

    fn close_frame(&mut self) {
        let power = self.power_sum / self.in_frame.max(1) as f32;
        self.levels_db.push(10.0 * (power + 1e-10).log10());
        self.power_sum = 0.0;
        self.in_frame = 0;
    }

    /// The sounding stretches, `[start_ms, end_ms]`, in order.
    pub fn sounding_ms(mut self) -> Vec<[u64; 2]> {
        self.finish();
        sounding_ms(&self.levels_db)
    }

    fn finish(&mut self) {
        if self.in_frame > 0 {
            self.close_frame();
        }
    }
}

/// Level of each 10-ms frame of `samples_16k`, dB (the last frame may be
/// shorter).
pub fn levels_db(samples_16k: &[f32]) -> Vec<f32> {
    let mut meter = LevelMeter::default();
    meter.push(samples_16k);
    meter.finish();
    meter.levels_db
}

fn sounding_ms(levels_db: &[f32]) -> Vec<[u64; 2]> {
    if levels_db.is_empty() {
        return Vec::new();
    }
    let mut sorted = levels_db.to_vec();
    sorted.sort_by(f32::total_cmp);
    let at = |q: f32| sorted[((sorted.len() - 1) as f32 * q) as usize];
    let (quiet, loud) = (at(0.10), at(0.95));
    let threshold = (quiet + SOUND_SHARE * (loud - quiet)).max(quiet + MIN_SOUND_DB);
    let mut stretches: Vec<[u64; 2]> = Vec::new();
    for (i, &db) in levels_db.iter().enumerate() {
        if db < threshold {
            continue;
        }
        let (a, b) = (i as u64 * FRAME_MS, (i as u64 + 1) * FRAME_MS);
        match stretches.last_mut() {
            Some(last) if a <= last[1] + BRIDGE_MS => last[1] = b,
            _ => stretches.push([a, b]),
        }
    }
    stretches
}

/// Where in `[from_ms, to_ms]` words that need at least `need_ms` were
/// said: its longest sounding stretch if that is long enough, else from its
/// first sounding ms to its last; `None` if nothing in it sounds.
pub fn sounding_part(
    sounding_ms: &[[u64; 2]],
    from_ms: u64,
    to_ms: u64,
    need_ms: u64,
) -> Option<(u64, u64)> {
    let first = sounding_ms.partition_point(|s| s[1] <= from_ms);
    let inside: Vec<(u64, u64)> = sounding_ms[first..]
        .iter()
        .take_while(|s| s[0] < to_ms)
        .map(|s| (s[0].max(from_ms), s[1].min(to_ms)))
        .collect();
    let longest = inside
        .iter()
        .copied()
        .max_by_key(|&(a, b)| (b - a, std::cmp::Reverse(a)))?;
    if longest.1 - longest.0 >= need_ms {
        Some(longest)
    } else {
        Some((inside[0].0, inside[inside.len() - 1].1))
    }
}

/// Pauses shorter than this inside a sounding stretch are speech going on
/// (between the words of a sentence), for [`unheard`].
const SPEECH_BRIDGE_MS: u64 = 300;
/// Sound this near a heard word is that word's (its edges, a breath).
const WORD_EDGE_MS: u64 = 100;

/// Speech between the first and the last of `heard_ms` (word spans, in
/// order of start) that no word covers: the parts of sounding stretches
/// (pauses under [`SPEECH_BRIDGE_MS`] bridged) at least `min_ms` long, more
/// than [`WORD_EDGE_MS`] from every word.
pub fn unheard(sounding_ms: &[[u64; 2]], heard_ms: &[(u64, u64)], min_ms: u64) -> Vec<(u64, u64)> {
    let (Some(first), Some(last)) = (
        heard_ms.first().map(|w| w.0),
        heard_ms.iter().map(|w| w.1).max(),
    ) else {
        return Vec::new();
    };
    let mut speech: Vec<(u64, u64)> = Vec::new();
    for &[a, b] in sounding_ms {
        match speech.last_mut() {
            Some(s) if a < s.1 + SPEECH_BRIDGE_MS => s.1 = s.1.max(b),
            _ => speech.push((a, b)),
        }
    }
    let mut out = Vec::new();
    for (a, b) in speech {
        let (a, b) = (a.max(first), b.min(last));
        let mut t = a;
        for &(s, e) in heard_ms {
            let (s, e) = (s.saturating_sub(WORD_EDGE_MS), e + WORD_EDGE_MS);
            if e <= t || s >= b {
                continue;
            }
            if s >= t + min_ms {
                out.push((t, s));
            }
            t = t.max(e);
        }
        if b >= t + min_ms {
            out.push((t, b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `loud` spans in ms of a tone over faint noise.
    fn signal(total_ms: u64, loud: &[(u64, u64)]) -> Vec<f32> {
        (0..total_ms * 16)
            .map(|i| {
                let ms = i / 16;
                let noise = ((i * 7919 % 101) as f32 / 101.0 - 0.5) * 0.002;
                if loud.iter().any(|&(a, b)| a <= ms && ms < b) {
                    (i as f32 * 0.2).sin() * 0.3 + noise
                } else {
                    noise
                }
            })
            .collect()
    }

    #[test]
    fn sounding_stretches_are_found_whatever_the_block_sizes() {
        let s = signal(3000, &[(200, 500), (540, 800), (2000, 2300)]);
        let mut whole = LevelMeter::default();
        whole.push(&s);
        let mut blocks = LevelMeter::default();
        for b in s.chunks(777) {
            blocks.push(b);
        }
        let stretches = whole.sounding_ms();
        assert_eq!(stretches, blocks.sounding_ms());
        // The 40-ms gap inside is bridged; the pause is not.
        assert_eq!(stretches, vec![[200, 800], [2000, 2300]]);
    }

    #[test]
    fn the_longest_stretch_holds_the_words_if_it_can() {
        let s = [[200, 800], [2000, 2300], [4000, 4100]];
        assert_eq!(sounding_part(&s, 700, 2200, 100), Some((2000, 2200)));
        assert_eq!(sounding_part(&s, 100, 4500, 500), Some((200, 800)));
        // Words that need more time than any one stretch: all of it.
        assert_eq!(sounding_part(&s, 100, 4500, 700), Some((200, 4100)));
        assert_eq!(sounding_part(&s, 900, 3900, 100), Some((2000, 2300)));
        assert_eq!(sounding_part(&s, 900, 1900, 100), None);
        assert_eq!(sounding_part(&[], 0, 100, 0), None);
    }

    #[test]
    fn speech_no_word_covers_is_found_between_the_words() {
        // Music before the first word; a sentence said and not heard at
        // 5-9 s, except for one word in its middle; a short pause.
        let sounding = [
            [0, 3000],
            [3200, 4000],
            [5000, 6000],
            [6200, 9000],
            [9300, 9800],
        ];
        let heard = [(3200, 3600), (3600, 4000), (7000, 7300), (9300, 9800)];
        assert_eq!(
            unheard(&sounding, &heard, 1500),
            vec![(5000, 6900), (7400, 9000)]
        );
        // Everything heard, or no words at all: nothing.
        assert!(unheard(&sounding, &[(0, 9800)], 1500).is_empty());
        assert!(unheard(&sounding, &[], 1500).is_empty());
    }
}
