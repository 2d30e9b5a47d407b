//! One interface to the phantoms' oracles: the severity of the graded finding, measured from
//! an image, and the grade it implies. Severity grows with the grade (vertebra: the centre
//! body's height loss 1 - min/max; retina: the number of lesions), so a counterfactual that
//! raises the grade should raise the measured severity.

use ndarray::{ArrayView3, Axis};

use super::{retina_oracle, vertebra_oracle};
use crate::Result;

/// A phantom's oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oracle {
    /// [`vertebra_oracle`]: Genant height loss of the centre body.
    Vertebra,
    /// [`retina_oracle`]: lesion count.
    Retina,
}

/// What an oracle read from one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OracleReading {
    /// The graded quantity (higher = more severe).
    pub severity: f32,
    /// The grade it implies.
    pub grade: u8,
}

impl Oracle {
    /// Reads one image ([C, H, W] in [0, 1]).
    pub fn read(&self, image: ArrayView3<f32>) -> Result<OracleReading> {
        match self {
            Self::Vertebra => {
                let m = vertebra_oracle::measure(image.index_axis(Axis(0), 0))?;
                Ok(OracleReading { severity: 1.0 - m.height_ratio, grade: m.grade })
            }
            Self::Retina => {
                let m = retina_oracle::measure(image)?;
                Ok(OracleReading { severity: (m.red_lesions + m.exudates) as f32, grade: m.grade })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::data::phantom::vertebra::{VertebraConfig, generate};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn severity_grows_with_the_true_grade() {
        let c = VertebraConfig::new().with_grade_weights([1.0, 0.0, 0.0, 1.0]);
        let oracle = crate::data::phantom::PhantomKind::Vertebra.oracle();
        let (mut low, mut high) = (Vec::new(), Vec::new());
        for i in 0..40 {
            let (img, t) = generate(&c, 3, i);
            let s = oracle.read(img.view()).unwrap().severity;
            if t.grade == 0 { low.push(s) } else { high.push(s) }
        }
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!(mean(&high) > mean(&low) + 0.3, "{} vs {}", mean(&high), mean(&low));
    }
}
