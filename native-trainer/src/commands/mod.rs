//! One module per `daecf` subcommand.

pub mod fit;
pub mod grade;
