//! The guest as fact gatherers see it: [`preflight_facts::Files`] over [`Guest`].

use preflight_facts::{EntryKind, FileError, Files, ListEntry};
use preflight_fs::FileType;
use preflight_guest::{Guest, GuestError};

pub struct GuestFiles<'g>(pub &'g Guest);

fn err(e: GuestError) -> FileError {
    FileError(e.to_string())
}

impl Files for GuestFiles<'_> {
    fn read(&self, path: &str, max: u64) -> Result<Option<Vec<u8>>, FileError> {
        match self.0.read_file(path, max) {
            Err(GuestError::Fs(preflight_fs::FsError::NotAFile(_))) => Ok(None),
            other => other.map_err(err),
        }
    }

    fn head(&self, path: &str, n: usize) -> Result<Option<Vec<u8>>, FileError> {
        match self.0.head(path, n) {
            Err(GuestError::Fs(preflight_fs::FsError::NotAFile(_))) => Ok(None),
            other => other.map_err(err),
        }
    }

    fn open(
        &self,
        path: &str,
        max: u64,
    ) -> Result<Option<preflight_facts::files::SizedReader<'_>>, FileError> {
        match self.0.open(path) {
            Ok(Some(r)) if r.size() > max => Err(FileError(format!(
                "{path}: {} bytes, more than the {max} read at most",
                r.size()
            ))),
            Ok(Some(r)) => Ok(Some((r.size(), Box::new(r)))),
            Ok(None) | Err(GuestError::Fs(preflight_fs::FsError::NotAFile(_))) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<ListEntry>>, FileError> {
        Ok(self.0.read_dir(path).map_err(err)?.map(|entries| {
            entries
                .into_iter()
                .map(|e| ListEntry {
                    name: e.name,
                    kind: match e.file_type {
                        FileType::Regular => EntryKind::File,
                        FileType::Directory => EntryKind::Dir,
                        FileType::Symlink => EntryKind::Symlink,
                        _ => EntryKind::Other,
                    },
                })
                .collect()
        }))
    }

    fn read_link(&self, path: &str) -> Result<Option<String>, FileError> {
        self.0.read_link(path).map_err(err)
    }
}
