//! The intensity window that maps a volume's values (Hounsfield units for CT, arbitrary units for
//! MR) to the [0, 1] grey levels a model reads, as radiologists view a scan: values below
//! `level - width / 2` are black, above `level + width / 2` white. CT has standard windows; MR,
//! whose scale differs from scan to scan, is windowed by percentiles of each volume.

use std::fmt;
use std::str::FromStr;

use crate::{DaecfError, Result};

/// How a volume's values become grey levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// The window stored in the file (DICOM's Window Center/Width) when there is one, else
    /// the 1st to 99th percentile of the volume.
    Auto,
    /// A fixed window in the volume's units (Hounsfield units for CT).
    Fixed {
        /// The width of the window.
        width: f32,
        /// Its centre.
        level: f32,
    },
    /// From the `low`-th to the `high`-th percentile of each volume's values (for MR).
    Percentile {
        /// Lower percentile, 0 to 100.
        low: f32,
        /// Upper percentile, above `low`.
        high: f32,
    },
}

/// The named CT windows (Hounsfield units): name, width, level.
const CT_WINDOWS: [(&str, f32, f32); 4] =
    [("ct-bone", 1800.0, 400.0), ("ct-brain", 80.0, 40.0), ("ct-soft", 400.0, 40.0), ("ct-lung", 1500.0, -600.0)];

/// The percentiles of `percentile` without bounds, and of [`Window::Auto`] without a stored window.
const DEFAULT_PERCENTILES: (f32, f32) = (1.0, 99.0);

/// At most this many voxels are sorted for a percentile (an even sample of a larger volume).
const PERCENTILE_SAMPLE: usize = 1 << 20;

impl Window {
    /// The grey-level range `(black, white)` for a volume of `values`, with the window its file
    /// stores (`(width, level)`), if any.
    pub fn range(&self, values: &[f32], stored: Option<(f32, f32)>) -> (f32, f32) {
        let (low, high) = match (*self, stored) {
            (Window::Fixed { width, level }, _) | (Window::Auto, Some((width, level))) => {
                return (level - width / 2.0, level + width / 2.0);
            }
            (Window::Percentile { low, high }, _) => (low, high),
            (Window::Auto, None) => DEFAULT_PERCENTILES,
        };
        let step = values.len().div_ceil(PERCENTILE_SAMPLE).max(1);
        let mut sample: Vec<f32> = values.iter().step_by(step).copied().filter(|v| v.is_finite()).collect();
        if sample.is_empty() {
            return (0.0, 1.0);
        }
        sample.sort_unstable_by(f32::total_cmp);
        let at = |p: f32| sample[((p / 100.0) * (sample.len() - 1) as f32).round() as usize];
        (at(low), at(high))
    }
}

/// `value` in the window `(black, white)` as a grey level in [0, 1]; a window of no width
/// thresholds at its level.
pub fn grey(value: f32, (black, white): (f32, f32)) -> f32 {
    if white > black { ((value - black) / (white - black)).clamp(0.0, 1.0) } else { f32::from(value > black) }
}

impl FromStr for Window {
    type Err = DaecfError;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            DaecfError::Config(format!(
                "'{text}' is not a window; give auto, {}, percentile[:LOW,HIGH] (e.g. percentile:0.5,99.5) or \
                 WIDTH,LEVEL (e.g. 400,40)",
                CT_WINDOWS.map(|w| w.0).join(", ")
            ))
        };
        let pair = |s: &str| -> Option<(f32, f32)> {
            let (a, b) = s.split_once(',')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        };
        if text == "auto" {
            return Ok(Window::Auto);
        }
        if let Some(&(_, width, level)) = CT_WINDOWS.iter().find(|w| w.0 == text) {
            return Ok(Window::Fixed { width, level });
        }
        if let Some(rest) = text.strip_prefix("percentile") {
            let (low, high) = match rest.strip_prefix(':') {
                Some(bounds) => pair(bounds).ok_or_else(bad)?,
                None if rest.is_empty() => DEFAULT_PERCENTILES,
                None => return Err(bad()),
            };
            if !(0.0 <= low && low < high && high <= 100.0) {
                return Err(DaecfError::Config(format!(
                    "window {text}: the percentiles must satisfy 0 <= LOW < HIGH <= 100"
                )));
            }
            return Ok(Window::Percentile { low, high });
        }
        let (width, level) = pair(text).ok_or_else(bad)?;
        if !(width > 0.0 && width.is_finite() && level.is_finite()) {
            return Err(DaecfError::Config(format!("window {text}: the width must be a positive number")));
        }
        Ok(Window::Fixed { width, level })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Window::Auto => f.write_str("auto"),
            Window::Fixed { width, level } => match CT_WINDOWS.iter().find(|w| (w.1, w.2) == (width, level)) {
                Some((name, _, _)) => f.write_str(name),
                None => write!(f, "{width},{level}"),
            },
            Window::Percentile { low, high } => write!(f, "percentile:{low},{high}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn windows_parse_and_print() {
        for text in ["auto", "ct-bone", "ct-brain", "percentile:0.5,99.5", "350,50"] {
            assert_eq!(text.parse::<Window>().unwrap().to_string(), text);
        }
        assert_eq!("percentile".parse::<Window>().unwrap(), Window::Percentile { low: 1.0, high: 99.0 });
        assert_eq!("2000, 500".parse::<Window>().unwrap(), Window::Fixed { width: 2000.0, level: 500.0 });
        for (bad, why) in [
            ("bone", "not a window"),
            ("percentile:50,10", "LOW < HIGH"),
            ("-5,40", "positive number"),
            ("percentiles", "not a window"),
        ] {
            let err = bad.parse::<Window>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn ranges_follow_the_window() {
        let hu: Vec<f32> = (0..=100).map(|v| v as f32 * 20.0 - 1000.0).collect(); // -1000 to 1000
        assert_eq!("ct-brain".parse::<Window>().unwrap().range(&hu, None), (0.0, 80.0));
        assert_eq!(Window::Auto.range(&hu, Some((400.0, 40.0))), (-160.0, 240.0), "the file's window");
        assert_eq!(Window::Auto.range(&hu, None), (-980.0, 980.0), "1st to 99th percentile");
        let p = Window::Percentile { low: 0.0, high: 50.0 }.range(&hu, Some((1.0, 1.0)));
        assert_eq!(p, (-1000.0, 0.0), "percentiles ignore the stored window");
        assert_eq!((grey(-2000.0, (0.0, 80.0)), grey(40.0, (0.0, 80.0)), grey(90.0, (0.0, 80.0))), (0.0, 0.5, 1.0));
        assert_eq!((grey(3.0, (3.0, 3.0)), grey(4.0, (3.0, 3.0))), (0.0, 1.0), "a constant volume");
    }
}
