//! The journal's file layer, behind a seam: the real one ([`RealFs`]), and a
//! power-cut double ([`CrashFs`], tests only) that keeps exactly what was
//! made durable — file bytes by `sync`, names by `sync_dir` — and loses or
//! tears the rest when told to "crash".

use std::io::{self, Write};
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

/// The file operations the journal needs, and no more.
pub trait WalFs: Send + Sync {
    /// Creates `dir` (and parents) if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The file's first `len` bytes (fewer if it is shorter).
    fn read_head(&self, path: &Path, len: usize) -> io::Result<Vec<u8>>;
    /// Creates a new, empty file (failing if it exists), open for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Opens an existing file for writing.
    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Cuts a file to `len` bytes and makes that durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Writes a whole new file and makes it durable (not its name: see
    /// [`WalFs::sync_dir`]).
    fn write_new(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Renames a file (its new name is durable after [`WalFs::sync_dir`]).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (created, removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// A segment file being written.
pub trait WalFile: Send {
    /// Writes `bytes` at `offset` with one write (extending the file if it
    /// ends before).
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Makes what was written durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

struct RealFile(std::fs::File);

impl WalFile for RealFile {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.0.write_all_at(bytes, offset)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl WalFs for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_head(&self, path: &Path, len: usize) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut head = Vec::with_capacity(len);
        std::fs::File::open(path)?
            .take(len as u64)
            .read_to_end(&mut head)?;
        Ok(head)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Box::new(RealFile(file)))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(RealFile(file)))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn write_new(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }
}

/// Where a path's file lives in [`CrashFs`].
#[cfg(test)]
fn crash_key(path: &Path) -> PathBuf {
    path.to_path_buf()
}

/// One file of [`CrashFs`].
#[cfg(test)]
#[derive(Debug, Clone, Default)]
struct MemFile {
    /// What a reader sees now.
    bytes: Vec<u8>,
    /// How many leading bytes are durable (a `sync` since the last change).
    durable: Vec<u8>,
    /// Its name survives a crash (created before the last `sync_dir`).
    named: bool,
}

/// The power-cut double (tests only). Every operation may be made to fail
/// from a chosen count on ([`CrashFs::fail_after`]), the way a dying disk
/// would, and [`CrashFs::crash`] keeps only what was durable, plus a torn,
/// sector-scrambled prefix of what was not.
#[cfg(test)]
#[derive(Clone, Default)]
pub struct CrashFs {
    inner: std::sync::Arc<std::sync::Mutex<CrashState>>,
}

#[cfg(test)]
#[derive(Default)]
struct CrashState {
    files: std::collections::BTreeMap<PathBuf, MemFile>,
    /// Names removed since the last `sync_dir`: a crash brings them back.
    removed: std::collections::BTreeMap<PathBuf, MemFile>,
    /// Operations left before every operation fails.
    ops_left: Option<usize>,
}

#[cfg(test)]
impl CrashState {
    fn spend(&mut self) -> io::Result<()> {
        match &mut self.ops_left {
            Some(0) => Err(io::Error::other("injected failure (power going down)")),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
impl CrashFs {
    fn state(&self) -> std::sync::MutexGuard<'_, CrashState> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// From the `ops`-th operation on, every operation fails.
    pub fn fail_after(&self, ops: usize) {
        self.state().ops_left = Some(ops);
    }

    /// The power goes: each file keeps its durable bytes, except that (as a
    /// disk may) each 512-byte sector written since its last sync holds the
    /// new bytes or the old ones (zeros past the old end), independently,
    /// and an unsynced change of length may or may not stay; files never
    /// named durably vanish and files removed since the last `sync_dir`
    /// come back. Operations work again afterwards.
    pub fn crash(&self, rng: &mut impl FnMut() -> u64) {
        let mut state = self.state();
        let removed = std::mem::take(&mut state.removed);
        for (path, file) in removed {
            state.files.entry(path).or_insert(file);
        }
        let mut survivors = std::collections::BTreeMap::new();
        for (path, file) in std::mem::take(&mut state.files) {
            if !file.named {
                continue;
            }
            let old = &file.durable;
            let new = &file.bytes;
            let (short, long) = (old.len().min(new.len()), old.len().max(new.len()));
            let len = short + (rng() as usize) % (long - short + 1);
            let padded = |bytes: &Vec<u8>| {
                let mut bytes = bytes.clone();
                bytes.resize(len, 0);
                bytes
            };
            let (was, mut kept) = (padded(old), padded(new));
            for (now, was) in kept.chunks_mut(512).zip(was.chunks(512)) {
                if now != was && rng().is_multiple_of(2) {
                    now.copy_from_slice(was);
                }
            }
            survivors.insert(
                path,
                MemFile {
                    bytes: kept.clone(),
                    durable: kept,
                    named: true,
                },
            );
        }
        state.files = survivors;
        state.ops_left = None;
    }

    /// A file's bytes as a reader would see them now (for damaging tests).
    pub fn bytes(&self, path: &Path) -> Option<Vec<u8>> {
        self.state()
            .files
            .get(&crash_key(path))
            .map(|f| f.bytes.clone())
    }

    /// Replaces a file's bytes, durably (for damaging tests).
    pub fn set_bytes(&self, path: &Path, bytes: Vec<u8>) {
        if let Some(file) = self.state().files.get_mut(&crash_key(path)) {
            file.bytes = bytes.clone();
            file.durable = bytes;
        }
    }
}

#[cfg(test)]
struct CrashFile {
    fs: CrashFs,
    path: PathBuf,
}

#[cfg(test)]
impl WalFile for CrashFile {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.fs.state();
        let failed = state.spend();
        let file = state
            .files
            .get_mut(&self.path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "file removed"))?;
        // A failing write may still have written part of it.
        let written = if failed.is_ok() {
            bytes
        } else {
            &bytes[..bytes.len() / 2]
        };
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = offset + written.len();
        if file.bytes.len() < end {
            file.bytes.resize(end, 0);
        }
        file.bytes[offset..end].copy_from_slice(written);
        failed
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.fs.state();
        state.spend()?;
        let file = state
            .files
            .get_mut(&self.path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "file removed"))?;
        file.durable = file.bytes.clone();
        Ok(())
    }
}

#[cfg(test)]
impl WalFs for CrashFs {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        Ok(self
            .state()
            .files
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.bytes(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn read_head(&self, path: &Path, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = self.read(path)?;
        bytes.truncate(len);
        Ok(bytes)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        let mut state = self.state();
        state.spend()?;
        if state.files.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists"));
        }
        state.files.insert(path.to_path_buf(), MemFile::default());
        Ok(Box::new(CrashFile {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        if !self.state().files.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such file"));
        }
        Ok(Box::new(CrashFile {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.state();
        state.spend()?;
        let file = state
            .files
            .get_mut(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        file.bytes.truncate(len);
        file.durable = file.bytes.clone();
        Ok(())
    }

    fn write_new(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.state();
        state.spend()?;
        if state.files.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists"));
        }
        state.files.insert(
            path.to_path_buf(),
            MemFile {
                bytes: bytes.to_vec(),
                durable: bytes.to_vec(),
                named: false,
            },
        );
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.spend()?;
        let file = state
            .files
            .remove(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))?;
        if file.named {
            state.removed.insert(path.to_path_buf(), file);
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.spend()?;
        let file = state
            .files
            .remove(from)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))?;
        if file.named {
            state.removed.insert(from.to_path_buf(), file.clone());
        }
        state.files.insert(
            to.to_path_buf(),
            MemFile {
                named: false,
                ..file
            },
        );
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.spend()?;
        for (path, file) in state.files.iter_mut() {
            if path.parent() == Some(dir) {
                file.named = true;
            }
        }
        state.removed.retain(|path, _| path.parent() != Some(dir));
        Ok(())
    }
}
