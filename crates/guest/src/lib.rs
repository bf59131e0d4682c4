//! The guest: root file system, fstab mounts, and path resolution that never leaves the guest.
