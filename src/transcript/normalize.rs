//! Text normalization for matching: a word -> zero or more comparison tokens.
//!
//! Lower case; curly quotes straightened; apostrophes dropped ("don't" ->
//! "dont"); hyphenated compounds split ("100-year" -> "100", "year");
//! thousands separators removed ("1,000" -> "1000"); "%" -> "percent";
//! other punctuation removed. Decimal points between digits are kept ("8.6").

/// Filler words that recognizers write and transcripts leave out.
pub const FILLERS: &[&str] = &["uh", "um", "er", "ah", "hmm", "mm", "uhm"];

pub fn tokens(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        let prev_digit = i > 0 && chars[i - 1].is_ascii_digit();
        let next_digit = chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
        match c {
            c if c.is_alphanumeric() => cur.extend(c.to_lowercase()),
            '.' if prev_digit && next_digit => cur.push('.'),
            ',' if prev_digit && next_digit => {}
            '\'' | '’' | '‘' | 'ʼ' => {}
            '-' | '/' | '‐' | '‑' => flush(&mut cur, &mut out),
            '%' => {
                flush(&mut cur, &mut out);
                out.push("percent".into());
            }
            '&' => {
                flush(&mut cur, &mut out);
                out.push("and".into());
            }
            _ => {}
        }
    }
    flush(&mut cur, &mut out);
    for t in &mut out {
        if let Some(&(_, canonical)) = SPELLINGS.iter().find(|(v, _)| v == t) {
            *t = canonical.to_string();
        }
    }
    out
}

/// Same word, different spelling: variant -> canonical.
const SPELLINGS: &[(&str, &str)] = &[("ok", "okay"), ("o.k", "okay"), ("alright", "allright")];

/// The whole text as comparison tokens (for WER).
pub fn text_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '—' || c == '–')
        .flat_map(tokens)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello,", &["hello"]),
            ("don’t", &["dont"]),
            ("workers’", &["workers"]),
            ("100-year", &["100", "year"]),
            ("8.6", &["8.6"]),
            ("end.", &["end"]),
            ("1,000", &["1000"]),
            ("20%", &["20", "percent"]),
            ("“evil", &["evil"]),
            ("R&D", &["r", "and", "d"]),
            ("...", &[]),
            ("OK,", &["okay"]),
        ];
        for (input, want) in cases {
            assert_eq!(tokens(input), *want, "{input}");
        }
    }
}
