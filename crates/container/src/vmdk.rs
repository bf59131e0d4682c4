//! Placeholder until the vmdk reader lands: refuses by name.

use preflight_io::Source;

use crate::{Container, ContainerError, Format};

pub fn open(_file: Source) -> Result<Container, ContainerError> {
    Err(ContainerError::Unsupported {
        format: Format::Vmdk,
        message: Format::Vmdk.not_supported_message().to_string(),
    })
}
