//! The errors of daecf-core.

use thiserror::Error;

/// Anything that can go wrong in daecf-core; each message says what was wrong and what to do.
#[derive(Debug, Error)]
pub enum DaecfError {
    /// An invalid or unsupported model or sampler configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Weights that do not fit the model: every missing, unexpected and mis-shaped tensor.
    #[error("weights in {path} do not fit the model:\n{details}")]
    Weights {
        /// The file the weights came from.
        path: String,
        /// One line per problem tensor.
        details: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file whose content is not what it should be.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Bad input data (images, labels, latents).
    #[error("invalid data: {0}")]
    Data(String),
    /// A result could not be read back from the device.
    #[error("reading a result back from the device failed ({0}); try another backend (--backend cpu)")]
    Device(String),
    /// The reference PyTorch DAE could not be timed.
    #[error("the PyTorch reference: {0}")]
    Reference(String),
    /// The caller stopped a long computation.
    #[error("cancelled")]
    Cancelled,
}

/// Result with [`DaecfError`].
pub type Result<T> = std::result::Result<T, DaecfError>;
