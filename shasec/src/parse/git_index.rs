//! The paths tracked in a git repository: `git ls-files` when git is installed (it resolves
//! split and sparse indexes), else `.git/index` read here (versions 2, 3 and 4).
//!
//! The fallback reader is hand-written rather than gitoxide's index crate: we need only the
//! path list, and the crate brings a large dependency tree. An index it cannot fully read (split
//! or sparse) is an error, reported as a finding, never a shorter list.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IndexError(String);

fn error(message: impl Into<String>) -> IndexError {
    IndexError(message.into())
}

/// The git directory of a work tree at `root`: `.git/`, or where a `.git` file points (worktrees,
/// submodules). `None` when `root` is not the top of a work tree.
pub fn git_dir(root: &Path) -> Option<PathBuf> {
    let dot_git = root.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let target = text.trim().strip_prefix("gitdir:")?.trim();
    let path = Path::new(target);
    Some(if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    })
}

/// Object ids are 32 bytes in SHA-256 repositories, 20 otherwise.
pub fn hash_length(git_dir: &Path) -> usize {
    let config = std::fs::read_to_string(git_dir.join("config")).unwrap_or_default();
    let sha256 = config.lines().any(|line| {
        let line = line.trim().to_ascii_lowercase();
        line.starts_with("objectformat") && line.ends_with("sha256")
    });
    if sha256 { 32 } else { 20 }
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], IndexError> {
        let end = self
            .position
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| error("index is truncated"))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, IndexError> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u16(&mut self) -> Result<u16, IndexError> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn until_nul(&mut self) -> Result<&'a [u8], IndexError> {
        let rest = &self.bytes[self.position..];
        let length = rest
            .iter()
            .position(|byte| *byte == 0)
            .ok_or_else(|| error("unterminated path in index"))?;
        self.position += length + 1;
        Ok(&rest[..length])
    }

    /// Git's offset varint (index v4 path compression).
    fn varint(&mut self) -> Result<usize, IndexError> {
        let mut byte = self.take(1)?[0];
        let mut value = usize::from(byte & 0x7f);
        while byte & 0x80 != 0 {
            byte = self.take(1)?[0];
            value = value
                .checked_add(1)
                .and_then(|v| v.checked_mul(128))
                .map(|v| v | usize::from(byte & 0x7f))
                .ok_or_else(|| error("index varint overflows"))?;
        }
        Ok(value)
    }
}

/// Paths (with `/` separators, relative to the work tree) of every entry in an index file.
pub fn parse(bytes: &[u8], hash_length: usize) -> Result<Vec<String>, IndexError> {
    let mut reader = Reader { bytes, position: 0 };
    if reader.take(4)? != b"DIRC" {
        return Err(error("not a git index (bad signature)"));
    }
    let version = reader.u32()?;
    if !(2..=4).contains(&version) {
        return Err(error(format!("unsupported git index version {version}")));
    }
    let count = reader.u32()?;
    let mut paths = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 20));
    let mut previous: Vec<u8> = Vec::new();
    for _ in 0..count {
        let start = reader.position;
        // ctime, mtime (seconds + nanoseconds each), dev, ino, mode, uid, gid, size: 40 bytes.
        let stat = reader.take(40)?;
        let mode = u32::from_be_bytes([stat[24], stat[25], stat[26], stat[27]]);
        if mode & 0o170000 == 0o040000 {
            return Err(error(
                "sparse index (directory entries): install git so `git ls-files` can expand it",
            ));
        }
        reader.take(hash_length)?;
        let flags = reader.u16()?;
        if version >= 3 && flags & 0x4000 != 0 {
            reader.u16()?;
        }
        let path = if version == 4 {
            let strip = reader.varint()?;
            let keep = previous
                .len()
                .checked_sub(strip)
                .ok_or_else(|| error("index path prefix is longer than the previous path"))?;
            let mut path = previous[..keep].to_vec();
            path.extend_from_slice(reader.until_nul()?);
            path
        } else {
            let path = reader.until_nul()?.to_vec();
            // Entries are padded with 1–8 NULs to a multiple of 8 bytes; one NUL was read.
            let length = reader.position - start;
            let padding = (8 - length % 8) % 8;
            reader.take(padding)?;
            path
        };
        paths.push(String::from_utf8_lossy(&path).into_owned());
        previous = path;
    }
    // Extensions follow the entries (the trailing hash is not one); `link` means most entries
    // live in a shared index file.
    while reader.bytes.len() - reader.position > hash_length + 8 {
        let signature = reader.take(4)?;
        if signature == b"link" {
            return Err(error(
                "split index (entries in sharedindex.*): install git so `git ls-files` can read it",
            ));
        }
        let size = usize::try_from(reader.u32()?).map_err(|_| error("index extension size"))?;
        reader.take(size)?;
    }
    Ok(paths)
}

/// `git ls-files` in the work tree; `None` when git cannot be run or refuses the repository
/// (then the index is read directly). The repository's own config cannot run a command here:
/// ls-files runs no hooks, and fsmonitor is switched off.
fn ls_files(root: &Path, git_dir: &Path) -> Option<Vec<String>> {
    let output = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .arg("--work-tree")
        .arg(root)
        .args([
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.quotePath=false",
            "ls-files",
            "-z",
            "--cached",
        ])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(
        output
            .stdout
            .split(|byte| *byte == 0)
            .filter(|path| !path.is_empty())
            .map(|path| String::from_utf8_lossy(path).into_owned())
            .collect(),
    )
}

/// Tracked paths of the work tree at `root`; `Ok(None)` when it is not a git work tree or has
/// no index yet.
pub fn tracked_paths(root: &Path) -> Result<Option<Vec<String>>, IndexError> {
    let Some(git_dir) = git_dir(root) else {
        return Ok(None);
    };
    if let Some(paths) = ls_files(root, &git_dir) {
        return Ok(Some(paths));
    }
    let bytes = match std::fs::read(git_dir.join("index")) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
        Err(e) => {
            return Err(error(format!(
                "cannot read {}: {e}",
                git_dir.join("index").display()
            )));
        }
    };
    parse(&bytes, hash_length(&git_dir)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_v2(path: &str) -> Vec<u8> {
        let mut entry = vec![0u8; 40 + 20];
        let flags = u16::try_from(path.len()).unwrap();
        entry.extend_from_slice(&flags.to_be_bytes());
        entry.extend_from_slice(path.as_bytes());
        entry.push(0);
        while entry.len() % 8 != 0 {
            entry.push(0);
        }
        entry
    }

    #[test]
    fn reads_version_2_paths() {
        let mut bytes = b"DIRC".to_vec();
        bytes.extend_from_slice(&2u32.to_be_bytes());
        bytes.extend_from_slice(&2u32.to_be_bytes());
        bytes.extend(entry_v2(".env"));
        bytes.extend(entry_v2("src/main.rs"));
        assert_eq!(parse(&bytes, 20).unwrap(), [".env", "src/main.rs"]);
    }

    #[test]
    fn reads_version_4_prefix_compression() {
        let mut bytes = b"DIRC".to_vec();
        bytes.extend_from_slice(&4u32.to_be_bytes());
        bytes.extend_from_slice(&2u32.to_be_bytes());
        for (strip, suffix) in [(0u8, "src/a.rs"), (4, "b.rs")] {
            bytes.extend_from_slice(&[0u8; 60]);
            bytes.extend_from_slice(&0u16.to_be_bytes());
            bytes.push(strip);
            bytes.extend_from_slice(suffix.as_bytes());
            bytes.push(0);
        }
        assert_eq!(parse(&bytes, 20).unwrap(), ["src/a.rs", "src/b.rs"]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"DIRC\0\0\0\x02\xff\xff\xff\xff", 20).is_err());
        assert!(parse(b"nope", 20).is_err());
    }
}
