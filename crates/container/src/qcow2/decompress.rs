//! Cluster decompression. QEMU writes zlib clusters as raw deflate streams (no zlib header,
//! `deflateInit2(..., -12, ...)` in block/qcow2-threads.c) and zstd clusters as zstd frames;
//! in both cases the cluster must decompress to exactly one full cluster, and the bytes after
//! the stream (sector padding) are ignored.

use std::io::Read;

pub fn deflate(input: &[u8], cluster: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; cluster];
    let mut d = flate2::Decompress::new(false);
    let status = d
        .decompress(input, &mut out, flate2::FlushDecompress::Finish)
        .map_err(|e| format!("deflate stream is invalid: {e}"))?;
    let produced = d.total_out() as usize;
    if produced != cluster {
        return Err(format!(
            "deflate stream produced {produced} bytes instead of {cluster} ({status:?})"
        ));
    }
    Ok(out)
}

pub fn zstd(input: &[u8], cluster: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; cluster];
    let mut filled = 0usize;
    let mut src = input;
    // A cluster may be written as several frames; stop as soon as the cluster is full.
    for _ in 0..cluster.max(1) {
        if filled == cluster {
            return Ok(out);
        }
        let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut src)
            .map_err(|e| format!("zstd frame is invalid: {e}"))?;
        loop {
            let n = dec
                .read(&mut out[filled..])
                .map_err(|e| format!("zstd data is invalid: {e}"))?;
            if n == 0 {
                break;
            }
            filled += n;
            if filled == cluster {
                return Ok(out);
            }
        }
    }
    Err(format!(
        "zstd data produced {filled} bytes instead of {cluster}"
    ))
}
