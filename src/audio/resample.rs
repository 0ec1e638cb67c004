//! Streaming resampler to 16 kHz (rubato's FFT resampler, fixed input blocks).
//! The resampler's own delay is cut from the front and the tail is flushed, so
//! output sample `i` is at time `i / 16000` s of the input and the output length
//! is the input duration at 16 kHz.

use rubato::{FftFixedIn, Resampler};

use super::SAMPLE_RATE_HZ;

const BLOCK_FRAMES: usize = 1024;

pub struct To16k {
    source_rate_hz: u32,
    inner: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    delay_left: usize,
    in_frames: u64,
    out_frames: u64,
}

impl To16k {
    pub fn new(source_rate_hz: u32) -> Self {
        let inner = (source_rate_hz != SAMPLE_RATE_HZ).then(|| {
            FftFixedIn::<f32>::new(
                source_rate_hz as usize,
                SAMPLE_RATE_HZ as usize,
                BLOCK_FRAMES,
                2,
                1,
            )
            .expect("FFT resampler accepts any positive rates")
        });
        let delay_left = inner.as_ref().map_or(0, |r| r.output_delay());
        Self {
            source_rate_hz,
            inner,
            pending: Vec::with_capacity(BLOCK_FRAMES * 2),
            delay_left,
            in_frames: 0,
            out_frames: 0,
        }
    }

    fn expected_out(&self) -> u64 {
        (self.in_frames as f64 * SAMPLE_RATE_HZ as f64 / self.source_rate_hz as f64).round() as u64
    }

    /// Drops the resampler delay from the front; at the end (`last`), cuts the
    /// flushed tail to the input's duration.
    fn emit(&mut self, mut block: &[f32], last: bool, out: &mut dyn FnMut(&[f32])) {
        let skip = self.delay_left.min(block.len());
        self.delay_left -= skip;
        block = &block[skip..];
        if last {
            let room = self.expected_out().saturating_sub(self.out_frames) as usize;
            block = &block[..block.len().min(room)];
        }
        if !block.is_empty() {
            self.out_frames += block.len() as u64;
            out(block);
        }
    }

    /// Feeds source-rate mono samples; calls `out` with 16 kHz blocks as they are ready.
    pub fn push(&mut self, samples: &[f32], out: &mut dyn FnMut(&[f32])) {
        self.in_frames += samples.len() as u64;
        let Some(inner) = self.inner.as_mut() else {
            self.out_frames += samples.len() as u64;
            out(samples);
            return;
        };
        self.pending.extend_from_slice(samples);
        let mut consumed = 0;
        let mut produced = Vec::new();
        while self.pending.len() - consumed >= inner.input_frames_next() {
            let need = inner.input_frames_next();
            let block = inner
                .process(&[&self.pending[consumed..consumed + need]], None)
                .expect("block has the size the resampler asked for");
            consumed += need;
            produced.extend_from_slice(&block[0]);
        }
        self.pending.drain(..consumed);
        self.emit(&produced, false, out);
    }

    /// Flushes what is left.
    pub fn finish(mut self, out: &mut dyn FnMut(&[f32])) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        let mut tail = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        if let Ok(block) = inner.process_partial(Some(&[&pending[..]]), None) {
            tail.extend_from_slice(&block[0]);
        }
        let target = self.expected_out() + self.delay_left as u64;
        let mut guard = 0;
        while (self.out_frames + tail.len() as u64) < target && guard < 16 {
            match inner.process_partial::<&[f32]>(None, None) {
                Ok(block) => tail.extend_from_slice(&block[0]),
                Err(_) => break,
            }
            guard += 1;
        }
        self.emit(&tail, true, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate_hz: u32, input: &[f32], block: usize) -> Vec<f32> {
        let mut r = To16k::new(rate_hz);
        let mut out = Vec::new();
        for b in input.chunks(block) {
            r.push(b, &mut |o| out.extend_from_slice(o));
        }
        r.finish(&mut |o| out.extend_from_slice(o));
        out
    }

    #[test]
    fn length_and_timing_are_preserved() {
        for &rate in &[44_100u32, 48_000, 22_050, 8_000] {
            let secs = 3.0;
            let n = (rate as f64 * secs) as usize;
            // A click at 1.5 s must come out at 1.5 s.
            let mut input = vec![0f32; n];
            let click = (1.5 * rate as f64) as usize;
            input[click] = 1.0;
            let out = run(rate, &input, 1000);
            assert_eq!(out.len(), 48_000, "rate {rate}");
            let peak = out
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
                .unwrap()
                .0;
            assert!(
                (peak as i64 - 24_000).abs() <= 2,
                "rate {rate}: click at {peak}"
            );
        }
    }

    #[test]
    fn passthrough_at_16k() {
        let input: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        assert_eq!(run(16_000, &input, 7), input);
    }
}
