//! Volumes: MBR and GPT partition tables, and file-system / volume signature probing.
