//! One module per `daecf` subcommand.

pub mod demo;
pub mod encode;
pub mod evaluate_ce;
pub mod explain;
pub mod fit;
pub mod grade;
pub mod phantom;
pub mod reconstruct;
pub mod train;
