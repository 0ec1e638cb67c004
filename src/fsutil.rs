//! Atomic file output: everything podcap writes goes to a temporary file in
//! the destination folder and is renamed into place only when complete, so a
//! failure never leaves a half-written file or clobbers a good one.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file that appears at its path only when [`AtomicFile::commit`] is called;
/// dropped without a commit, it leaves nothing behind.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    pub fn create(path: &Path) -> io::Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix(path))
            .suffix(TEMP_SUFFIX)
            .tempfile_in(dir)?;
        Ok(Self {
            tmp,
            path: path.to_path_buf(),
        })
    }

    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Flushes to disk and renames into place (readable by all, like a normal new file).
    pub fn commit(self) -> io::Result<()> {
        let file = self.tmp.as_file();
        file.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        self.tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The temporary files of `path` are hidden and name it:
/// `.NAME.podcap-XXXXXX.tmp`, so what a killed run left of them can be found.
fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    format!(".{}.podcap-", name.unwrap_or_default())
}

const TEMP_SUFFIX: &str = ".tmp";

/// Removes what a killed process left of unfinished [`AtomicFile`]s of
/// `path` (never `path` itself). Only for a path no other process is writing.
pub fn remove_stale_temps(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = temp_prefix(path);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(TEMP_SUFFIX) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The SHA-256 of a file's bytes, in lower-case hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `path` through `fill`, atomically.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = AtomicFile::create(path)?;
    {
        let mut w = BufWriter::new(out.file());
        fill(&mut w)?;
        w.flush()?;
    }
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_leaves_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomically(&p, |w| w.write_all(b"good")).unwrap();
        let r = write_atomically(&p, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"good");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temps_of_a_file_are_found_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ep1.vtt");
        let unfinished = AtomicFile::create(&p).unwrap();
        let other = AtomicFile::create(&dir.path().join("ep10.vtt")).unwrap();
        // What a kill leaves: the temporary file, never dropped.
        std::mem::forget(unfinished);
        write_atomically(&p, |w| w.write_all(b"done")).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        remove_stale_temps(&p).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), 2, "{left:?}");
        assert_eq!(left[1], "ep1.vtt");
        assert!(left[0].starts_with(".ep10.vtt.podcap-"), "{left:?}");
        drop(other);
    }
}
