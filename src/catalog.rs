//! Catalogs: the episodes of a run over many. A folder (each audio file
//! paired with the transcript of the same file stem: `ep042.mp3` +
//! `ep042.txt|.md|.html`) or a manifest, CSV with a header row or JSON
//! Lines, with the fields `id`, `audio`, `transcript` and `out` (only
//! `audio` is required; relative paths are relative to the manifest's
//! folder).
//!
//! A bad entry (an unreadable row, a duplicate id, a missing file) is kept
//! with its problem and its line number, so it fails alone; only a catalog
//! that cannot be read at all is an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog '{path}' cannot be read: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error("catalog '{path}' {detail}")]
    Format { path: PathBuf, detail: String },
    #[error("catalog '{path}' lists no episodes; {hint}")]
    Empty { path: PathBuf, hint: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unique in the catalog; names the outputs. Defaults to the audio's file stem.
    pub id: String,
    pub audio: PathBuf,
    pub transcript: Option<PathBuf>,
    /// Output folder of this episode, if the manifest gives one.
    pub out: Option<PathBuf>,
    /// Where it is listed: "catalog.csv:12", or the folder.
    pub origin: String,
    /// Why this entry cannot run; it fails alone.
    pub problem: Option<String>,
}

const AUDIO_EXTENSIONS: &[&str] = &["mp3", "m4a", "mp4", "aac", "flac", "wav", "ogg", "oga"];
const TRANSCRIPT_EXTENSIONS: &[&str] = &["txt", "md", "markdown", "html", "htm"];

/// Whether `path` names a catalog rather than one audio file.
pub fn is_catalog(path: &Path) -> bool {
    path.is_dir() || manifest_kind(path).is_some()
}

#[derive(Clone, Copy)]
enum Manifest {
    Csv,
    JsonLines,
}

fn manifest_kind(path: &Path) -> Option<Manifest> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" => Some(Manifest::Csv),
        "jsonl" | "ndjson" => Some(Manifest::JsonLines),
        _ => None,
    }
}

/// Reads a catalog folder or manifest.
pub fn read(path: &Path) -> Result<Vec<Entry>, CatalogError> {
    let mut entries = if path.is_dir() {
        read_folder(path)?
    } else {
        let kind = manifest_kind(path).ok_or_else(|| CatalogError::Format {
            path: path.into(),
            detail: "is neither a folder nor a manifest; name a folder, a .csv or a .jsonl file"
                .into(),
        })?;
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Open {
            path: path.into(),
            detail: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rows = match kind {
            Manifest::Csv => csv_rows(path, &text)?,
            Manifest::JsonLines => json_rows(&text),
        };
        let name = path.display().to_string();
        rows.into_iter()
            .map(|(line, row)| entry_of_row(&name, base, line, row))
            .collect()
    };
    if entries.is_empty() {
        return Err(CatalogError::Empty {
            path: path.into(),
            hint: if path.is_dir() {
                "put audio files (MP3, M4A, FLAC, WAV, OGG) in it, each with its transcript of the same name"
            } else {
                "add one row per episode, with at least an audio column"
            },
        });
    }
    mark_bad_ids(&mut entries);
    mark_duplicates(&mut entries);
    Ok(entries)
}

fn read_folder(dir: &Path) -> Result<Vec<Entry>, CatalogError> {
    let open = |e: std::io::Error| CatalogError::Open {
        path: dir.into(),
        detail: e.to_string(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(open)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let ext_of = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default()
    };
    let origin = dir.display().to_string();
    Ok(files
        .iter()
        .filter(|p| AUDIO_EXTENSIONS.contains(&ext_of(p).as_str()))
        .map(|audio| {
            let stem = audio
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let transcript = TRANSCRIPT_EXTENSIONS
                .iter()
                .map(|e| dir.join(format!("{stem}.{e}")))
                .find(|t| t.is_file());
            Entry {
                id: stem,
                audio: audio.clone(),
                transcript,
                out: None,
                origin: origin.clone(),
                problem: None,
            }
        })
        .collect())
}

/// A manifest row: its 1-based line and its fields, or why it is unreadable.
type Row = (usize, Result<HashMap<String, String>, String>);

fn csv_rows(path: &Path, text: &str) -> Result<Vec<Row>, CatalogError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| CatalogError::Format {
            path: path.into(),
            detail: format!("has no readable header row: {e}"),
        })?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    if !header.iter().any(|h| h == "audio") {
        return Err(CatalogError::Format {
            path: path.into(),
            detail: format!(
                "has no 'audio' column (its header is '{}'); the first row names the columns: id,audio,transcript,out",
                header.join(",")
            ),
        });
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line() as usize);
                if r.iter().all(str::is_empty) {
                    continue;
                }
                let fields = header
                    .iter()
                    .cloned()
                    .zip(r.iter().map(str::to_owned))
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                rows.push((line, Ok(fields)));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                rows.push((line, Err(format!("unreadable row: {e}"))));
            }
        }
    }
    Ok(rows)
}

fn json_rows(text: &str) -> Vec<Row> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let row = serde_json::from_str::<HashMap<String, serde_json::Value>>(l)
                .map_err(|e| format!("unreadable row: {e}"))
                .and_then(|m| {
                    m.into_iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| match v {
                            serde_json::Value::String(s) => Ok((k.to_ascii_lowercase(), s)),
                            other => Err(format!("field '{k}' is {other}, not a string")),
                        })
                        .collect()
                });
            (i + 1, row)
        })
        .collect()
}

fn entry_of_row(
    manifest: &str,
    base: &Path,
    line: usize,
    row: Result<HashMap<String, String>, String>,
) -> Entry {
    let origin = format!("{manifest}:{line}");
    let path_of = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let broken = |id: String, problem: String| Entry {
        id,
        audio: PathBuf::new(),
        transcript: None,
        out: None,
        origin: origin.clone(),
        problem: Some(format!("{origin}: {problem}")),
    };
    let fields = match row {
        Ok(f) => f,
        Err(e) => return broken(format!("line-{line}"), e),
    };
    let Some(audio) = fields.get("audio").map(|a| path_of(a)) else {
        let id = fields
            .get("id")
            .cloned()
            .unwrap_or_else(|| format!("line-{line}"));
        return broken(id, "no audio given; every row needs an audio file".into());
    };
    let id = fields.get("id").cloned().unwrap_or_else(|| {
        audio
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("line-{line}"))
    });
    let transcript = fields.get("transcript").map(|t| path_of(t));
    let problem = if !audio.is_file() {
        Some(format!(
            "{origin}: audio file '{}' not found",
            audio.display()
        ))
    } else {
        transcript
            .as_ref()
            .filter(|t| !t.is_file())
            .map(|t| format!("{origin}: transcript '{}' not found", t.display()))
    };
    Entry {
        id,
        audio,
        transcript,
        out: fields.get("out").map(|o| path_of(o)),
        origin,
        problem,
    }
}

/// An id names the episode's output files: it must be a plain file name.
fn mark_bad_ids(entries: &mut [Entry]) {
    for e in entries.iter_mut().filter(|e| e.problem.is_none()) {
        let plain = !e.id.is_empty()
            && !e.id.starts_with('.')
            && !e.id.contains(['/', '\\', '\0'])
            && !e.id.chars().any(char::is_control);
        if !plain {
            e.problem = Some(format!(
                "{}: id '{}' cannot name output files; use letters, digits, '-', '_' or '.', not starting with '.'",
                e.origin, e.id
            ));
        }
    }
}

/// The second and later entries with an id already taken fail, naming the first.
fn mark_duplicates(entries: &mut [Entry]) {
    let mut first: HashMap<String, String> = HashMap::new();
    for e in entries.iter_mut() {
        match first.get(&e.id) {
            Some(origin) if e.problem.is_none() => {
                e.problem = Some(format!(
                    "{}: duplicate id '{}' (first at {origin}); give each episode its own id",
                    e.origin, e.id
                ));
            }
            Some(_) => {}
            None => {
                first.insert(e.id.clone(), e.origin.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_rows_with_their_problems() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.mp3"), b"x").unwrap();
        std::fs::write(dir.path().join("a.txt"), b"x").unwrap();
        let csv = dir.path().join("c.csv");
        std::fs::write(
            &csv,
            "id,audio,transcript\nep1,a.mp3,a.txt\nep1,a.mp3,a.txt\nep3,missing.mp3,\n,a.mp3,gone.txt\n../up,a.mp3,a.txt\n",
        )
        .unwrap();
        let e = read(&csv).unwrap();
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].problem, None);
        assert_eq!(e[0].audio, dir.path().join("a.mp3"));
        assert!(
            e[1].problem
                .as_ref()
                .unwrap()
                .contains("duplicate id 'ep1'"),
            "{:?}",
            e[1]
        );
        assert!(e[1].problem.as_ref().unwrap().contains("c.csv:3"));
        assert!(e[2]
            .problem
            .as_ref()
            .unwrap()
            .contains("c.csv:4: audio file"));
        assert_eq!(e[3].id, "a");
        assert!(e[3].problem.as_ref().unwrap().contains("transcript"));
        assert!(e[4]
            .problem
            .as_ref()
            .unwrap()
            .contains("c.csv:6: id '../up' cannot name"));

        let jsonl = dir.path().join("c.jsonl");
        std::fs::write(
            &jsonl,
            "{\"audio\": \"a.mp3\", \"transcript\": \"a.txt\"}\n\nnot json\n",
        )
        .unwrap();
        let e = read(&jsonl).unwrap();
        assert_eq!(e[0].id, "a");
        assert_eq!(e[0].problem, None);
        assert!(e[1]
            .problem
            .as_ref()
            .unwrap()
            .contains("c.jsonl:3: unreadable row"));

        let bad = dir.path().join("b.csv");
        std::fs::write(&bad, "file,text\na.mp3,a.txt\n").unwrap();
        assert!(read(&bad)
            .unwrap_err()
            .to_string()
            .contains("no 'audio' column"));
    }

    #[test]
    fn folder_pairs_by_stem() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["ep1.mp3", "ep1.md", "ep2.wav", "notes.pdf"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let e = read(dir.path()).unwrap();
        let ids: Vec<_> = e.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["ep1", "ep2"]);
        assert_eq!(e[0].transcript, Some(dir.path().join("ep1.md")));
        assert_eq!(e[1].transcript, None);
    }
}
