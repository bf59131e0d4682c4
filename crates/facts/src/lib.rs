//! Facts about the guest, parsed from its files: OS, architecture, kernels, users, sshd, SSH keys.
