//! `podcap check --format junit`: JUnit XML, as CI systems show test
//! results. One test suite for the run; per episode, one test case per
//! threshold (classname `podcap.check.ID`), failing with the figure and the
//! worst findings it counts; an episode that could not be checked is one
//! test case with an `<error>`. Valid against the JUnit schema that
//! pytest's tests use (junit-10.xsd; tests/check.rs validates it).

use std::fmt::Write;

use super::{CheckRun, Status};

/// Findings named in a failure's message; the element's text lists up to
/// `LISTED`.
const IN_MESSAGE: usize = 3;
const LISTED: usize = 20;

pub fn render(run: &CheckRun) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    let total_s: f64 = run.episodes.iter().map(|e| e.elapsed_s).sum();
    for e in &run.episodes {
        let class = format!("podcap.check.{}", e.id);
        match &e.outcome {
            Err(message) => {
                tests += 1;
                errors += 1;
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{}\" name=\"check\" time=\"{:.3}\">\n      <error type=\"error\" message=\"{}\"/>\n    </testcase>",
                    escape(&class),
                    e.elapsed_s,
                    escape(message)
                );
            }
            Ok(check) => {
                let per_case_s = e.elapsed_s / check.verdicts.len().max(1) as f64;
                for v in &check.verdicts {
                    tests += 1;
                    let limit = if v.name == "wer" {
                        format!("{}", v.limit)
                    } else {
                        format!("{} s", v.limit)
                    };
                    let _ = write!(
                        cases,
                        "    <testcase classname=\"{}\" name=\"{} &lt;= {}\" time=\"{:.3}\"",
                        escape(&class),
                        v.name,
                        escape(&limit),
                        per_case_s
                    );
                    if v.passed {
                        cases.push_str("/>\n");
                        continue;
                    }
                    failures += 1;
                    let counted: Vec<&super::Finding> = check
                        .findings
                        .iter()
                        .filter(|f| !f.low_confidence && v.counts(f.kind))
                        .collect();
                    let mut message = v.describe();
                    if !counted.is_empty() {
                        message.push_str("; worst: ");
                        let worst: Vec<String> = counted
                            .iter()
                            .take(IN_MESSAGE)
                            .map(|f| f.summary())
                            .collect();
                        message.push_str(&worst.join("; "));
                    }
                    let mut text = String::new();
                    for f in counted.iter().take(LISTED) {
                        let _ =
                            writeln!(text, "{}:{}: {}", e.transcript, f.start.line, f.summary());
                    }
                    if counted.len() > LISTED {
                        let _ = writeln!(text, "and {} more", counted.len() - LISTED);
                    }
                    let _ = write!(
                        cases,
                        ">\n      <failure type=\"threshold\" message=\"{}\">{}</failure>\n    </testcase>\n",
                        escape(&message),
                        escape(&text)
                    );
                }
            }
        }
    }
    let status = run.status();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"podcap check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{total_s:.3}\">\n  \
         <testsuite name=\"podcap check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{total_s:.3}\">\n    \
         <properties>\n      \
         <property name=\"max_wer\" value=\"{}\"/>\n      \
         <property name=\"max_unspoken_s\" value=\"{}\"/>\n      \
         <property name=\"max_unscripted_s\" value=\"{}\"/>\n      \
         <property name=\"status\" value=\"{}\"/>\n    \
         </properties>\n{cases}  </testsuite>\n</testsuites>\n",
        run.thresholds.max_wer,
        run.thresholds.max_unspoken_s,
        run.thresholds.max_unscripted_s,
        match status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
        }
    )
}

/// Text as XML character data or an attribute value; characters XML 1.0
/// cannot hold are dropped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
