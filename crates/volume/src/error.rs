use preflight_io::IoError;
use thiserror::Error;

/// Why no partition table could be read at all. Problems that leave a usable table (a bad
/// backup GPT header, an overlap, a broken EBR chain) are not errors: they are reported in
/// [`PartitionTable::diagnostics`](crate::PartitionTable::diagnostics) and the rest is kept.
#[derive(Debug, Error)]
pub enum VolumeError {
    /// The first sector of the disk could not be read.
    #[error("reading the partition table: {0}")]
    Io(#[from] IoError),

    /// The MBR says the disk is GPT (a type 0xEE entry) but neither GPT header is usable.
    #[error(
        "no usable GPT header: primary at offset {primary_offset}: {primary}; \
         backup at offset {backup_offset}: {backup}"
    )]
    GptUnusable {
        primary_offset: u64,
        primary: String,
        backup_offset: u64,
        backup: String,
    },
}
