//! The JSON report: every word with its time, confidence and status, the
//! cues, the disagreements, and statistics. Schema: docs in README ("JSON output").

use super::{CaptionDoc, Format};

pub struct Json;

impl Format for Json {
    fn extension(&self) -> &'static str {
        "json"
    }

    fn render(&self, doc: &CaptionDoc) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(doc.report).expect("the report serializes");
        bytes.push(b'\n');
        bytes
    }
}
