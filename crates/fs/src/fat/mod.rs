//! Placeholder until the FAT reader lands.
