//! Text normalization for matching: a word -> zero or more comparison tokens.
//!
//! Lower case; curly quotes straightened; apostrophes dropped ("don't" ->
//! "dont"); hyphenated compounds split ("100-year" -> "100", "year");
//! thousands separators removed ("1,000" -> "1000"); "%" -> "percent";
//! other punctuation removed. Decimal points between digits are kept ("8.6").
//! [`spoken_numbers`] then turns number words into digits, so "nineteen
//! seventeen" and "1917", "eight point six million" and "8.6 million",
//! "twenty first" and "21st", "the forties" and "the 40s" compare equal.

/// Filler words that recognizers write and transcripts leave out.
pub const FILLERS: &[&str] = &["uh", "um", "er", "ah", "hmm", "mm", "uhm"];

pub fn tokens(word: &str) -> Vec<String> {
    if let Some(spoken) = address_tokens(word) {
        return spoken;
    }
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

/// Same word, different spelling: variant -> canonical. British and American
/// spellings one letter apart ("colour", "organise", "defence") already
/// compare as similar; these are the common ones further apart.
const SPELLINGS: &[(&str, &str)] = &[
    ("ok", "okay"),
    ("o.k", "okay"),
    ("alright", "allright"),
    ("centre", "center"),
    ("centres", "centers"),
    ("theatre", "theater"),
    ("metre", "meter"),
    ("metres", "meters"),
    ("litre", "liter"),
    ("fibre", "fiber"),
    ("calibre", "caliber"),
    ("sombre", "somber"),
    ("spectre", "specter"),
    ("manoeuvre", "maneuver"),
    ("aluminium", "aluminum"),
    ("cheque", "check"),
    ("tyre", "tire"),
    ("tyres", "tires"),
    ("plough", "plow"),
    ("draught", "draft"),
    ("amongst", "among"),
    ("whilst", "while"),
    ("encyclopaedia", "encyclopedia"),
    ("paediatric", "pediatric"),
    ("anaemia", "anemia"),
    ("aeroplane", "airplane"),
    ("mum", "mom"),
    ("gaol", "jail"),
];

/// A web or mail address as it is read aloud: "www.example.org" ->
/// "w w w dot example dot org", "info@example.org" -> "info at example dot
/// org", "example.org/about" -> "... slash about". Initials ("U.S.", "e.g.")
/// are not addresses: every part must have two characters or more and the
/// last a top-level domain's letters.
fn address_tokens(word: &str) -> Option<Vec<String>> {
    let w = word
        .trim_start_matches(['(', '<', '"', '“'])
        .trim_end_matches(['.', ',', ';', ':', ')', '>', '"', '”', '!', '?'])
        .to_lowercase();
    let w = w
        .strip_prefix("https://")
        .or_else(|| w.strip_prefix("http://"))
        .unwrap_or(&w);
    let host = w.split('/').next().unwrap_or_default();
    let (user, domain) = match host.split_once('@') {
        Some((u, d)) => (Some(u), d),
        None => (None, host),
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let is_label =
        |l: &&str| l.len() >= 2 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let tld = labels.last()?;
    if labels.len() < 2
        || !labels.iter().all(is_label)
        || !(2..=6).contains(&tld.len())
        || !tld.chars().all(|c| c.is_ascii_alphabetic())
    {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let say = |part: &str, out: &mut Vec<String>| {
        if part == "www" {
            out.extend(["w", "w", "w"].map(String::from));
        } else {
            out.extend(part.split('-').filter(|p| !p.is_empty()).map(String::from));
        }
    };
    if let Some(user) = user {
        user.split('.').enumerate().for_each(|(k, p)| {
            if k > 0 {
                out.push("dot".into());
            }
            say(p, &mut out);
        });
        out.push("at".into());
    }
    for (k, label) in labels.iter().enumerate() {
        if k > 0 {
            out.push("dot".into());
        }
        say(label, &mut out);
    }
    for segment in w.split('/').skip(1).filter(|p| !p.is_empty()) {
        out.push("slash".into());
        say(segment, &mut out);
    }
    Some(out)
}

/// The whole text as comparison tokens (for WER).
pub fn text_tokens(text: &str) -> Vec<String> {
    let raw: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '—' || c == '–')
        .flat_map(tokens)
        .collect();
    spoken_numbers(&raw).into_iter().map(|(t, _)| t).collect()
}

const UNITS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: &[&str] = &[
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const TENS_PLURAL: &[&str] = &[
    "",
    "",
    "twenties",
    "thirties",
    "forties",
    "fifties",
    "sixties",
    "seventies",
    "eighties",
    "nineties",
];
const ORDINALS: &[&str] = &[
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];
const TENS_ORDINAL: &[&str] = &[
    "",
    "",
    "twentieth",
    "thirtieth",
    "fortieth",
    "fiftieth",
    "sixtieth",
    "seventieth",
    "eightieth",
    "ninetieth",
];

fn small(word: &str) -> Option<u64> {
    UNITS.iter().position(|&u| u == word).map(|v| v as u64)
}

fn tens(word: &str) -> Option<u64> {
    TENS.iter()
        .position(|&t| !t.is_empty() && t == word)
        .map(|v| v as u64 * 10)
}

fn ordinal_suffix(n: u64) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// A number of 1 to 99 spoken as one or two words ("seventeen", "eighty four").
fn two_digit(t: &[String], i: usize) -> Option<(u64, usize)> {
    let w = t.get(i)?;
    if let Some(v) = small(w).filter(|&v| v >= 10) {
        return Some((v, 1));
    }
    let v = tens(w)?;
    match t
        .get(i + 1)
        .and_then(|u| small(u))
        .filter(|&u| (1..10).contains(&u))
    {
        Some(u) => Some((v + u, 2)),
        None => Some((v, 1)),
    }
}

/// Parses the number words at `t[i..]`: (text, tokens used).
fn parse_number(t: &[String], i: usize) -> Option<(String, usize)> {
    // Years and decades read in pairs: "nineteen seventeen", "nineteen oh five",
    // "twenty twenty two", "nineteen twenties".
    if let Some((hi, n)) = two_digit(t, i).filter(|&(v, _)| v >= 10) {
        let j = i + n;
        if let Some(w) = t.get(j) {
            if let Some(d) = TENS_PLURAL.iter().position(|&p| !p.is_empty() && p == w) {
                return Some((format!("{}{}s", hi, d * 10), n + 1));
            }
            if w == "oh" {
                if let Some(u) = t
                    .get(j + 1)
                    .and_then(|u| small(u))
                    .filter(|&u| (1..10).contains(&u))
                {
                    return Some((format!("{hi}0{u}"), n + 2));
                }
            }
            if !matches!(w.as_str(), "hundred" | "thousand") {
                if let Some((lo, m)) = two_digit(t, j).filter(|&(v, _)| v >= 10) {
                    if !t
                        .get(j + m)
                        .is_some_and(|x| matches!(x.as_str(), "hundred" | "thousand"))
                    {
                        return Some((format!("{}", hi * 100 + lo), n + m));
                    }
                }
            }
        }
    }
    let mut total = 0u64;
    let mut current = 0u64;
    let mut used = 0usize;
    let mut any = false;
    while let Some(w) = t.get(i + used) {
        if let Some(v) = small(w) {
            if any && !current.is_multiple_of(100) && !current.is_multiple_of(10) {
                break; // "two three" is two numbers
            }
            current += v;
        } else if let Some(v) = tens(w) {
            if any && !current.is_multiple_of(100) {
                break;
            }
            current += v;
        } else if w == "hundred" && any && !current.is_multiple_of(100) && current < 100 {
            current *= 100;
        } else if w == "hundred" && !any && used == 0 {
            break;
        } else if w == "thousand" && any {
            total += current.max(1) * 1000;
            current = 0;
        } else if w == "and"
            && any
            && current.is_multiple_of(100)
            && t.get(i + used + 1)
                .is_some_and(|n| small(n).is_some() || tens(n).is_some())
        {
            // "one hundred and five"
        } else {
            break;
        }
        any = true;
        used += 1;
    }
    // Ordinals end a number: "twenty first", "first".
    if let Some(w) = t.get(i + used) {
        let ord = ORDINALS
            .iter()
            .position(|&o| o == w)
            .map(|v| v as u64)
            .or_else(|| {
                TENS_ORDINAL
                    .iter()
                    .position(|&o| !o.is_empty() && o == w)
                    .map(|v| v as u64 * 10)
            });
        if let Some(v) = ord {
            if !any || current.is_multiple_of(10) {
                let n = total + current + v;
                return Some((format!("{n}{}", ordinal_suffix(n)), used + 1));
            }
        }
    }
    if !any {
        return None;
    }
    let mut text = (total + current).to_string();
    // "eight point six": decimals are read digit by digit.
    if t.get(i + used).is_some_and(|w| w == "point") {
        let digits: String = t[i + used + 1..]
            .iter()
            .map_while(|w| small(w).filter(|&v| v < 10))
            .map(|v| char::from(b'0' + v as u8))
            .collect();
        if !digits.is_empty() {
            text.push('.');
            text.push_str(&digits);
            used += 1 + digits.len();
        }
    }
    Some((text, used))
}

/// Turns runs of number words into digits. Each output token carries the
/// range of input tokens it stands for.
pub fn spoken_numbers(tokens: &[String]) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let Some(d) = TENS_PLURAL
            .iter()
            .position(|&p| !p.is_empty() && p == tokens[i])
        {
            out.push((format!("{}s", d * 10), i..i + 1));
            i += 1;
            continue;
        }
        match parse_number(tokens, i) {
            Some((text, used)) if used > 0 => {
                out.push((text, i..i + used));
                i += used;
            }
            _ => {
                out.push((tokens[i].clone(), i..i + 1));
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken(text: &str) -> Vec<String> {
        text_tokens(text)
    }

    #[test]
    fn numbers_in_words_become_digits() {
        let cases: &[(&str, &str)] = &[
            ("in nineteen seventeen", "in 1917"),
            ("in 1917", "in 1917"),
            ("nineteen oh five", "1905"),
            ("twenty twenty two", "2022"),
            (
                "eight point six million square miles",
                "8.6 million square miles",
            ),
            ("8.6 million", "8.6 million"),
            ("twenty percent", "20 percent"),
            ("20%", "20 percent"),
            ("the twenty first century", "the 21st century"),
            ("the 21st century", "the 21st century"),
            ("first", "1st"),
            ("one hundred and five", "105"),
            ("three thousand two hundred", "3200"),
            ("3,200", "3200"),
            ("two hundred eighty nine million", "289 million"),
            ("the nineteen twenties", "the 1920s"),
            ("the forties", "the 40s"),
            ("eleven time zones", "11 time zones"),
            ("one sixth of the planet", "1 6th of the planet"),
            ("sixty nine years", "69 years"),
            ("the one who", "the 1 who"),
            (
                "seventy percent good, thirty percent bad",
                "70 percent good 30 percent bad",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(spoken(input).join(" "), *want, "{input}");
        }
    }

    #[test]
    fn number_tokens_keep_their_sources() {
        let raw: Vec<String> = "in nineteen seventeen we"
            .split(' ')
            .map(str::to_string)
            .collect();
        let out = spoken_numbers(&raw);
        assert_eq!(
            out,
            vec![
                ("in".to_string(), 0..1),
                ("1917".to_string(), 1..3),
                ("we".to_string(), 3..4)
            ]
        );
    }

    #[test]
    fn addresses_read_aloud() {
        let cases: &[(&str, &str)] = &[
            ("www.example.org", "w w w dot example dot org"),
            ("w w w dot example dot org", "w w w dot example dot org"),
            ("(socialistrevolution.org).", "socialistrevolution dot org"),
            (
                "https://www.marxist.com/about",
                "w w w dot marxist dot com slash about",
            ),
            ("info@example.co.uk", "info at example dot co dot uk"),
            ("U.S.", "us"),
            ("e.g.", "eg"),
            ("8.6", "8.6"),
            ("end.", "end"),
        ];
        for (input, want) in cases {
            assert_eq!(spoken(input).join(" "), *want, "{input}");
        }
    }

    #[test]
    fn british_and_american_spellings_compare_equal() {
        for (gb, us) in [
            ("centre", "center"),
            ("theatre", "theater"),
            ("amongst", "among"),
        ] {
            assert_eq!(spoken(gb), spoken(us));
        }
        // One letter apart: similar enough for the aligner as they are.
        for (gb, us) in [
            ("colour", "color"),
            ("organise", "organize"),
            ("defence", "defense"),
        ] {
            assert!(
                crate::align::dp::similar(&spoken(gb)[0], &spoken(us)[0]),
                "{gb}"
            );
        }
    }

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
