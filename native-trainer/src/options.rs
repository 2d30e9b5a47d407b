//! Command-line parsing of daecf's named options (presets, CE directions, phantom kinds): the
//! names listed in `--help`, the value parsed to its type.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use daecf_core::named::Named;

/// A parser of a [`Named`] option.
pub fn named<T: Named + Send + Sync + Clone>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(T::ALL.iter().map(|v| v.name())).try_map(|s| T::from_name(&s))
}
