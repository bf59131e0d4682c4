//! Placeholder until the Btrfs reader lands.
