//! Crash-safe file writes with exact permissions: [`write_atomic`], plus reads that name the file.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::PkiError;

/// Mode of files holding private keys or secrets.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of certificate files, which are public.
pub const PUBLIC_FILE_MODE: u32 = 0o644;
/// Mode of the directory holding private keys.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Replaces `path` with `contents` so that a reader (or a crash) sees either the old file or the
/// whole new one, never a prefix. The mode is set explicitly so the umask cannot widen or narrow it.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let write_err = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| write_err(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?;
    let tmp = dir.join(format!(
        ".{}.tmp{:016x}",
        file_name.to_string_lossy(),
        rand::random::<u64>()
    ));
    let result = write_and_rename(&tmp, path, contents, mode).map_err(write_err);
    if result.is_err() {
        // The temp file is garbage either way; a failed removal must not hide the real error.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Persist the rename itself; without this a power loss may resurrect the old file.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| PkiError::Write {
            path: dir.to_path_buf(),
            source,
        })
}

fn write_and_rename(tmp: &Path, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)?;
    file.set_permissions(Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)
}

/// Reads a UTF-8 file; `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads a UTF-8 file that must exist.
pub fn read_required(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates `dir` (and its parents) and restricts `dir` itself to its owner.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PkiError> {
    let err = |source| PkiError::CreateDir {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(err)?;
    fs::set_permissions(dir, Permissions::from_mode(PRIVATE_DIR_MODE)).map_err(err)
}

/// Creates the parent directories of `path` with default permissions.
pub fn ensure_parent_dir(path: &Path) -> Result<(), PkiError> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => {
            fs::create_dir_all(p).map_err(|source| PkiError::CreateDir {
                path: p.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn write_atomic_sets_exact_mode_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_atomic(&path, b"one", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(mode_of(&path), 0o600);
        // Replacing with a wider mode must apply that mode, not keep the old one.
        write_atomic(&path, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(mode_of(&path), 0o644);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
    }

    #[test]
    fn write_atomic_into_missing_directory_fails_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("f");
        let err = write_atomic(&path, b"x", 0o600).unwrap_err();
        assert!(err.to_string().contains("missing/f"), "{err}");
    }

    #[test]
    fn ensure_private_dir_tightens_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("server").join("tls");
        fs::create_dir_all(&tls).unwrap();
        fs::set_permissions(&tls, Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&tls).unwrap();
        assert_eq!(mode_of(&tls), 0o700);
    }

    #[test]
    fn read_optional_distinguishes_missing_from_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_optional(&dir.path().join("nope")).unwrap().is_none());
        let bin = dir.path().join("bin");
        fs::write(&bin, [0xff, 0xfe, 0x00]).unwrap();
        let err = read_optional(&bin).unwrap_err();
        assert!(err.to_string().contains("bin"), "{err}");
    }
}
