use crate::{ByteSource, IoError, check_bounds};

/// Bytes held in memory: for tests, fuzzing and small embedded images.
#[derive(Debug, Clone, Default)]
pub struct MemSource(pub Vec<u8>);

impl ByteSource for MemSource {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.len())?;
        let start = offset as usize;
        buf.copy_from_slice(&self.0[start..start + buf.len()]);
        Ok(())
    }
}
