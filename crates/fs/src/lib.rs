//! A read-only file-system interface and its ext2/3/4 implementation.
