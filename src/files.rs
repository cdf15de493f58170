//! Small file helpers shared by the client-side stores (config, reminder log, key-list cache) and
//! the server's database files: written atomically, readable by their owner only.

use std::io::Write as _;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed over it,
/// so a crash or a full disk never leaves half a file. The parent directory is created (700), and
/// the file is readable by its owner only (it may name a user's keys and servers).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_beside(path, bytes, |temporary| std::fs::rename(temporary, path))
}

/// As [`write_atomic`], but never replaces a file: when `path` exists (also when it appeared
/// while writing) the answer is an `AlreadyExists` error and the file is left as it was.
pub fn write_new_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_beside(path, bytes, |temporary| rename_no_replace(temporary, path))
}

/// Renames `from` to `to` unless `to` exists, in one step.
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
        let (from_c, to_c) = (c(from)?, c(to)?);
        // SAFETY: two NUL-terminated paths, valid for the call.
        let renamed = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from_c.as_ptr(),
                libc::AT_FDCWD,
                to_c.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if renamed == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        // Filesystems without it answer EINVAL: a hard link is the other way to not replace.
        if !matches!(err.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
            return Err(err);
        }
    }
    std::fs::hard_link(from, to)?;
    // The file is in place; a temporary name left beside it is only untidy.
    let _ = std::fs::remove_file(from);
    Ok(())
}

/// Writes `bytes` to a new file of this process's own beside `path` (600), flushed, and hands it
/// to `place`; the temporary file is removed when anything fails.
fn write_beside(
    path: &Path,
    bytes: &[u8],
    place: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        create_private_dir_all(parent)?;
    }
    // A new file of this process's own: one left over (or planted: a symlink, a looser mode) is
    // never written through.
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let temporary = path.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(err) = written.and_then(|()| place(&temporary)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(err);
    }
    Ok(())
}

/// Creates `dir` and its missing parents readable by their owner only (700). Directories that
/// exist already keep their mode.
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` empty and readable by its owner only (600) when it does not exist yet; an
/// existing file is left as it is. Returns whether it was created.
pub fn create_private_file(path: &Path) -> std::io::Result<bool> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(err),
    }
}

/// Locks `path` for a read-change-write against other processes: an exclusive lock on
/// `path.lock` (mode 600, its directory made private first), held until the returned file is
/// dropped.
pub fn lock(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        create_private_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path.with_extension("lock"))?;
    // Blocks until the lock is free (flock on Unix, LockFileEx on Windows).
    file.lock()?;
    Ok(file)
}

/// A JSON file of this computer's that the app and the command line read and change in turn
/// (consent, tracked keys, renewals): absent, it reads as the default; a change is read, made
/// and written (atomically, mode 600) under an exclusive lock; a file that does not parse is
/// left as it is and named in the error.
pub struct JsonFile<T> {
    path: std::path::PathBuf,
    kind: std::marker::PhantomData<fn() -> T>,
}

// By hand: derived, they would ask `T` to be Clone and Debug too.
impl<T> Clone for JsonFile<T> {
    fn clone(&self) -> Self {
        JsonFile {
            path: self.path.clone(),
            kind: std::marker::PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for JsonFile<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("JsonFile").field(&self.path).finish()
    }
}

impl<T: Default + serde::Serialize + serde::de::DeserializeOwned> JsonFile<T> {
    pub fn new(path: std::path::PathBuf) -> JsonFile<T> {
        JsonFile {
            path,
            kind: std::marker::PhantomData,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read(&self) -> Result<T, String> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                format!(
                    "{} is damaged (it was left as it is): {err}",
                    self.path.display()
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(err) => Err(format!("cannot read {}: {err}", self.path.display())),
        }
    }

    /// Reads, changes and writes the file under an exclusive lock; nothing is written when
    /// `change` fails. `failed` makes the caller's error of what went wrong with the file.
    pub fn change<R, E>(
        &self,
        failed: impl Fn(String) -> E,
        change: impl FnOnce(&mut T) -> Result<R, E>,
    ) -> Result<R, E> {
        let written =
            |err: std::io::Error| failed(format!("cannot write {}: {err}", self.path.display()));
        let _lock = lock(&self.path).map_err(written)?;
        let mut file = self.read().map_err(&failed)?;
        let result = change(&mut file)?;
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|err| written(std::io::Error::other(err)))?;
        write_atomic(&self.path, &bytes).map_err(written)?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.json");
        write_atomic(&path, b"first, longer content").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("file.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_new_file_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.env");
        write_new_atomic(&path, b"first").unwrap();
        let err = write_new_atomic(&path, b"second").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left beside it"
        );
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // A name so long that the temporary file's cannot be made: the write fails.
        let path = dir.path().join("f".repeat(240));
        std::fs::write(&path, b"kept").unwrap();
        assert!(write_atomic(&path, b"lost").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "nothing left beside it"
        );
    }
}
