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
//! A start that DTW placed well after a pause (up to 700 ms on real speech)
//! and that no dip near it answers moves back to where its sound began,
//! when a pause at the recording's quiet level is at most [`RUN_BACK_MS`]
//! before it ([`sound_run_start_ms`]). That took the 10-minute excerpt's
//! word starts from 51 / 182 ms (median / 90th percentile) to 47 / 169 ms,
//! `en-us+m3`'s from 55 / 197 to 49 / 188 ms.
//!
//! DTW also stretches a word over the pause after it (and a filler in it,
//! which Whisper does not write): on real speech, "one" before "uh" and a
//! pause took 2.3 s. A word ends where a pause of [`PAUSE_MS`] begins after
//! its sound ([`PAUSE_DIP_DB`] below its loudest frame), so the pause is
//! free for the words the transcript has there.
//!
//! In a room or on a noisy line the pauses are not 25-30 dB below speech:
//! on the real recordings of scripts/eval-real-speech, the quietest tenth
//! of the frames is only 15-20 dB below the loudest twentieth. So a frame
//! near that quiet level ([`FLOOR_DB`], levels averaged over 50 ms) is a
//! pause too, for onsets and for ends ([`FLOOR_PAUSE_MS`] of it ends a word).

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
/// A pause at the recording's quiet level is this long at least.
const FLOOR_PAUSE_MS: u64 = 100;
/// A frame this near the recording's quiet level (its 10th-percentile
/// frame) is a pause too: in a room, or on a noisy line, the pauses are
/// not far below the quiet sounds of speech.
const FLOOR_DB: f32 = 6.0;
/// A word is this far above the quiet level, for a dip to the quiet level
/// to be its onset.
const WORD_ABOVE_FLOOR_DB: f32 = 20.0;

/// Frame levels averaged over this many frames each side: a noisy pause
/// flickers a few dB.
const SMOOTH_FRAMES: usize = 2;

/// `db` averaged over [`SMOOTH_FRAMES`] each side (in dB, so a silence
/// stays deep beside a loud frame).
fn smoothed_db(db: &[f32]) -> Vec<f32> {
    (0..db.len())
        .map(|i| {
            let window =
                &db[i.saturating_sub(SMOOTH_FRAMES)..(i + SMOOTH_FRAMES + 1).min(db.len())];
            window.iter().sum::<f32>() / window.len() as f32
        })
        .collect()
}

/// The quiet level of `db`: its 10th-percentile frame.
fn quiet_level_db(db: &[f32]) -> f32 {
    let mut sorted = db.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted[(sorted.len() - 1) / 10]
}

/// A start this far after a pause moves back to where the sound began.
const RUN_BACK_MS: u64 = 600;

/// The start of the sound `start_ms` is in, when a pause at the quiet level
/// ([`FLOOR_PAUSE_MS`] long, after `not_before_ms`) is at most
/// [`RUN_BACK_MS`] before it: DTW places a word that follows a pause late,
/// by up to 700 ms on real speech. Else `start_ms`.
fn sound_run_start_ms(
    db: &[f32],
    smooth: &[f32],
    quiet_db: f32,
    start_ms: u64,
    not_before_ms: u64,
) -> u64 {
    let at = (start_ms / FRAME_MS) as usize;
    let limit = (start_ms.saturating_sub(RUN_BACK_MS).max(not_before_ms) / FRAME_MS) as usize;
    let at_floor = |f: usize| smooth[f] <= quiet_db + FLOOR_DB;
    if at >= smooth.len() || at_floor(at) {
        return start_ms;
    }
    let pause_frames = (FLOOR_PAUSE_MS / FRAME_MS) as usize;
    let Some(last_sound) = (limit..at).rev().find(|&f| at_floor(f)) else {
        return start_ms;
    };
    let pause_start = last_sound + 1 - pause_frames.min(last_sound + 1);
    if pause_start < limit || !(pause_start..=last_sound).all(at_floor) {
        return start_ms;
    }
    // The averaged levels blur the edge: the sound starts at the first frame
    // above the quiet level.
    let onset = (last_sound + 1..at)
        .find(|&f| db[f] > quiet_db + FLOOR_DB)
        .unwrap_or(at);
    onset as u64 * FRAME_MS
}

/// Where the sound of a word from `start_ms` stops, if a pause begins
/// after it and before `end_ms` (DTW's end); else `end_ms`.
fn sound_end_ms(db: &[f32], smooth: &[f32], quiet_db: f32, start_ms: u64, end_ms: u64) -> u64 {
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
    let (mut loud_seen, mut quiet_run, mut floor_run) = (false, 0usize, 0usize);
    for (f, &d) in db.iter().enumerate().take(to).skip(from) {
        let at_floor = smooth[f] <= quiet_db + FLOOR_DB;
        if d > peak - PAUSE_DIP_DB && !at_floor {
            loud_seen = true;
            quiet_run = 0;
            floor_run = 0;
        } else if loud_seen {
            quiet_run += 1;
            floor_run = if at_floor { floor_run + 1 } else { 0 };
            if quiet_run as u64 * FRAME_MS >= PAUSE_MS
                || floor_run as u64 * FRAME_MS >= FLOOR_PAUSE_MS
            {
                // Every frame since the sound is quiet: the pause began there.
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
    let quiet_db = quiet_level_db(&db);
    let smooth = smoothed_db(&db);
    let mut floor_ms = 0;
    let mut prev_end_ms = 0;
    for w in words.iter_mut() {
        let lagged_ms = w
            .start_ms
            .saturating_sub(DTW_LAG_MS)
            .max(floor_ms)
            .min(w.start_ms);
        let at = ((lagged_ms / FRAME_MS) as usize).min(last_frame);
        let lo = (lagged_ms.saturating_sub(SEARCH_BACK_MS).max(floor_ms) / FRAME_MS) as usize;
        let mut start_ms = lagged_ms;
        let mut onset_found = false;
        if lo < at {
            let window = &db[lo..=at];
            let min = window.iter().copied().fold(f32::INFINITY, f32::min);
            let peak_end = (at + (WORD_PEAK_MS / FRAME_MS) as usize).min(last_frame);
            let peak = db[at..=peak_end]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            let floor_min = smooth[lo..=at]
                .iter()
                .copied()
                .fold(f32::INFINITY, f32::min);
            let to_floor =
                floor_min <= quiet_db + FLOOR_DB && peak >= quiet_db + WORD_ABOVE_FLOOR_DB;
            if min <= peak - MIN_DIP_DB || to_floor {
                let last_quiet = window
                    .iter()
                    .zip(&smooth[lo..=at])
                    .rposition(|(&d, &m)| {
                        d <= min + QUIET_DB || (to_floor && m <= quiet_db + FLOOR_DB)
                    })
                    .expect("min is in the window");
                // The onset: the end of the last quiet frame (not past the recognizer's start).
                start_ms = ((lo + last_quiet + 1) as u64 * FRAME_MS).min(w.start_ms);
                onset_found = true;
            }
        }
        if !onset_found {
            start_ms =
                sound_run_start_ms(&db, &smooth, quiet_db, lagged_ms, prev_end_ms.max(floor_ms));
        }
        w.start_ms = start_ms;
        w.end_ms = sound_end_ms(&db, &smooth, quiet_db, start_ms, w.end_ms);
        floor_ms = w.start_ms + FRAME_MS;
        prev_end_ms = w.end_ms;
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

    /// [`signal`] over a noise floor 20 dB below the tone: a room.
    fn noisy(total_ms: u64, loud: &[(u64, u64)]) -> Vec<f32> {
        let mut seed = 1u32;
        signal(total_ms, loud)
            .into_iter()
            .map(|x| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                x + (seed >> 8) as f32 / (1u32 << 24) as f32 * 0.1 - 0.05
            })
            .collect()
    }

    #[test]
    fn in_a_noisy_room_a_pause_at_the_quiet_level_ends_the_word() {
        let s = noisy(4000, &[(200, 600), (2500, 2900), (3200, 3900)]);
        let mut words = vec![word(320, 2500), word(2620, 2900)];
        snap_to_sound(&mut words, &s);
        assert!((590..=620).contains(&words[0].end_ms), "{words:?}");
    }

    #[test]
    fn a_start_placed_well_after_a_pause_runs_back_to_its_sound() {
        // Sound from 1000 ms after a pause; DTW put the word at 1500.
        let s = signal(3000, &[(200, 500), (1000, 1800)]);
        let mut words = vec![word(200, 500), word(1500, 1800)];
        snap_to_sound(&mut words, &s);
        assert_eq!(words[1].start_ms, 1000);
        // Not over another word's sound, nor further back than RUN_BACK_MS.
        let s = signal(3000, &[(200, 2000)]);
        let mut words = vec![word(200, 500), word(1500, 1800)];
        snap_to_sound(&mut words, &s);
        assert_eq!(words[1].start_ms, 1500 - DTW_LAG_MS);
    }

    #[test]
    fn without_an_onset_near_a_start_moves_back_by_the_lag_only() {
        // A late start in the middle of a long sound has no onset to find.
        let s = signal(3000, &[(0, 3000)]);
        let mut words = vec![word(1000, 1500)];
        snap_to_sound(&mut words, &s);
        assert_eq!(words[0].start_ms, 1000 - DTW_LAG_MS);
        // An onset further back than the lag, the search and the run back
        // is out of reach.
        let s = signal(3000, &[(200, 2000)]);
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
