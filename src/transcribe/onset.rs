//! Word starts moved onto the audio's onsets, and ends onto its pauses.
//!
//! whisper.cpp's DTW token times come late: measured against synthesized
//! ground truth (three espeak-ng voices, 140-185 words a minute), word starts
//! were a median 125-145 ms after the speech. Each start moves back by
//! `DTW_LAG_MS`, then on to the onset just before it when there is one: the
//! end of the quietest 10 ms frames (within `QUIET_DB` of the minimum) of the
//! `SEARCH_BACK_MS` before, if that dip is at least `MIN_DIP_DB` below the
//! word's loudest frame (a pause, or the gap between two words).
//! On the 45-minute sample this took the start error from a median 134 ms
//! and 90th percentile 270 ms to 52 and 197 ms; on two voices the sample does
//! not use, the 90th percentile went from 308 to 202 ms and from 322 to 261 ms.
//!
//! DTW also stretches a word over the pause after it (and a filler in it,
//! which Whisper does not write): on real speech, "one" before "uh" and a
//! pause took 2.3 s. A word ends where a pause of [`PAUSE_MS`] begins after
//! its sound ([`PAUSE_DIP_DB`] below its loudest frame), so the pause is
//! free for the words the transcript has there.

use super::RecognizedWord;
use crate::audio::speech::{levels_db, FRAME_MS};

const DTW_LAG_MS: u64 = 120;
const SEARCH_BACK_MS: u64 = 100;
const QUIET_DB: f32 = 4.0;
const MIN_DIP_DB: f32 = 30.0;
/// The word's loudness is measured over this much audio from its start.
const WORD_PEAK_MS: u64 = 200;
/// A word ends at a pause: this long ...
const PAUSE_MS: u64 = 150;
/// ... this far below the word's loudest frame.
const PAUSE_DIP_DB: f32 = 25.0;

/// Where the sound of a word from `start_ms` stops, if a pause begins
/// after it and before `end_ms` (DTW's end); else `end_ms`.
fn sound_end_ms(db: &[f32], start_ms: u64, end_ms: u64) -> u64 {
    let from = (start_ms / FRAME_MS) as usize;
    let to = ((end_ms / FRAME_MS) as usize).min(db.len());
    if from >= to {
        return end_ms.max(start_ms);
    }
    let peak_end = (from + (WORD_PEAK_MS / FRAME_MS) as usize).min(to);
    let peak = db[from..peak_end]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let (mut loud_seen, mut quiet_run) = (false, 0usize);
    for (f, &d) in db.iter().enumerate().take(to).skip(from) {
        if d > peak - PAUSE_DIP_DB {
            loud_seen = true;
            quiet_run = 0;
        } else if loud_seen {
            quiet_run += 1;
            if quiet_run as u64 * FRAME_MS >= PAUSE_MS {
                return (f + 1 - quiet_run) as u64 * FRAME_MS;
            }
        }
    }
    end_ms.max(start_ms)
}

/// Moves each word's start (ms from the start of `samples_16k`) back by the
/// recognizer's lag and onto the onset before it, never before the previous
/// word's start, and ends it where a pause begins inside it.
pub fn snap_to_sound(words: &mut [RecognizedWord], samples_16k: &[f32]) {
    let db = levels_db(samples_16k);
    if db.is_empty() {
        return;
    }
    let last_frame = db.len() - 1;
    let mut floor_ms = 0;
    for w in words.iter_mut() {
        let lagged_ms = w
            .start_ms
            .saturating_sub(DTW_LAG_MS)
            .max(floor_ms)
            .min(w.start_ms);
        let at = ((lagged_ms / FRAME_MS) as usize).min(last_frame);
        let lo = (lagged_ms.saturating_sub(SEARCH_BACK_MS).max(floor_ms) / FRAME_MS) as usize;
        let mut start_ms = lagged_ms;
        if lo < at {
            let window = &db[lo..=at];
            let min = window.iter().copied().fold(f32::INFINITY, f32::min);
            let peak_end = (at + (WORD_PEAK_MS / FRAME_MS) as usize).min(last_frame);
            let peak = db[at..=peak_end]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            if min <= peak - MIN_DIP_DB {
                let last_quiet = window
                    .iter()
                    .rposition(|&d| d <= min + QUIET_DB)
                    .expect("min is in the window");
                // The onset: the end of the last quiet frame (not past the recognizer's start).
                start_ms = ((lo + last_quiet + 1) as u64 * FRAME_MS).min(w.start_ms);
            }
        }
        w.start_ms = start_ms;
        w.end_ms = sound_end_ms(&db, start_ms, w.end_ms);
        floor_ms = w.start_ms + FRAME_MS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(start_ms: u64, end_ms: u64) -> RecognizedWord {
        RecognizedWord {
            text: "word".into(),
            start_ms,
            end_ms,
            probability: 0.9,
            ..Default::default()
        }
    }

    /// `loud` spans in ms of a tone; silence elsewhere.
    fn signal(total_ms: u64, loud: &[(u64, u64)]) -> Vec<f32> {
        (0..total_ms * 16)
            .map(|i| {
                let ms = i / 16;
                if loud.iter().any(|&(a, b)| a <= ms && ms < b) {
                    (i as f32 * 0.2).sin() * 0.5
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn a_late_start_after_a_pause_moves_to_the_onset() {
        let s = signal(3000, &[(200, 800), (1500, 2400)]);
        let mut words = vec![word(350, 800), word(1680, 2400)];
        snap_to_sound(&mut words, &s);
        assert_eq!((words[0].start_ms, words[1].start_ms), (200, 1500));
    }

    #[test]
    fn a_word_stretched_over_the_pause_after_it_ends_where_the_pause_begins() {
        // "word" spoken 200-600 ms; DTW ran its end on to the next word.
        let s = signal(3000, &[(200, 600), (2500, 2900)]);
        let mut words = vec![word(320, 2500), word(2620, 2900)];
        snap_to_sound(&mut words, &s);
        assert_eq!(words[0].start_ms, 200);
        assert_eq!(words[0].end_ms, 600);
        // A word with no pause inside keeps its end.
        assert_eq!(words[1].end_ms, 2900);
    }

    #[test]
    fn without_an_onset_near_a_start_moves_back_by_the_lag_only() {
        // A late start in the middle of a long sound has no onset to find.
        let s = signal(3000, &[(0, 3000)]);
        let mut words = vec![word(1000, 1500)];
        snap_to_sound(&mut words, &s);
        assert_eq!(words[0].start_ms, 1000 - DTW_LAG_MS);
        // An onset further back than the lag and the search is out of reach.
        let s = signal(3000, &[(500, 2000)]);
        let mut words = vec![word(1000, 2000)];
        snap_to_sound(&mut words, &s);
        assert_eq!(words[0].start_ms, 1000 - DTW_LAG_MS);
        // An onset within reach is taken; a shallow dip is not an onset.
        let s = signal(3000, &[(850, 2000)]);
        let mut words = vec![word(1000, 2000)];
        snap_to_sound(&mut words, &s);
        assert_eq!(words[0].start_ms, 850);
        let quiet_dip: Vec<f32> = signal(3000, &[(0, 3000)])
            .iter()
            .enumerate()
            .map(|(i, x)| {
                if (800..850).contains(&(i / 16)) {
                    x * 0.3
                } else {
                    *x
                }
            })
            .collect();
        let mut words = vec![word(1000, 2000)];
        snap_to_sound(&mut words, &quiet_dip);
        assert_eq!(words[0].start_ms, 1000 - DTW_LAG_MS);
    }

    #[test]
    fn a_start_never_moves_before_the_previous_word() {
        let s = signal(2000, &[(100, 400), (900, 1500)]);
        // The second word's window reaches into the first word's silence gap only.
        let mut words = vec![word(150, 400), word(200, 600)];
        snap_to_sound(&mut words, &s);
        assert!(words[1].start_ms > words[0].start_ms, "{words:?}");
    }
}
