//! Unit tests on images built byte by byte in memory.

mod build;
mod fuzz;
mod gpt;
mod mbr;
mod none;
mod probe;
