//! One module per `daecf` subcommand.

pub mod bench;
pub mod demo;
pub mod encode;
pub mod evaluate_ce;
pub mod explain;
pub mod export;
pub mod fit;
pub mod grade;
pub mod import;
pub mod inspect;
pub mod phantom;
pub mod reconstruct;
pub mod shortcut;
pub mod train;
