use podcap::transcribe::{whisper::*, *};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (s, info) =
        podcap::audio::load_16k_mono(std::path::Path::new(&args[1]), &mut |_| {}).unwrap();
    eprintln!("{info:?} {}", s.len());
    let e = WhisperEngine::load(std::path::Path::new(&args[2]), EngineOptions::default()).unwrap();
    let t = std::time::Instant::now();
    let w = transcribe_chunks(&e, &s, RunOptions::default(), &|_| {}).unwrap();
    eprintln!("{:?}", t.elapsed());
    for w in w {
        println!(
            "{} {} {} {:.2}",
            w.start_ms, w.end_ms, w.text, w.probability
        );
    }
}
