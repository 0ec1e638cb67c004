//! SubRip (SRT): numbered cues, comma before the milliseconds.

use super::{timestamp, CaptionDoc, Format};

pub struct Srt;

impl Format for Srt {
    fn extension(&self) -> &'static str {
        "srt"
    }

    fn render(&self, doc: &CaptionDoc) -> Vec<u8> {
        let mut out = String::new();
        for (i, cue) in doc.report.cues.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!(
                "{}\n{} --> {}\n{}\n",
                i + 1,
                timestamp(cue.start_ms, ','),
                timestamp(cue.end_ms, ','),
                cue.text()
            ));
        }
        out.into_bytes()
    }
}
