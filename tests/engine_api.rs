//! The entry points podcap's whisper.cpp adds (vendor/patches/0004, 0007) for a
//! decoding loop of its own, on the real model and real speech: the logits
//! of every position of a batch, DTW token times for given tokens, and an
//! encoder context shorter than 30 s.

use std::ffi::CString;

use whisper_rs::whisper_rs_sys as sys;

use crate::util::*;

/// A whisper.cpp context with DTW on (tiny.en's alignment heads) and one state.
struct Engine {
    ctx: *mut sys::whisper_context,
    state: *mut sys::whisper_state,
}

impl Engine {
    fn load() -> Self {
        let path = CString::new(tiny_model().to_str().unwrap()).unwrap();
        // SAFETY: plain C calls on a model file podcap's own tests fetched and checked.
        unsafe {
            let mut params = sys::whisper_context_default_params();
            params.use_gpu = false;
            params.flash_attn = false;
            params.dtw_token_timestamps = true;
            params.dtw_aheads_preset = sys::whisper_alignment_heads_preset_WHISPER_AHEADS_TINY_EN;
            let ctx = sys::whisper_init_from_file_with_params_no_state(path.as_ptr(), params);
            assert!(!ctx.is_null());
            let state = sys::whisper_init_state(ctx);
            assert!(!state.is_null());
            Self { ctx, state }
        }
    }

    fn n_vocab(&self) -> usize {
        unsafe { sys::whisper_n_vocab(self.ctx) as usize }
    }

    /// The logits of every position of one batch `seq`, decoded from the
    /// start over the state's encoder output.
    fn batch_logits(&self, seq: &[i32]) -> Vec<Vec<f32>> {
        let rc = unsafe {
            sys::whisper_decode_logits_with_state(
                self.ctx,
                self.state,
                seq.as_ptr(),
                seq.len() as i32,
                0,
                0,
                1,
            )
        };
        assert_eq!(rc, 0);
        (0..seq.len()).map(|i| self.logits_row(i)).collect()
    }

    fn logits_row(&self, row: usize) -> Vec<f32> {
        let n = self.n_vocab();
        // SAFETY: the logits hold at least row + 1 rows after the decode that asked for them.
        unsafe {
            std::slice::from_raw_parts(
                sys::whisper_get_logits_from_state(self.state).add(row * n),
                n,
            )
            .to_vec()
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        unsafe {
            sys::whisper_free_state(self.state);
            sys::whisper_free(self.ctx);
        }
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

/// whisper_full on 20 s of the sample (one 30-s window), then both entry
/// points on the encoder output it leaves in the state.
#[test]
fn batch_logits_and_dtw_times_match_whisper_full() {
    let (samples, _) = podcap::audio::load_16k_mono(&root().join("samples/sample.mp3")).unwrap();
    let clip = &samples[..20 * 16_000];
    let e = Engine::load();
    let (mut tokens, mut text, mut text_dtw) = (Vec::new(), Vec::new(), Vec::new());
    let (eot, sot);
    unsafe {
        let mut params = sys::whisper_full_default_params(
            sys::whisper_sampling_strategy_WHISPER_SAMPLING_GREEDY,
        );
        params.n_threads = 1;
        params.no_context = true;
        params.print_progress = false;
        params.print_realtime = false;
        let en = CString::new("en").unwrap();
        params.language = en.as_ptr();
        let rc =
            sys::whisper_full_with_state(e.ctx, e.state, params, clip.as_ptr(), clip.len() as i32);
        assert_eq!(rc, 0);
        eot = sys::whisper_token_eot(e.ctx);
        sot = sys::whisper_token_sot(e.ctx);
        let n_segments = sys::whisper_full_n_segments_from_state(e.state);
        assert!(n_segments > 0);
        for s in 0..n_segments {
            for i in 0..sys::whisper_full_n_tokens_from_state(e.state, s) {
                let d = sys::whisper_full_get_token_data_from_state(e.state, s, i);
                if d.id == eot {
                    continue;
                }
                tokens.push(d.id);
                if d.id < eot {
                    text.push(d.id);
                    text_dtw.push(d.t_dtw);
                }
            }
        }
    }
    assert!(
        text.len() > 30,
        "20 s of speech: {} text tokens",
        text.len()
    );

    // DTW on the same encoder output and the same tokens gives whisper_full's
    // times. whisper_full aligns a window over the audio it decoded: up to its
    // last timestamp token (20-ms steps from token_beg) and no further than the
    // audio's mel frames (10 ms).
    let beg = unsafe { sys::whisper_token_beg(e.ctx) };
    let last_timestamp = *tokens.iter().rfind(|&&t| t > beg).unwrap();
    let n_frames =
        (2 * (last_timestamp - beg)).min(unsafe { sys::whisper_n_len_from_state(e.state) });
    assert!(
        (1900..=2000).contains(&n_frames),
        "20 s of speech, decoded to {n_frames}"
    );
    let mut times = vec![0i64; text.len()];
    let rc = unsafe {
        sys::whisper_dtw_timestamps_with_state(
            e.ctx,
            e.state,
            text.as_ptr(),
            text.len() as i32,
            n_frames,
            1,
            times.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(times, text_dtw);

    // The logits of every position of one batch [sot, tokens...] are those of
    // decoding the same tokens one at a time.
    let seq: Vec<i32> = std::iter::once(sot).chain(tokens.iter().copied()).collect();
    let batch = e.batch_logits(&seq);
    let mut same_argmax = 0;
    let mut worst = 0f32;
    for (i, row) in batch.iter().enumerate() {
        let rc = unsafe { sys::whisper_decode_with_state(e.ctx, e.state, &seq[i], 1, i as i32, 1) };
        assert_eq!(rc, 0);
        let one = e.logits_row(0);
        worst = row
            .iter()
            .zip(&one)
            .map(|(a, b)| (a - b).abs())
            .fold(worst, f32::max);
        same_argmax += (argmax(row) == argmax(&one)) as usize;
    }
    // The batch's products go through BLAS in f32, single tokens through ggml's f16 dot products.
    assert!(worst < 0.1, "logits differ by up to {worst}");
    assert!(
        same_argmax * 100 >= seq.len() * 98,
        "{same_argmax} of {} argmax agree",
        seq.len()
    );

    // Greedy decoding took the best token almost everywhere (whisper.cpp's
    // timestamp rules and suppressions account for the rest).
    let followed = (0..tokens.len())
        .filter(|&i| tokens[i] < eot && argmax(&batch[i]) == tokens[i] as usize)
        .count();
    assert!(
        followed * 20 >= text.len() * 17,
        "{followed} of {} text tokens are the argmax",
        text.len()
    );

    // Bad arguments are refused, not aborted on.
    unsafe {
        assert_eq!(
            sys::whisper_decode_logits_with_state(e.ctx, e.state, seq.as_ptr(), 3, 0, 3, 1),
            -1
        );
        let special = [sot];
        let mut t = [0i64];
        assert_eq!(
            sys::whisper_dtw_timestamps_with_state(
                e.ctx,
                e.state,
                special.as_ptr(),
                1,
                1000,
                1,
                t.as_mut_ptr()
            ),
            -1
        );
    }
}

/// whisper_set_audio_ctx_with_state (vendor/patches/0007): 20 s of speech
/// encoded with 2 s of padding (1100 positions) instead of 30 s reads the
/// same to the decoder: the greedy text over the whole window, forced
/// through it, is its argmax almost everywhere (51 of 53 positions; over
/// 6 s, 14).
#[test]
fn a_shorter_encoder_context_reads_the_same() {
    let (samples, _) = podcap::audio::load_16k_mono(&root().join("samples/sample.mp3")).unwrap();
    let clip = &samples[..20 * 16_000];
    let e = Engine::load();
    let sot = unsafe { sys::whisper_token_sot(e.ctx) };
    let eot = unsafe { sys::whisper_token_eot(e.ctx) };
    let encode = |n_audio_ctx: i32| unsafe {
        assert_eq!(
            sys::whisper_set_audio_ctx_with_state(e.ctx, e.state, n_audio_ctx),
            0
        );
        assert_eq!(sys::whisper_encode_with_state(e.ctx, e.state, 0, 1), 0);
    };
    unsafe {
        let rc =
            sys::whisper_pcm_to_mel_with_state(e.ctx, e.state, clip.as_ptr(), clip.len() as i32, 1);
        assert_eq!(rc, 0);
    }
    // Greedy text over the whole window, token by token, to the end of text.
    encode(0);
    let not = unsafe { sys::whisper_token_not(e.ctx) };
    let mut seq = vec![sot, not];
    let rc = unsafe { sys::whisper_decode_with_state(e.ctx, e.state, &sot, 1, 0, 1) };
    assert_eq!(rc, 0);
    loop {
        let i = seq.len() - 1;
        let rc = unsafe { sys::whisper_decode_with_state(e.ctx, e.state, &seq[i], 1, i as i32, 1) };
        assert_eq!(rc, 0);
        let best = argmax(&e.logits_row(0)[..=eot as usize]) as i32;
        if best == eot || seq.len() == 120 {
            break;
        }
        seq.push(best);
    }
    // The same text over 20 s and 2 s of padding: the argmax at every
    // position, the end of text included.
    let followed = |n_audio_ctx| {
        encode(n_audio_ctx);
        let rows = e.batch_logits(&seq);
        (1..seq.len())
            .filter(|&i| argmax(&rows[i]) == seq.get(i + 1).map_or(eot as usize, |&t| t as usize))
            .count()
    };
    let n = seq.len() - 1;
    assert!(n > 50, "20 s of speech: {n} tokens");
    let (whole, short, cut) = (followed(0), followed(1100), followed(300));
    assert!(whole * 50 >= n * 49, "{whole} of {n} over the whole window");
    assert!(short * 20 >= n * 19, "{short} of {n} over 22 s");
    // And the context is the one set: 6 s cannot read 20 s of speech.
    assert!(cut * 2 < n, "{cut} of {n} over 6 s");
    // A context longer than the model's is refused.
    assert_eq!(
        unsafe { sys::whisper_set_audio_ctx_with_state(e.ctx, e.state, 1501) },
        -1
    );
}
