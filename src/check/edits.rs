//! Edit distance with operation counts, for word and character error rates.

use crate::transcript::normalize;

/// How `hypothesis` differs from `reference`: substitutions, deletions
/// (reference items the hypothesis lacks) and insertions (hypothesis items
/// the reference lacks), on one minimal alignment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EditCounts {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
}

impl EditCounts {
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    pub fn add(&mut self, other: EditCounts) {
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
    }
}

/// Levenshtein on items with operation counts; O(n*m) time, O(m) memory.
pub fn edit_counts<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> EditCounts {
    let m = hypothesis.len();
    // (errors, substitutions, deletions, insertions) per hypothesis prefix.
    let mut prev: Vec<(usize, usize, usize, usize)> = (0..=m).map(|j| (j, 0, 0, j)).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![(i + 1, 0, i + 1, 0); m + 1];
        for j in 1..=m {
            let differ = usize::from(*r != hypothesis[j - 1]);
            let d = prev[j - 1];
            let sub = (d.0 + differ, d.1 + differ, d.2, d.3);
            let del = (prev[j].0 + 1, prev[j].1, prev[j].2 + 1, prev[j].3);
            let c = cur[j - 1];
            let ins = (c.0 + 1, c.1, c.2, c.3 + 1);
            cur[j] = [sub, del, ins]
                .into_iter()
                .min_by_key(|x| x.0)
                .expect("three options");
        }
        prev = cur;
    }
    let (_, substitutions, deletions, insertions) = prev[m];
    EditCounts {
        substitutions,
        deletions,
        insertions,
    }
}

/// Comparison tokens of a text, without fillers: what WER counts.
pub fn word_tokens(text: &str) -> Vec<String> {
    normalize::text_tokens(text)
        .into_iter()
        .filter(|t| !normalize::FILLERS.contains(&t.as_str()))
        .collect()
}

/// The characters CER counts: the comparison tokens, one space between.
pub fn chars_of(tokens: &[String]) -> Vec<char> {
    tokens.join(" ").chars().collect()
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WerReport {
    pub reference_words: usize,
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub wer: f64,
}

/// WER of `hypothesis` against `reference` (both plain text, normalized;
/// fillers in the hypothesis are not counted).
pub fn wer(reference: &str, hypothesis: &str) -> WerReport {
    let r = normalize::text_tokens(reference);
    let h = word_tokens(hypothesis);
    let e = edit_counts(&r, &h);
    WerReport {
        reference_words: r.len(),
        substitutions: e.substitutions,
        deletions: e.deletions,
        insertions: e.insertions,
        wer: ratio(e.errors(), r.len(), h.len()),
    }
}

/// errors / reference, with an empty reference giving 0 (nothing to get
/// wrong) or 1 (everything inserted).
pub fn ratio(errors: usize, reference: usize, hypothesis: usize) -> f64 {
    if reference == 0 {
        if hypothesis == 0 && errors == 0 {
            0.0
        } else {
            1.0
        }
    } else {
        errors as f64 / reference as f64
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
        assert_eq!(
            wer(
                "It cost 1,917 dollars",
                "it cost one thousand nine hundred seventeen dollars"
            )
            .wer,
            0.0
        );
    }

    #[test]
    fn characters() {
        let r = chars_of(&word_tokens("Thursday"));
        let h = chars_of(&word_tokens("Tuesday"));
        let e = edit_counts(&r, &h);
        assert_eq!(e.errors(), 2);
    }
}
