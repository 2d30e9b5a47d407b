//! Options with a fixed set of values (presets, phantom kinds, CE directions), each with the one
//! name files and the command line use for it.

use crate::{DaecfError, Result};

/// A closed set of values, each with a name.
pub trait Named: Copy + PartialEq + 'static {
    /// Every value, in the order help texts list them.
    const ALL: &'static [Self];
    /// What a value is, for messages ("CE direction").
    const KIND: &'static str;

    /// The value's name in files and on the command line.
    fn name(self) -> &'static str;

    /// Every value's name, comma-separated.
    fn names() -> String {
        Self::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
    }

    /// The value called `text`; an error that lists the names otherwise.
    fn from_name(text: &str) -> Result<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == text).ok_or_else(|| {
            DaecfError::Config(format!("'{text}' is not a {}; choose one of {}", Self::KIND, Self::names()))
        })
    }
}

/// `Display` and `FromStr` of a [`Named`] type, by its names.
#[macro_export]
macro_rules! impl_named_text {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::named::Named::name(*self))
            }
        }

        impl std::str::FromStr for $t {
            type Err = $crate::DaecfError;

            fn from_str(text: &str) -> $crate::Result<Self> {
                <$t as $crate::named::Named>::from_name(text)
            }
        }
    };
}
