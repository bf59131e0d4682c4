//! A read-only QCOW2 reader (versions 2 and 3): standard, zero, compressed (zlib and zstd)
//! clusters, extended L2 entries with subclusters. Specification: QEMU's
//! docs/interop/qcow2.txt. The virtual disk is exposed as a [`ByteSource`].
//!
//! Unallocated clusters read as zeros. When the image names a backing file we do not read it
//! (a browser has no access to it, and a CLI following a hostile path is a hazard); the bytes
//! asked of such clusters are counted so the report can say how much of the guest view is
//! missing.

mod decompress;
mod header;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use preflight_io::{ByteSource, IoError, Source, be, check_bounds, read_vec};

use crate::info::{ContainerInfo, Qcow2Info};
use crate::lru::Lru;
use crate::{Container, ContainerError, Format};

const LAYER: &str = "qcow2";
/// Bits 9..=55 of L1 and standard L2 entries hold the host offset.
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const COMPRESSED: u64 = 1 << 62;
/// Memory for cached L2 tables and decompressed clusters, each.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// What one guest cluster (or subcluster) maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mapping {
    /// Data at this host offset (already adjusted to the position inside the cluster).
    Data(u64),
    Zero,
    /// Not allocated here: zeros, or the backing file's data.
    Unallocated,
    /// A compressed cluster: the raw L2 descriptor.
    Compressed(u64),
}

pub struct Qcow2 {
    file: Source,
    h: header::Header,
    info: Qcow2Info,
    warnings: Vec<String>,
    l1: Vec<u64>,
    l2_cache: Mutex<Lru<Arc<Vec<u8>>>>,
    cluster_cache: Mutex<Lru<Arc<Vec<u8>>>>,
    missing_backing: Arc<AtomicU64>,
    /// Why the guest data cannot be read at all (encryption, external data file).
    unreadable: Option<String>,
}

/// Opens a QCOW2 image as a [`Container`].
pub fn open(file: Source) -> Result<Container, ContainerError> {
    let image = Qcow2::open(Arc::clone(&file))?;
    let q = image.info().clone();
    let mut info = ContainerInfo::plain(Format::Qcow2, image.virtual_size(), file.len());
    info.version = Some(q.version.to_string());
    info.block_size = Some(q.cluster_size);
    info.compression = Some(q.compression_type.clone());
    info.parent = q.backing_file.clone();
    info.warnings = image.warnings().to_vec();
    let missing = q
        .backing_file
        .as_ref()
        .map(|_| image.missing_backing_counter());
    info.qcow2 = Some(q);
    Ok(Container {
        info,
        disk: Arc::new(image),
        missing_backing_bytes: missing,
    })
}

impl Qcow2 {
    pub fn open(file: Source) -> Result<Qcow2, ContainerError> {
        let (h, info, warnings) = header::parse(&*file)?;
        let l1_bytes = read_vec(
            &*file,
            h.l1_table_offset,
            h.l1_size as u64 * 8,
            header::MAX_L1_BYTES,
        )
        .map_err(|e| {
            ContainerError::corrupt(
                Format::Qcow2,
                h.l1_table_offset,
                format!("L1 table unreadable: {e}"),
            )
        })?;
        let l1 = l1_bytes.chunks_exact(8).map(|c| be::u64(c, 0)).collect();
        let unreadable = if let Some(method) = &info.encryption {
            Some(format!(
                "the disk data is encrypted ({method}); its contents cannot be inspected"
            ))
        } else {
            info.external_data_file.as_ref().map(|name| {
                format!(
                    "the disk data is stored in an external data file ({name}), not in this image"
                )
            })
        };
        let slots = (CACHE_BYTES / h.cluster_size()).max(4) as usize;
        Ok(Qcow2 {
            file,
            l1,
            l2_cache: Mutex::new(Lru::new(slots)),
            cluster_cache: Mutex::new(Lru::new(slots)),
            info,
            warnings,
            h,
            missing_backing: Arc::default(),
            unreadable,
        })
    }

    pub fn virtual_size(&self) -> u64 {
        self.h.size
    }

    pub fn info(&self) -> &Qcow2Info {
        &self.info
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn missing_backing_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.missing_backing)
    }

    fn l2_entry_size(&self) -> u64 {
        if self.h.extended_l2() { 16 } else { 8 }
    }

    fn l2_table(&self, offset: u64) -> Result<Arc<Vec<u8>>, IoError> {
        let mut cache = self.l2_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache.get(offset) {
            return Ok(t);
        }
        let mut table = vec![0u8; self.h.cluster_size() as usize];
        self.file
            .read_at(offset, &mut table)
            .map_err(|e| IoError::corrupt(LAYER, offset, format!("L2 table unreadable: {e}")))?;
        let table = Arc::new(table);
        cache.put(offset, Arc::clone(&table));
        Ok(table)
    }

    /// Map the guest byte `pos`; returns the mapping and how many bytes from `pos` share it
    /// (to the end of the cluster, or of the subcluster with extended L2).
    fn map(&self, pos: u64) -> Result<(Mapping, u64), IoError> {
        let cbits = self.h.cluster_bits;
        let csize = self.h.cluster_size();
        let in_cluster = pos & (csize - 1);
        let cluster = pos >> cbits;
        let l2_bits = cbits - if self.h.extended_l2() { 4 } else { 3 };
        let l1_index = (cluster >> l2_bits) as usize;
        let l2_index = cluster & ((1 << l2_bits) - 1);
        let to_cluster_end = csize - in_cluster;

        let l1e = self.l1.get(l1_index).copied().unwrap_or(0);
        let l2_off = l1e & OFFSET_MASK;
        if l2_off == 0 {
            return Ok((Mapping::Unallocated, to_cluster_end));
        }
        if l2_off & (csize - 1) != 0 {
            return Err(IoError::corrupt(
                LAYER,
                self.h.l1_table_offset + l1_index as u64 * 8,
                format!("L1 entry {l1_index} points to unaligned L2 table offset {l2_off}"),
            ));
        }
        let table = self.l2_table(l2_off)?;
        let at = (l2_index * self.l2_entry_size()) as usize;
        let entry = be::u64(&table, at);
        let entry_pos = l2_off + at as u64;

        if entry & COMPRESSED != 0 {
            return Ok((Mapping::Compressed(entry), to_cluster_end));
        }
        let host = entry & OFFSET_MASK;
        if host & (csize - 1) != 0 {
            return Err(IoError::corrupt(
                LAYER,
                entry_pos,
                format!("L2 entry points to unaligned data offset {host}"),
            ));
        }
        if !self.h.extended_l2() {
            let mapping = if entry & 1 != 0 {
                Mapping::Zero
            } else if host == 0 {
                Mapping::Unallocated
            } else {
                Mapping::Data(host + in_cluster)
            };
            return Ok((mapping, to_cluster_end));
        }

        // Extended L2: 32 subclusters, an allocation bit and a zero bit for each.
        let bitmap = be::u64(&table, at + 8);
        let sc_size = csize / 32;
        let sc = in_cluster / sc_size;
        let to_sc_end = sc_size - (in_cluster % sc_size);
        let mapping = if bitmap & (1 << sc) != 0 {
            if host == 0 {
                return Err(IoError::corrupt(
                    LAYER,
                    entry_pos,
                    "subcluster marked allocated in a cluster with no host offset",
                ));
            }
            Mapping::Data(host + in_cluster)
        } else if bitmap & (1 << (32 + sc)) != 0 {
            Mapping::Zero
        } else {
            Mapping::Unallocated
        };
        Ok((mapping, to_sc_end))
    }

    fn compressed_cluster(&self, entry: u64, pos: u64) -> Result<Arc<Vec<u8>>, IoError> {
        let mut cache = self.cluster_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(entry) {
            return Ok(c);
        }
        let cbits = self.h.cluster_bits;
        // qcow2.txt, "Compressed Clusters Descriptor": x = 62 - (cluster_bits - 8).
        let x = 62 - (cbits - 8);
        let host = entry & ((1u64 << x) - 1);
        let sectors = ((entry >> x) & ((1u64 << (cbits - 8)) - 1)) + 1;
        let len = (sectors * 512 - (host & 511)).min(self.file.len().saturating_sub(host));
        if len == 0 {
            return Err(IoError::corrupt(
                LAYER,
                host,
                format!(
                    "compressed cluster for guest offset {pos} lies beyond the end of the file"
                ),
            ));
        }
        let mut input = vec![0u8; len as usize];
        self.file.read_at(host, &mut input)?;
        let out = match self.h.compression_type {
            1 => decompress::zstd(&input, self.h.cluster_size() as usize),
            _ => decompress::deflate(&input, self.h.cluster_size() as usize),
        }
        .map_err(|why| {
            IoError::corrupt(
                LAYER,
                host,
                format!("compressed cluster for guest offset {pos}: {why}"),
            )
        })?;
        let out = Arc::new(out);
        cache.put(entry, Arc::clone(&out));
        Ok(out)
    }
}

impl ByteSource for Qcow2 {
    fn len(&self) -> u64 {
        self.h.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_bounds(offset, buf.len(), self.h.size)?;
        if let Some(why) = &self.unreadable {
            return Err(IoError::Unavailable {
                layer: LAYER,
                message: why.clone(),
            });
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (mapping, span) = self.map(pos)?;
            let mut n = span.min((buf.len() - done) as u64) as usize;
            match mapping {
                Mapping::Data(host) => {
                    // Neighbouring clusters are often contiguous on the host too: one read.
                    while done + n < buf.len() {
                        let next = pos + n as u64;
                        match self.map(next)? {
                            (Mapping::Data(h2), s2) if h2 == host + n as u64 => {
                                n += s2.min((buf.len() - done - n) as u64) as usize;
                            }
                            _ => break,
                        }
                    }
                    self.file.read_at(host, &mut buf[done..done + n]).map_err(|e| match e {
                        IoError::OutOfBounds { .. } => IoError::corrupt(LAYER, host, format!("data for guest offset {pos} lies beyond the end of the file (truncated image?)")),
                        other => other,
                    })?;
                }
                Mapping::Zero => buf[done..done + n].fill(0),
                Mapping::Unallocated => {
                    if self.info.backing_file.is_some() {
                        self.missing_backing.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    buf[done..done + n].fill(0);
                }
                Mapping::Compressed(entry) => {
                    let cluster = self.compressed_cluster(entry, pos)?;
                    let start = (pos & (self.h.cluster_size() - 1)) as usize;
                    buf[done..done + n].copy_from_slice(&cluster[start..start + n]);
                }
            }
            done += n;
        }
        Ok(())
    }
}
