//! Disk image containers: format detection, raw and QCOW2 readers that expose the virtual disk as a byte source.
