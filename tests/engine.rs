//! The transcription engine on the real model: chunk edges and hallucination guards.

use podcap::transcribe::decode::{DecodeOptions, Segment};
use podcap::transcribe::whisper::{EngineOptions, WhisperEngine};
use podcap::transcribe::{transcribe_samples, RecognizedWord, RunOptions, Transcriber};

use crate::util::*;

/// Run-on speech without a pause to cut in (espeak-ng reads it without punctuation).
const RUN_ON: &str = "the farmer walks along the river to the market where people sell bread \
    and fruit and fresh vegetables every morning before the sun rises over the hills while \
    the children run to school with their bags full of books and pencils and the old baker \
    opens his shop to sell warm bread to the workers who build the new bridge across the \
    water near the station where the trains leave for the city every hour of the day and \
    the night until the last train comes home";

fn one_thread_engine(beam_size: usize) -> WhisperEngine {
    WhisperEngine::load(
        &tiny_model(),
        EngineOptions {
            threads_per_job: 1,
            beam_size,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Lowercase words without punctuation.
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

fn normalized(words: &[RecognizedWord]) -> Vec<String> {
    words.iter().flat_map(|w| tokens(&w.text)).collect()
}

/// Words of `truth` missing from `heard`, and words of `heard` not in `truth` (by LCS).
fn missing_and_extra(truth: &[String], heard: &[String]) -> (usize, usize) {
    let mut lcs = vec![vec![0usize; heard.len() + 1]; truth.len() + 1];
    for i in 0..truth.len() {
        for j in 0..heard.len() {
            lcs[i + 1][j + 1] = if truth[i] == heard[j] {
                lcs[i][j] + 1
            } else {
                lcs[i][j + 1].max(lcs[i + 1][j])
            };
        }
    }
    let common = lcs[truth.len()][heard.len()];
    (truth.len() - common, heard.len() - common)
}

/// Chunks cut in the middle of words, with no pause to move to: the stitched
/// words lose and double nothing the single pass over the whole audio did not.
#[test]
fn chunk_edges_inside_words_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("run-on.wav");
    tool(
        "espeak-ng",
        &["-s", "170", "-w", wav.to_str().unwrap(), RUN_ON],
    );
    let (samples, _) = podcap::audio::load_16k_mono(&wav).unwrap();
    let engine = one_thread_engine(EngineOptions::default().beam_size);

    // A chunk length whose cuts (exact, no search) all fall where the speech is loud.
    let energy = |at: usize| {
        samples[at - 160..at + 160]
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            / 320.0
    };
    let speech = samples.iter().map(|x| x * x).sum::<f32>() / samples.len() as f32;
    let cuts = |target: usize| {
        let step = target / 320 * 320 + 160;
        let len = samples.len();
        // The chunker cuts while more than 1.5 targets remain.
        (1..)
            .map(move |k| k * step)
            .take_while(move |&c| len - (c - step) > target * 3 / 2)
    };
    let target = (128_000..240_000)
        .step_by(800)
        .find(|&t| cuts(t).count() >= 2 && cuts(t).all(|c| energy(c) > speech * 0.1))
        .expect("a chunk length with every cut inside a word");

    let truth: Vec<String> = RUN_ON.split_whitespace().map(String::from).collect();
    let whole = transcribe_samples(
        &engine,
        RunOptions {
            jobs: 1,
            chunk_target_s: 1000.0,
            ..Default::default()
        },
        &samples,
    )
    .unwrap();
    let chunked = transcribe_samples(
        &engine,
        RunOptions {
            jobs: 2,
            chunk_target_s: target as f64 / 16_000.0,
            cut_search_s: 0.0,
        },
        &samples,
    )
    .unwrap();
    let (whole_missing, whole_extra) = missing_and_extra(&truth, &normalized(&whole));
    let (missing, extra) = missing_and_extra(&truth, &normalized(&chunked));
    let cut_s: Vec<f64> = cuts(target).map(|c| c as f64 / 16_000.0).collect();
    assert!(
        missing <= whole_missing && extra <= whole_extra,
        "cuts at {cut_s:?} s: {missing} words lost and {extra} extra (one pass: {whole_missing}, {whole_extra})\n{:?}",
        normalized(&chunked)
    );
    for pair in chunked.windows(2) {
        assert!(
            pair[0].start_ms <= pair[1].start_ms,
            "words out of order: {pair:?}"
        );
    }
}

/// A chunk whose words have reached well into the audio the next chunk also
/// hears is not decoded further: whisper.cpp opens no window for the rest.
/// What it did decode is exactly what the whole chunk's decoding starts with.
#[test]
fn decoding_stops_where_the_next_chunk_takes_over() {
    let (samples, _) = podcap::audio::load_16k_mono(&root().join("samples/sample.mp3")).unwrap();
    let chunk = &samples[..55 * 16_000];
    let engine = one_thread_engine(EngineOptions::default().beam_size);
    let last = engine.transcribe(chunk, None, None).unwrap().words;
    let shared = engine
        .transcribe(chunk, Some(20 * 16_000), None)
        .unwrap()
        .words;
    let end_ms = |words: &[RecognizedWord]| words.last().map_or(0, |w| w.end_ms);
    assert!(
        end_ms(&last) > 50_000,
        "the last chunk is decoded to its end: {last:?}"
    );
    assert!(
        (21_000..30_000).contains(&end_ms(&shared)),
        "one 30-s window, past the shared audio's first second: {shared:?}"
    );
    assert_eq!(shared[..], last[..shared.len()]);
}

/// A decoding loop on real audio: decoded greedily by the crates.io
/// whisper.cpp, the chunk of the episode around 400-440 s made tiny.en say
/// one 11-word sentence 7 times in place of 35 s of speech, and the guard
/// decoded it again. podcap's whisper.cpp (f32 encoder attention, patch 0003)
/// decodes this chunk without a loop, so this test now asks only that the
/// speech is there: at most a fifth of it missing (a loop loses most of it)
/// and at most a quarter extra (a loop kept would add 60 words or more);
/// the guard's logic itself is unit-tested in `transcribe::whisper`.
#[test]
fn a_decoding_loop_is_decoded_again() {
    let dir = tempfile::tempdir().unwrap();
    make_sample(
        "episode.txt",
        dir.path(),
        "ep",
        &["--max-seconds", "520", "--formats", "mp3"],
    );
    let (samples, _) = podcap::audio::load_16k_mono(&dir.path().join("ep.mp3")).unwrap();
    let chunks =
        podcap::transcribe::chunk::plan(&samples, podcap::transcribe::chunk::DEFAULT_TARGET_S);
    let at = |s: usize| s * 16_000;
    let c = chunks
        .iter()
        .find(|c| c.start_sample <= at(420) && at(420) < c.end_sample)
        .unwrap();
    let audio_end = (c.end_sample + 8_000).min(samples.len());
    let engine = one_thread_engine(1);
    let words = engine
        .transcribe(
            &samples[c.audio_start_sample..audio_end],
            c.next_audio_start_sample.map(|n| n - c.audio_start_sample),
            None,
        )
        .unwrap()
        .words;

    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("ep.truth.json")).unwrap())
            .unwrap();
    // Everything the chunk hears, its lead and trail included.
    let (from_s, to_s) = (
        c.audio_start_sample as f64 / 16_000.0,
        audio_end as f64 / 16_000.0,
    );
    let spoken: Vec<String> = truth["words"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| (from_s..to_s - 0.5).contains(&w["start_s"].as_f64().unwrap()))
        .flat_map(|w| tokens(w["text"].as_str().unwrap()))
        .collect();
    let heard = normalized(&words);
    let (missing, extra) = missing_and_extra(&spoken, &heard);
    assert!(
        missing * 5 <= spoken.len() && extra * 4 <= spoken.len(),
        "{missing} of {} spoken words missing, {extra} extra: {heard:?}",
        spoken.len()
    );
}

fn sample_chunk(seconds: usize) -> Vec<f32> {
    let (samples, _) = podcap::audio::load_16k_mono(&root().join("samples/sample.mp3")).unwrap();
    samples[..seconds * 16_000].to_vec()
}

fn sample_truth() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(root().join("samples/sample.truth.json")).unwrap())
        .unwrap()
}

fn token_ids(segments: &[Segment]) -> Vec<(i32, i64)> {
    segments
        .iter()
        .flat_map(|s| s.tokens.iter().map(|t| (t.id, t.end_cs)))
        .collect()
}

/// Exact acceptance (a tolerance of 0) of the transcript as the draft gives
/// the tokens of plain greedy decoding on a real chunk, with the same DTW
/// times, in a fraction of the decoder passes.
#[test]
fn the_transcript_as_the_draft_decodes_as_plain_greedy_in_fewer_passes() {
    let chunk = sample_chunk(28);
    let engine = one_thread_engine(1);
    let transcript = podcap::transcript::read(&root().join("samples/sample.txt")).unwrap();
    let draft = engine
        .draft(
            &mut transcript
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| (i, w.text.as_str())),
        )
        .expect("tiny.en decodes with a draft");
    let options = DecodeOptions::default();
    assert_eq!(options.tolerance_nats, 0.0);
    // As a chunk whose next chunk hears the audio from 20 s on: one window.
    let shared = Some(20 * 16_000);
    let (plain, plain_stats) = engine
        .decode_segments(&chunk, shared, None, options.clone())
        .unwrap();
    let (guided, stats) = engine
        .decode_segments(&chunk, shared, Some(&draft), options)
        .unwrap();
    let (plain, guided) = (plain.segments, guided.segments);
    assert_eq!((stats.windows, stats.fallbacks), (1, 0), "{stats:?}");
    assert!(token_ids(&plain).len() > 60, "{plain:?}");
    assert_eq!(token_ids(&guided), token_ids(&plain));
    assert!(
        stats.accepted * 2 > stats.tokens,
        "most tokens come from the draft: {stats:?}"
    );
    assert!(
        stats.decoder_calls * 2 < plain_stats.decoder_calls,
        "{stats:?} against {plain_stats:?}"
    );
}

/// Speech the transcript lacks (an ad-lib) is decoded as free speech: with
/// one spoken sentence cut from the draft, its words are still heard, and
/// not taken from the draft.
#[test]
fn speech_missing_from_the_transcript_decodes_as_free_speech() {
    let chunk = sample_chunk(28);
    let truth = sample_truth();
    let words = truth["words"].as_array().unwrap();
    let start = |w: &serde_json::Value| w["start_s"].as_f64().unwrap();
    // The first sentence said wholly between 3 and 24 s, not the first one.
    let first_sentence = words[0]["sentence"].as_u64().unwrap();
    let cut = (first_sentence + 1..)
        .find(|&s| {
            let w: Vec<_> = words.iter().filter(|w| w["sentence"] == s).collect();
            start(w[0]) > 3.0 && w.last().unwrap()["end_s"].as_f64().unwrap() < 24.0 && w.len() >= 6
        })
        .expect("a sentence inside the chunk");
    let said: Vec<&serde_json::Value> = words.iter().filter(|w| w["sentence"] == cut).collect();
    let (from_ms, to_ms) = (
        (start(said[0]) * 1000.0) as u64,
        (said.last().unwrap()["end_s"].as_f64().unwrap() * 1000.0) as u64,
    );
    let engine = one_thread_engine(1);
    let draft = engine
        .draft(
            &mut words
                .iter()
                .enumerate()
                .filter(|(_, w)| w["sentence"] != cut)
                .map(|(i, w)| (i, w["text"].as_str().unwrap())),
        )
        .unwrap();
    let heard = engine
        .transcribe(&chunk, Some(24 * 16_000), Some(&draft))
        .unwrap()
        .words;
    let in_cut: Vec<&RecognizedWord> = heard
        .iter()
        .filter(|w| w.start_ms + 300 >= from_ms && w.start_ms <= to_ms)
        .collect();
    let truth_tokens: Vec<String> = said
        .iter()
        .flat_map(|w| tokens(w["text"].as_str().unwrap()))
        .collect();
    let heard_tokens: Vec<String> = in_cut.iter().flat_map(|w| tokens(&w.text)).collect();
    let (missing, _) = missing_and_extra(&truth_tokens, &heard_tokens);
    assert!(
        missing * 4 <= truth_tokens.len(),
        "{truth_tokens:?} heard as {heard_tokens:?}"
    );
    let drafted = in_cut.iter().filter(|w| w.from_draft.is_some()).count();
    assert!(
        drafted * 4 <= in_cut.len(),
        "words of the cut sentence taken from the draft: {in_cut:?}"
    );
    // Around it, the draft is used (the synthesized voice says the
    // transcript's words, though not always as tiny.en hears them).
    let outside: Vec<&RecognizedWord> = heard
        .iter()
        .filter(|w| w.start_ms + 300 < from_ms || w.start_ms > to_ms)
        .collect();
    let outside_drafted = outside.iter().filter(|w| w.from_draft.is_some()).count();
    assert!(
        outside_drafted * 5 >= outside.len() * 2,
        "{outside_drafted} of {} words around it from the draft",
        outside.len()
    );
}

/// A word the transcript changed is judged inside the decoding window that
/// heard it: forced over that window's encoder output, no encoder pass of
/// its own; the rest of its sentence stands.
#[test]
fn a_changed_word_is_refused_inside_its_window() {
    let chunk = sample_chunk(28);
    let truth = sample_truth();
    let words = truth["words"].as_array().unwrap();
    let start = |w: &serde_json::Value| w["start_s"].as_f64().unwrap();
    // A word of 5 letters or more said between 9 and 18 s, changed (the
    // draft is found from the chunk's first few words that agree with it).
    let k = words
        .iter()
        .position(|w| {
            (9.0..18.0).contains(&start(w))
                && w["text"].as_str().unwrap().chars().all(char::is_alphabetic)
                && w["text"].as_str().unwrap().len() >= 5
        })
        .unwrap();
    let texts: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == k {
                "banana".to_string()
            } else {
                w["text"].as_str().unwrap().to_string()
            }
        })
        .collect();
    let engine = one_thread_engine(1);
    let draft = engine
        .draft(&mut texts.iter().enumerate().map(|(i, t)| (i, t.as_str())))
        .unwrap();
    let options = DecodeOptions {
        tolerance_nats: 3.0,
        ..Default::default()
    };
    let (decoded, stats) = engine
        .decode_segments(&chunk, Some(20 * 16_000), Some(&draft), options)
        .unwrap();
    assert_eq!(stats.windows, 1, "{stats:?}");
    let verdict = decoded.verdicts.iter().find(|v| v.word == k);
    let refused = podcap::align::verify::MAX_REFUSED_MARGIN;
    assert!(
        verdict.is_some_and(|v| v.margin < refused),
        "'banana' for '{}': {:?}",
        words[k]["text"],
        decoded.verdicts
    );
    let sentence = &words[k]["sentence"];
    let others: Vec<_> = decoded
        .verdicts
        .iter()
        .filter(|v| v.word != k && &words[v.word]["sentence"] == sentence && v.margin < refused)
        .collect();
    assert!(others.is_empty(), "{others:?}");
}
