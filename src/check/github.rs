//! `podcap check --format github`: GitHub Actions workflow commands. Each
//! finding is a `::warning` on the transcript's line, so a pull request that
//! edits a transcript shows it on the changed line; a failed threshold is an
//! `::error` on the file, and an episode that could not be checked an
//! `::error` without one. Low-confidence findings (most likely recognizer
//! slips) are left out: they are not the transcript's, and GitHub shows only
//! the first 10 warnings of a step.

use std::fmt::Write;

use super::CheckRun;

pub fn render(run: &CheckRun) -> String {
    let mut out = String::new();
    for e in &run.episodes {
        let check = match &e.outcome {
            Err(message) => {
                let _ = writeln!(
                    out,
                    "::error title={}::{}",
                    property(&format!("podcap check: {}", e.id)),
                    data(message)
                );
                continue;
            }
            Ok(c) => c,
        };
        for v in check.verdicts.iter().filter(|v| !v.passed) {
            let _ = writeln!(
                out,
                "::error file={},title={}::{}",
                property(&e.transcript),
                property(&format!("podcap check failed: {}", e.id)),
                data(&v.describe())
            );
        }
        for f in check.findings.iter().filter(|f| !f.low_confidence) {
            let mut place = format!("line={},endLine={}", f.start.line, f.end.line);
            if f.start.line == f.end.line {
                let _ = write!(
                    place,
                    ",col={},endColumn={}",
                    f.start.column,
                    f.end.column + 1
                );
            }
            let _ = writeln!(
                out,
                "::warning file={},{place},title={}::{}",
                property(&e.transcript),
                property(&format!("podcap check: {}", f.kind.describe())),
                data(&f.summary())
            );
        }
    }
    out
}

/// A workflow command's message (as @actions/core escapes it).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_actions_core() {
        assert_eq!(data("50%\nnext"), "50%25%0Anext");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
