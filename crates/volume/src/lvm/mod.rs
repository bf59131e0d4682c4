//! Placeholder until the LVM2 reader lands.
