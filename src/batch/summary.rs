//! The summary of a batch: one row per episode (what happened, how long it
//! took, how well the transcript matched), as `summary.json` and
//! `summary.csv` in the output folder. A shard writes
//! `summary.shard-K-of-N.json`; [`merge`] joins the shards' into one, equal
//! to a single run's.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Shard;
use crate::Error;

pub const SCHEMA: &str = "podcap-batch-summary";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recognized, aligned and written.
    Captioned,
    /// Aligned again from the saved recognized words (the transcript or the
    /// caption settings changed).
    Realigned,
    /// The outputs were those the inputs and settings give: nothing to do.
    UpToDate,
    Failed,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Self::Captioned => "captioned",
            Self::Realigned => "realigned",
            Self::UpToDate => "up_to_date",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSummary {
    /// Index in the catalog (0-based), whatever the shard.
    pub position: usize,
    pub id: String,
    pub audio: String,
    pub transcript: Option<String>,
    pub status: Status,
    /// Decoded length (as announced by the header for an episode that failed).
    pub audio_s: f64,
    pub seconds_taken: f64,
    /// `seconds_taken / audio_s`, for episodes that were worked on.
    pub realtime_factor: Option<f64>,
    pub transcript_words: Option<usize>,
    pub words_matched: Option<usize>,
    /// Where transcript and audio disagree, as `podcap caption` lists them.
    pub disagreements: Option<usize>,
    pub outputs: Vec<String>,
    pub note: Option<String>,
    /// The one-line message of a failure, as `podcap caption` gives it.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub episodes: usize,
    pub captioned: usize,
    pub realigned: usize,
    pub up_to_date: usize,
    pub failed: usize,
    pub audio_s: f64,
    /// Wall time of the run (the sum over shards, for a merged summary).
    pub seconds_taken: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub version: u32,
    pub podcap_version: String,
    pub catalog: String,
    /// The share of the catalog this run took; `None` for all of it.
    pub shard: Option<Shard>,
    pub episodes: Vec<EpisodeSummary>,
    pub totals: Totals,
}

impl Summary {
    pub fn new(
        catalog: String,
        shard: Option<Shard>,
        mut episodes: Vec<EpisodeSummary>,
        seconds_taken: f64,
    ) -> Self {
        episodes.sort_by_key(|e| e.position);
        let count = |s: Status| episodes.iter().filter(|e| e.status == s).count();
        let totals = Totals {
            episodes: episodes.len(),
            captioned: count(Status::Captioned),
            realigned: count(Status::Realigned),
            up_to_date: count(Status::UpToDate),
            failed: count(Status::Failed),
            audio_s: episodes.iter().map(|e| e.audio_s).sum(),
            seconds_taken,
        };
        Self {
            schema: SCHEMA.into(),
            version: VERSION,
            podcap_version: env!("CARGO_PKG_VERSION").into(),
            catalog,
            shard,
            episodes,
            totals,
        }
    }

    pub fn failed(&self) -> impl Iterator<Item = &EpisodeSummary> {
        self.episodes.iter().filter(|e| e.status == Status::Failed)
    }

    /// `summary` (or `summary.shard-K-of-N`) without its extension.
    pub fn file_stem(&self) -> String {
        match self.shard {
            None => "summary".into(),
            Some(s) => format!("summary.shard-{}-of-{}", s.index, s.count),
        }
    }

    /// Writes the JSON and CSV summaries into `dir`, each atomically;
    /// returns their paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let stem = self.file_stem();
        let json = serde_json::to_vec_pretty(self).expect("a summary serializes");
        let files = [
            (dir.join(format!("{stem}.json")), json),
            (dir.join(format!("{stem}.csv")), self.csv()),
        ];
        for (path, bytes) in &files {
            crate::fsutil::remove_stale_temps(path)
                .and_then(|()| crate::fsutil::write_atomically(path, |w| w.write_all(bytes)))
                .map_err(|e| Error::Output {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
        }
        Ok(files.into_iter().map(|(p, _)| p).collect())
    }

    /// One row per episode, for a spreadsheet.
    pub fn csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = [
            "position",
            "id",
            "status",
            "audio_s",
            "seconds_taken",
            "realtime_factor",
            "transcript_words",
            "words_matched",
            "disagreements",
            "audio",
            "transcript",
            "outputs",
            "note",
            "error",
        ];
        w.write_record(header).expect("in memory");
        let opt = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_default();
        for e in &self.episodes {
            w.write_record([
                e.position.to_string(),
                e.id.clone(),
                e.status.name().to_string(),
                format!("{:.1}", e.audio_s),
                format!("{:.1}", e.seconds_taken),
                e.realtime_factor
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_default(),
                opt(e.transcript_words),
                opt(e.words_matched),
                opt(e.disagreements),
                e.audio.clone(),
                e.transcript.clone().unwrap_or_default(),
                e.outputs.join(";"),
                e.note.clone().unwrap_or_default(),
                e.error.clone().unwrap_or_default(),
            ])
            .expect("in memory");
        }
        w.into_inner().expect("in memory")
    }
}

/// Joins the summaries of a sharded run: every `summary.shard-K-of-N.json`
/// in `dirs`, which must be the N shards of one catalog, each once.
pub fn merge(dirs: &[PathBuf]) -> Result<Summary, Error> {
    let mut shards: Vec<(PathBuf, Summary)> = Vec::new();
    for dir in dirs {
        let listing = std::fs::read_dir(dir).map_err(|e| {
            Error::Usage(format!(
                "cannot read the folder '{}': {e}; name the --out folders of the shard runs",
                dir.display()
            ))
        })?;
        let mut found: Vec<PathBuf> = listing
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("summary.shard-") && n.ends_with(".json"))
            })
            .collect();
        found.sort();
        for path in found {
            let bad = |detail: String| {
                Error::Usage(format!(
                    "'{}' is not a podcap batch summary: {detail}",
                    path.display()
                ))
            };
            let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
            let summary: Summary =
                serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
            if summary.schema != SCHEMA || summary.version != VERSION {
                return Err(bad(format!(
                    "schema {} version {}, this podcap reads {SCHEMA} version {VERSION}",
                    summary.schema, summary.version
                )));
            }
            shards.push((path, summary));
        }
    }
    let Some(count) = shards.first().and_then(|(_, s)| s.shard).map(|s| s.count) else {
        return Err(Error::Usage(format!(
            "no shard summaries (summary.shard-K-of-N.json) in {}; run podcap batch --shard K/N --out DIR first",
            dirs.iter()
                .map(|d| format!("'{}'", d.display()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let mut seen: Vec<Option<&Path>> = vec![None; count];
    for (path, s) in &shards {
        let shard = s.shard.expect("shard files name their shard");
        if shard.count != count {
            return Err(Error::Usage(format!(
                "'{}' is shard {shard} but '{}' is of {count} shards; merge the shards of one run",
                path.display(),
                shards[0].0.display()
            )));
        }
        if let Some(first) = seen[shard.index] {
            return Err(Error::Usage(format!(
                "shard {shard} is given twice: '{}' and '{}'",
                first.display(),
                path.display()
            )));
        }
        seen[shard.index] = Some(path);
    }
    let missing: Vec<String> = (0..count)
        .filter(|&k| seen[k].is_none())
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "shard(s) {} missing; run them (podcap batch --shard K/N) or name their folders too",
            missing.join(", ")
        )));
    }
    let mut ids = std::collections::HashSet::new();
    for (path, s) in &shards {
        for e in &s.episodes {
            if !ids.insert(e.id.as_str()) {
                return Err(Error::Usage(format!(
                    "episode '{}' is in two shards (again in '{}'); were the shards run on different catalogs?",
                    e.id,
                    path.display()
                )));
            }
        }
    }
    let seconds_taken = shards.iter().map(|(_, s)| s.totals.seconds_taken).sum();
    let catalog = shards[0].1.catalog.clone();
    let episodes = shards.into_iter().flat_map(|(_, s)| s.episodes).collect();
    Ok(Summary::new(catalog, None, episodes, seconds_taken))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn episode(position: usize, id: &str, status: Status) -> EpisodeSummary {
        EpisodeSummary {
            position,
            id: id.into(),
            audio: format!("{id}.mp3"),
            transcript: None,
            status,
            audio_s: 60.0,
            seconds_taken: 10.0,
            realtime_factor: Some(1.0 / 6.0),
            transcript_words: Some(100),
            words_matched: Some(99),
            disagreements: Some(1),
            outputs: vec![],
            note: None,
            error: (status == Status::Failed).then(|| "audio, not really".into()),
        }
    }

    #[test]
    fn shard_summaries_merge_into_the_whole_and_refuse_gaps_and_repeats() {
        let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let all = [
            episode(0, "a", Status::Captioned),
            episode(1, "b", Status::Failed),
            episode(2, "c", Status::UpToDate),
            episode(3, "d", Status::Captioned),
        ];
        let owners = [2, 0, 2, 1];
        for (k, dir) in dirs.iter().enumerate() {
            let mine = (0..4)
                .filter(|&i| owners[i] == k)
                .map(|i| all[i].clone())
                .collect();
            let shard = Shard { index: k, count: 3 };
            Summary::new("cat".into(), Some(shard), mine, 5.0)
                .write(dir.path())
                .unwrap();
        }
        let paths: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
        let merged = merge(&paths).unwrap();
        assert_eq!(merged, Summary::new("cat".into(), None, all.to_vec(), 15.0));
        assert_eq!(merged.totals.failed, 1);

        let err = merge(&paths[..2]).unwrap_err().to_string();
        assert!(err.contains("shard(s) 2/3 missing"), "{err}");
        let twice = [paths.clone(), vec![paths[0].clone()]].concat();
        let err = merge(&twice).unwrap_err().to_string();
        assert!(err.contains("given twice"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = merge(&[empty.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no shard summaries"), "{err}");
    }

    #[test]
    fn the_csv_has_a_row_per_episode_with_its_error() {
        let s = Summary::new(
            "cat".into(),
            None,
            vec![
                episode(1, "b", Status::Failed),
                episode(0, "a", Status::Captioned),
            ],
            1.0,
        );
        let text = String::from_utf8(s.csv()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("0,a,captioned,60.0,"), "{}", lines[1]);
        assert!(lines[2].starts_with("1,b,failed,"), "{}", lines[2]);
        assert!(lines[2].ends_with(",\"audio, not really\""), "{}", lines[2]);
    }
}
