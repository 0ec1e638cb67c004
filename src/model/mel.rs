//! Whisper's mel filterbank: 80 (or 128) triangular filters over the 201 bins of
//! a 400-point FFT at 16 kHz, on the Slaney mel scale with Slaney area
//! normalization (what `librosa.filters.mel(sr=16000, n_fft=400)` computes).
//! whisper.cpp reads it from the model file, so the converter writes it.

const SAMPLE_RATE_HZ: f64 = 16_000.0;
pub const N_FFT: usize = 400;
pub const N_FREQ_BINS: usize = N_FFT / 2 + 1;

// Slaney's scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
const HZ_PER_MEL: f64 = 200.0 / 3.0;
const LOG_START_HZ: f64 = 1000.0;
const LOG_START_MEL: f64 = LOG_START_HZ / HZ_PER_MEL;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(freq_hz: f64) -> f64 {
    if freq_hz >= LOG_START_HZ {
        LOG_START_MEL + (freq_hz / LOG_START_HZ).ln() / log_step()
    } else {
        freq_hz / HZ_PER_MEL
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= LOG_START_MEL {
        LOG_START_HZ * (log_step() * (mel - LOG_START_MEL)).exp()
    } else {
        HZ_PER_MEL * mel
    }
}

/// Row-major `n_mels x 201` filter weights.
pub fn filterbank(n_mels: usize) -> Vec<f32> {
    let fft_freqs_hz: Vec<f64> = (0..N_FREQ_BINS)
        .map(|i| i as f64 * (SAMPLE_RATE_HZ / 2.0) / (N_FREQ_BINS - 1) as f64)
        .collect();
    let mel_max = hz_to_mel(SAMPLE_RATE_HZ / 2.0);
    let edges_hz: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_max * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut weights = vec![0f32; n_mels * N_FREQ_BINS];
    for m in 0..n_mels {
        let (lo, mid, hi) = (edges_hz[m], edges_hz[m + 1], edges_hz[m + 2]);
        let norm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs_hz.iter().enumerate() {
            let rising = (f - lo) / (mid - lo);
            let falling = (hi - f) / (hi - mid);
            let w = rising.min(falling).max(0.0);
            weights[m * N_FREQ_BINS + k] = (w * norm) as f32;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_librosa_reference_values() {
        // Reference values from librosa.filters.mel(sr=16000, n_fft=400, n_mels=80).
        let w = filterbank(80);
        assert_eq!(w.len(), 80 * 201);
        assert!((w[1] - 0.024_862_595).abs() < 1e-7, "{}", w[1]);
        assert_eq!(w[0], 0.0);
        let row40: f32 = w[40 * 201..41 * 201].iter().sum();
        assert!((row40 - 0.026_664_86).abs() < 1e-6, "{row40}");
        let total: f32 = w.iter().sum();
        assert!((total - 1.999_024_2).abs() < 1e-4, "{total}");
        // Every filter has some weight, and the last bins of the first filter are zero.
        for m in 0..80 {
            let row = &w[m * 201..(m + 1) * 201];
            assert!(row.iter().any(|&x| x > 0.0), "filter {m} is empty");
        }
        assert_eq!(w[200], 0.0);
    }
}
