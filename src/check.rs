//! Accuracy: word error rate between a reference text and a hypothesis, on
//! normalized tokens (case, punctuation, apostrophes, hyphens folded).

use crate::transcript::normalize;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WerReport {
    pub reference_words: usize,
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub wer: f64,
}

/// WER of `hypothesis` against `reference` (both plain text).
pub fn wer(reference: &str, hypothesis: &str) -> WerReport {
    let r = normalize::text_tokens(reference);
    let h: Vec<String> = normalize::text_tokens(hypothesis)
        .into_iter()
        .filter(|t| !normalize::FILLERS.contains(&t.as_str()))
        .collect();
    // Levenshtein on tokens with operation counts; O(n*m) time, O(m) memory.
    let m = h.len();
    let mut prev: Vec<(usize, usize, usize, usize)> = (0..=m).map(|j| (j, 0, 0, j)).collect();
    for (i, rt) in r.iter().enumerate() {
        let mut cur = vec![(i + 1, 0, i + 1, 0); m + 1];
        for j in 1..=m {
            let same = *rt == h[j - 1];
            let diag = prev[j - 1];
            let sub = (
                diag.0 + usize::from(!same),
                diag.1 + usize::from(!same),
                diag.2,
                diag.3,
            );
            let del = (prev[j].0 + 1, prev[j].1, prev[j].2 + 1, prev[j].3);
            let ins = (
                cur[j - 1].0 + 1,
                cur[j - 1].1,
                cur[j - 1].2,
                cur[j - 1].3 + 1,
            );
            cur[j] = [sub, del, ins]
                .into_iter()
                .min_by_key(|x| x.0)
                .expect("three options");
        }
        prev = cur;
    }
    let (errors, substitutions, deletions, insertions) = prev[m];
    WerReport {
        reference_words: r.len(),
        substitutions,
        deletions,
        insertions,
        wer: if r.is_empty() {
            if h.is_empty() {
                0.0
            } else {
                1.0
            }
        } else {
            errors as f64 / r.len() as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_operations() {
        let w = wer("The cat sat on the mat.", "the cat sat on a mat");
        assert_eq!((w.substitutions, w.deletions, w.insertions), (1, 0, 0));
        assert!((w.wer - 1.0 / 6.0).abs() < 1e-9);
        let w = wer("one two three", "one uh three");
        assert_eq!((w.substitutions, w.deletions, w.insertions), (0, 1, 0));
        let w = wer("one two", "one two three");
        assert_eq!((w.substitutions, w.deletions, w.insertions), (0, 0, 1));
        assert_eq!(wer("Don’t stop", "don't stop.").wer, 0.0);
    }
}
