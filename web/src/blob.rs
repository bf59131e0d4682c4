//! A browser `Blob` (a dropped `File`) as a [`ByteSource`].
//!
//! Reads are synchronous `FileReaderSync.readAsArrayBuffer(blob.slice(start, end))`, which
//! browsers offer only in dedicated workers; offsets are passed as `f64` (exact up to 2^53),
//! so files over 2 GB and up to hundreds of GB read correctly. Each call costs about a
//! millisecond whatever its size, so the core puts a block cache on top of this source.

use std::cell::Cell;

use preflight_io::{ByteSource, IoError, check_bounds};
use wasm_bindgen::JsCast;
use web_sys::{Blob, FileReaderSync};

/// Called after every read with the bytes and calls so far.
pub type ReadObserver = Box<dyn Fn(u64, u64)>;

pub struct BlobSource {
    blob: Blob,
    len: u64,
    reader: FileReaderSync,
    bytes_read: Cell<u64>,
    read_calls: Cell<u64>,
    observer: Option<ReadObserver>,
}

impl BlobSource {
    /// Fails outside a dedicated worker (no `FileReaderSync` there).
    pub fn new(blob: Blob) -> Result<BlobSource, String> {
        let reader = FileReaderSync::new().map_err(|e| {
            format!(
                "this browser cannot read files synchronously here (FileReaderSync: {})",
                describe(&e)
            )
        })?;
        // Blob sizes are integers below 2^53; `as` saturates on anything stranger.
        let len = blob.size() as u64;
        Ok(BlobSource {
            blob,
            len,
            reader,
            bytes_read: Cell::new(0),
            read_calls: Cell::new(0),
            observer: None,
        })
    }

    /// Be told after every read (for a progress display).
    pub fn with_observer(mut self, observer: ReadObserver) -> BlobSource {
        self.observer = Some(observer);
        self
    }

    pub fn stats(&self) -> (u64, u64) {
        (self.bytes_read.get(), self.read_calls.get())
    }
}

impl ByteSource for BlobSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.len)?;
        if buf.is_empty() {
            return Ok(());
        }
        let end = offset + buf.len() as u64; // checked by check_bounds
        let host = |what: &str, e: &wasm_bindgen::JsValue| IoError::Host {
            offset,
            message: format!("{what}: {}", describe(e)),
        };
        let slice = self
            .blob
            .slice_with_f64_and_f64(offset as f64, end as f64)
            .map_err(|e| host("Blob.slice", &e))?;
        let buffer = self
            .reader
            .read_as_array_buffer(&slice)
            .map_err(|e| host("FileReaderSync.readAsArrayBuffer", &e))?;
        let bytes = js_sys::Uint8Array::new(&buffer);
        if bytes.length() as usize != buf.len() {
            return Err(IoError::Host {
                offset,
                message: format!(
                    "the browser returned {} bytes instead of {} (was the file changed or \
                     removed while it was read?)",
                    bytes.length(),
                    buf.len()
                ),
            });
        }
        bytes.copy_to(buf);
        self.bytes_read
            .set(self.bytes_read.get() + buf.len() as u64);
        self.read_calls.set(self.read_calls.get() + 1);
        if let Some(observer) = &self.observer {
            observer(self.bytes_read.get(), self.read_calls.get());
        }
        Ok(())
    }
}

/// A JavaScript exception as text ("NotReadableError: …").
pub fn describe(e: &wasm_bindgen::JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        let name: String = err.name().into();
        let message: String = err.message().into();
        format!("{name}: {message}")
    } else if let Some(s) = e.as_string() {
        s
    } else {
        format!("{e:?}")
    }
}
