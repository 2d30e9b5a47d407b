//! Fitting the distance -> grade calibration with linfa's least squares.

use linfa::prelude::*;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2};

use crate::latent::{Calibration, CalibrationKind};
use crate::{DaecfError, Result};

/// Fits `kind` to signed distances and their true grades.
pub fn fit_calibration(kind: &CalibrationKind, distances: &[f32], grades: &[i64]) -> Result<Calibration> {
    let (d, g): (Vec<f64>, Vec<f64>) = match kind {
        CalibrationKind::Grades(chosen) => chosen
            .iter()
            .map(|&grade| {
                let ds: Vec<f64> =
                    distances.iter().zip(grades).filter(|(_, g)| **g == grade).map(|(&d, _)| d as f64).collect();
                if ds.is_empty() {
                    return Err(DaecfError::Data(format!(
                        "calibration on grades {chosen:?}: no training sample has grade {grade}; choose grades the \
                         training labels hold (--calibration grades:A,B)"
                    )));
                }
                Ok((ds.iter().sum::<f64>() / ds.len() as f64, grade as f64))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip(),
        _ => (distances.iter().map(|&d| d as f64).collect(), grades.iter().map(|&g| g as f64).collect()),
    };
    let degree = kind.degree();
    let features = Array2::from_shape_fn((d.len(), degree), |(i, k)| d[i].powi(k as i32 + 1));
    let fitted = LinearRegression::new()
        .fit(&DatasetBase::new(features, Array1::from(g)))
        .map_err(|e| DaecfError::Data(format!("fitting the calibration failed: {e}")))?;
    let mut coefficients = vec![fitted.intercept()];
    coefficients.extend(fitted.params().iter());
    if coefficients.iter().any(|c| !c.is_finite()) {
        return Err(DaecfError::Data(
            "the calibration is degenerate: the distances hardly vary; check that the latents differ between \
             grades (the labels, or a DAE trained longer)"
                .into(),
        ));
    }
    let bounds = |v: &mut dyn Iterator<Item = f64>| {
        v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)))
    };
    let (g_lo, g_hi) = bounds(&mut grades.iter().map(|&g| g as f64));
    Ok(Calibration {
        kind: kind.clone(),
        coefficients,
        grade_range: (g_lo as i64, g_hi as i64),
        distance_range: bounds(&mut distances.iter().map(|&d| d as f64)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn fits_lines_grade_means_and_polynomials() {
        // Distances exactly on g = 2 + 0.5 d.
        let d = [-4.0f32, -2.0, 0.0, 2.0, 4.0];
        let g = [0i64, 1, 2, 3, 4];
        let line = fit_calibration(&CalibrationKind::Linear, &d, &g).unwrap();
        assert!((line.coefficients[0] - 2.0).abs() < 1e-9 && (line.coefficients[1] - 0.5).abs() < 1e-9);
        assert_eq!((line.grade_range, line.distance_range), ((0, 4), (-4.0, 4.0)));
        // Through the means of grades 0 and 4 only: (-3, 0) and (5, 4) -> slope 0.5, intercept 1.5.
        let d2 = [-4.0f32, -2.0, 9.0, 4.0, 6.0];
        let g2 = [0i64, 0, 2, 4, 4];
        let means = fit_calibration(&CalibrationKind::Grades(vec![0, 4]), &d2, &g2).unwrap();
        assert!((means.coefficients[0] - 1.5).abs() < 1e-9 && (means.coefficients[1] - 0.5).abs() < 1e-9);
        assert!(
            fit_calibration(&CalibrationKind::Grades(vec![0, 3]), &d2, &g2)
                .unwrap_err()
                .to_string()
                .contains("grade 3")
        );
        // A quadratic through g = d^2 / 4.
        let d3 = [-2.0f32, -1.0, 0.0, 1.0, 2.0, 3.0];
        let g3: Vec<i64> = vec![1, 0, 0, 0, 1, 2];
        let quad = fit_calibration(&CalibrationKind::Polynomial(2), &d3, &g3).unwrap();
        assert_eq!(quad.coefficients.len(), 3);
        assert!(quad.coefficients[2] > 0.1);
    }
}
