//! Placeholder until the archive reader lands: refuses by name.

use preflight_io::Source;

use crate::{Container, ContainerError, Format, OpenOptions};

pub fn open(
    _file: Source,
    format: Format,
    _options: &OpenOptions<'_>,
) -> Result<Container, ContainerError> {
    Err(ContainerError::Unsupported {
        format,
        message: format.not_supported_message().to_string(),
    })
}
