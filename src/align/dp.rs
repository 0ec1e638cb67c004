//! Token sequence alignment: unique n-gram anchors + Needleman-Wunsch between them.

use std::collections::HashMap;

/// Largest DP table (cells) built at once; larger stretches are cut at anchors first.
const MAX_DP_CELLS: usize = 4_000_000;
const MATCH: i32 = 2;
const NEAR: i32 = 1;
const MISMATCH: i32 = -1;
/// Each unpaired token, and once per run of them.
const GAP: i32 = -1;
const GAP_OPEN: i32 = -1;

/// Same word for matching purposes: equal, or a small spelling difference.
pub fn similar(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la.min(lb) < 4 {
        return false;
    }
    let d = levenshtein(a, b);
    d * 4 <= la.max(lb)
}

/// Sounds alike enough to be a mishearing ("leeched" / "leech",
/// "proletarian" / "proterion"): at most half the letters differ.
pub fn resembles(a: &str, b: &str) -> bool {
    let (la, lb) = (a.chars().count(), b.chars().count());
    a == b || (la.min(lb) >= 4 && levenshtein(a, b) * 2 <= la.max(lb))
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    edit_distance(&a, &b)
}

fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A rough key of how words sound: consonants by Soundex's classes (b f p v,
/// c g j k q s x z, d t, l, m n, r), each run of vowels one mark, repeats
/// collapsed; h, w, digits and spaces dropped.
fn sound_key<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut key = Vec::new();
    for c in words
        .into_iter()
        .flat_map(str::chars)
        .flat_map(char::to_lowercase)
    {
        let class = match c {
            'b' | 'f' | 'p' | 'v' => b'1',
            'c' | 'g' | 'j' | 'k' | 'q' | 's' | 'x' | 'z' => b'2',
            'd' | 't' => b'3',
            'l' => b'4',
            'm' | 'n' => b'5',
            'r' => b'6',
            'a' | 'e' | 'i' | 'o' | 'u' | 'y' => b'a',
            _ => continue,
        };
        if key.last() != Some(&class) {
            key.push(class);
        }
    }
    key
}

/// Shortest sound key judged: shorter stretches resemble each other by chance.
const MIN_SOUND_KEY: usize = 8;
/// Keys differing in at most this share of places sound alike. Unrelated
/// stretches of English (5-16 words, from the sample transcript) differ in a
/// median 54%, and 1 pair in 200 in 41% or less; misheard speech ("are
/// Stalinism, Leninism" / "a Stalin in a minimum") in about 30%.
const MAX_SOUND_DIFFERENCE: f64 = 0.40;

/// Two stretches of words sound alike: one is most likely the other misheard,
/// not other speech.
pub fn sounds_alike<'a>(
    a: impl IntoIterator<Item = &'a str>,
    b: impl IntoIterator<Item = &'a str>,
) -> bool {
    let (a, b) = (sound_key(a), sound_key(b));
    let longest = a.len().max(b.len());
    a.len().min(b.len()) >= MIN_SOUND_KEY
        && edit_distance(&a, &b) as f64 <= MAX_SOUND_DIFFERENCE * longest as f64
}

fn score(a: &str, b: &str) -> i32 {
    if a == b {
        MATCH
    } else if similar(a, b) {
        NEAR
    } else {
        MISMATCH
    }
}

/// Pairs `(i, j)` of `t[i]` aligned with `r[j]`, in increasing order of both.
pub fn align_tokens(t: &[&str], r: &[&str]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    align_range(t, r, 0..t.len(), 0..r.len(), 4, &mut out);
    out
}

fn align_range(
    t: &[&str],
    r: &[&str],
    tr: std::ops::Range<usize>,
    rr: std::ops::Range<usize>,
    n: usize,
    out: &mut Vec<(usize, usize)>,
) {
    if tr.is_empty() || rr.is_empty() {
        return;
    }
    if tr.len() * rr.len() <= MAX_DP_CELLS || n == 0 {
        needleman_wunsch(t, r, tr, rr, out);
        return;
    }
    let anchors = chain(unique_ngram_pairs(t, r, tr.clone(), rr.clone(), n), n);
    if anchors.is_empty() {
        return align_range(t, r, tr, rr, n - 1, out);
    }
    let (mut ti, mut rj) = (tr.start, rr.start);
    for &(a, b) in &anchors {
        align_range(t, r, ti..a, rj..b, n, out);
        for k in 0..n {
            out.push((a + k, b + k));
        }
        ti = a + n;
        rj = b + n;
    }
    align_range(t, r, ti..tr.end, rj..rr.end, n, out);
}

/// Positions of n-grams that occur exactly once in each range.
fn unique_ngram_pairs(
    t: &[&str],
    r: &[&str],
    tr: std::ops::Range<usize>,
    rr: std::ops::Range<usize>,
    n: usize,
) -> Vec<(usize, usize)> {
    fn index<'s>(
        s: &'s [&'s str],
        range: std::ops::Range<usize>,
        n: usize,
    ) -> HashMap<&'s [&'s str], (usize, u32)> {
        let mut m: HashMap<&[&str], (usize, u32)> = HashMap::new();
        if range.len() >= n {
            for i in range.start..=range.end - n {
                let e = m.entry(&s[i..i + n]).or_insert((i, 0));
                e.1 += 1;
            }
        }
        m
    }
    let ti = index(t, tr, n);
    let ri = index(r, rr, n);
    let mut pairs: Vec<(usize, usize)> = ti
        .iter()
        .filter(|(_, &(_, c))| c == 1)
        .filter_map(|(k, &(i, _))| ri.get(k).filter(|&&(_, c)| c == 1).map(|&(j, _)| (i, j)))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// Longest chain of non-overlapping anchors increasing on both sides (patience LIS).
fn chain(pairs: Vec<(usize, usize)>, n: usize) -> Vec<(usize, usize)> {
    // pairs are sorted by i; find the LIS on j.
    let mut tails: Vec<usize> = Vec::new(); // index into pairs
    let mut parent: Vec<Option<usize>> = vec![None; pairs.len()];
    for (k, &(_, j)) in pairs.iter().enumerate() {
        let pos = tails.partition_point(|&x| pairs[x].1 < j);
        parent[k] = pos.checked_sub(1).map(|p| tails[p]);
        if pos == tails.len() {
            tails.push(k);
        } else {
            tails[pos] = k;
        }
    }
    let mut out = Vec::new();
    let mut cur = tails.last().copied();
    while let Some(k) = cur {
        out.push(pairs[k]);
        cur = parent[k];
    }
    out.reverse();
    // Drop anchors that overlap the previous one (n-grams can overlap).
    let mut kept: Vec<(usize, usize)> = Vec::new();
    for p in out {
        if kept
            .last()
            .is_none_or(|&(a, b)| p.0 >= a + n && p.1 >= b + n)
        {
            kept.push(p);
        }
    }
    kept
}

/// Needleman-Wunsch with affine gaps (Gotoh): a run of unpaired tokens costs
/// `GAP_OPEN` once plus `GAP` per token, so text missing from one side is
/// found as one stretch, not as scattered words paired by chance with speech
/// nearby (a header's "and" with the "and" of the sentence before it).
fn needleman_wunsch(
    t: &[&str],
    r: &[&str],
    tr: std::ops::Range<usize>,
    rr: std::ops::Range<usize>,
    out: &mut Vec<(usize, usize)>,
) {
    const NEG: i32 = i32::MIN / 4;
    // States: 0 = paired (diagonal), 1 = t only (up), 2 = r only (left).
    let (n, m) = (tr.len(), rr.len());
    let w = m + 1;
    // For each cell and state, the state the best path came from.
    let mut from = vec![[0u8; 3]; (n + 1) * w];
    let mut prev = vec![[NEG; 3]; w];
    let mut cur = vec![[NEG; 3]; w];
    prev[0][0] = 0;
    for j in 1..=m {
        prev[j][2] = GAP_OPEN + j as i32 * GAP;
        from[j][2] = 2;
    }
    let best_of = |cands: [i32; 3]| -> (i32, u8) {
        let mut k = 0;
        for c in 1..3 {
            if cands[c] > cands[k] {
                k = c;
            }
        }
        (cands[k], k as u8)
    };
    for i in 1..=n {
        cur[0] = [NEG, GAP_OPEN + i as i32 * GAP, NEG];
        from[i * w][1] = 1;
        let ti = t[tr.start + i - 1];
        for j in 1..=m {
            let cell = i * w + j;
            let d = prev[j - 1];
            let (best, k) = best_of(d);
            let paired = best + score(ti, r[rr.start + j - 1]);
            let u = prev[j];
            let (up, ku) = best_of([u[0] + GAP_OPEN + GAP, u[1] + GAP, u[2] + GAP_OPEN + GAP]);
            let l = cur[j - 1];
            let (left, kl) = best_of([l[0] + GAP_OPEN + GAP, l[1] + GAP_OPEN + GAP, l[2] + GAP]);
            cur[j] = [paired, up, left];
            from[cell] = [k, ku, kl];
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (n, m);
    let mut state = best_of(prev[m]).1;
    while i > 0 || j > 0 {
        let came_from = from[i * w + j][state as usize];
        match state {
            0 => {
                pairs.push((tr.start + i - 1, rr.start + j - 1));
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
        state = came_from;
    }
    pairs.reverse();
    out.extend(pairs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misheard_stretches_sound_alike_and_other_speech_does_not() {
        let words = |s: &'static str| s.split(' ');
        // What tiny.en made of a fast Scottish voice.
        assert!(sounds_alike(
            words("are stalinism leninism trotskyism and bolshevism"),
            words("a stalin in a minimum trots kingdom im paul shimism them")
        ));
        assert!(sounds_alike(
            words("dozens of imperialist armies embargoed"),
            words("non in human a realist army a moral")
        ));
        // A sponsor read over a sentence cut from the audio.
        assert!(!sounds_alike(
            words("we should be clear stalin was the gravedigger of the russian revolution and the butcher of"),
            words("if you are enjoying this please tell a friend about")
        ));
        assert!(!sounds_alike(
            words("this year marks the 100 year anniversary of the founding of the union"),
            words(
                "before we go on a quick word from our sponsor who makes very comfortable chairs"
            )
        ));
        // Too short to tell from chance.
        assert!(!sounds_alike(words("the cat"), words("a cat")));
    }

    #[test]
    fn similar_words() {
        assert!(similar("colour", "color"));
        assert!(similar("stalinism", "stalinisms"));
        assert!(!similar("cat", "car"));
        assert!(!similar("history", "mystery"));
        assert!(resembles("leeched", "leech") && resembles("proletarian", "proterion"));
        assert!(!resembles("although", "own") && !resembles("portion", "script"));
    }

    #[test]
    fn dp_prefers_substitution_over_two_gaps() {
        let t = ["a", "b", "c"];
        let r = ["a", "x", "c"];
        assert_eq!(align_tokens(&t, &r), vec![(0, 0), (1, 1), (2, 2)]);
        let t = ["a", "b", "c", "d"];
        let r = ["a", "d"];
        assert_eq!(align_tokens(&t, &r), vec![(0, 0), (3, 1)]);
    }
}
