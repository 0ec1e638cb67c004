//! `podcap check --format json`: the run as a versioned JSON document
//! (schema in README, "podcap check").

use super::{CheckRun, EpisodeCheck, Status, Thresholds};

/// Bumped when a field changes meaning or goes away; new fields may appear
/// without a bump.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(serde::Serialize)]
struct Document<'a> {
    schema: &'static str,
    schema_version: u32,
    podcap_version: &'static str,
    status: Status,
    thresholds: &'a Thresholds,
    episodes: Vec<Episode<'a>>,
}

#[derive(serde::Serialize)]
struct Episode<'a> {
    id: &'a str,
    audio: &'a str,
    transcript: &'a str,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(flatten)]
    check: Option<&'a EpisodeCheck>,
}

pub fn render(run: &CheckRun) -> String {
    let doc = Document {
        schema: "podcap-check",
        schema_version: SCHEMA_VERSION,
        podcap_version: env!("CARGO_PKG_VERSION"),
        status: run.status(),
        thresholds: &run.thresholds,
        episodes: run
            .episodes
            .iter()
            .map(|e| Episode {
                id: &e.id,
                audio: &e.audio,
                transcript: &e.transcript,
                status: e.status(),
                error: e.outcome.as_ref().err().map(String::as_str),
                check: e.outcome.as_ref().ok(),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("the check serializes");
    s.push('\n');
    s
}
