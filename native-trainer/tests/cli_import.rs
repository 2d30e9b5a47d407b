//! End-to-end: `daecf import` turns the reference PyTorch DAE's weights (the parity fixture's
//! Lightning checkpoint and safetensors) into a daecf model file that encodes as the reference
//! does, and says what is wrong with a config or weights it cannot use.

mod common;

use std::path::PathBuf;

use common::{daecf, daecf_ok, temp_dir};

use burn::tensor::{Device, Tensor};
use daecf_core::model::{DiffusionAutoencoder, ReferenceConfig};

fn fixture() -> PathBuf {
    std::env::var_os("DAECF_PARITY_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/diffae-tiny"))
}

fn latent_of(model: &DiffusionAutoencoder, device: &Device) -> Vec<f32> {
    let size = model.config.image_size;
    let x = Tensor::<4>::ones([1, model.config.in_channels, size, size], device) * 0.25;
    model.encode(x).into_data().try_to_vec().unwrap()
}

#[test]
fn imported_models_encode_as_the_reference() {
    let (fx, tmp) = (fixture(), temp_dir("import"));
    let dir = tmp.path();
    let config = fx.join("config.json");
    let device = Device::flex();
    let mut reference = DiffusionAutoencoder::new(
        &ReferenceConfig::from_json(&std::fs::read_to_string(&config).unwrap()).unwrap().model,
        &device,
    )
    .unwrap();
    reference.load_reference(fx.join("model.safetensors")).unwrap();
    let want = latent_of(&reference, &device);
    for weights in ["model.ckpt", "model.safetensors"] {
        let out = dir.join(format!("{weights}.daecf.safetensors"));
        let run = daecf_ok(&[
            "import",
            "--weights",
            fx.join(weights).to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(String::from_utf8_lossy(&run.stdout).contains("32 px, 1 channel(s), width 32, mult [1, 2]"));
        let model = DiffusionAutoencoder::load(&out, &device).unwrap();
        assert_eq!(model.config, reference.config);
        assert_eq!(latent_of(&model, &device), want, "{weights}");
    }
}

#[test]
fn configs_and_weights_it_cannot_use_are_explained() {
    let (fx, tmp) = (fixture(), temp_dir("import-bad"));
    let dir = tmp.path();
    let text = std::fs::read_to_string(fx.join("config.json")).unwrap();
    let weights = fx.join("model.ckpt");
    let (config, out) = (dir.join("config.json"), dir.join("m.safetensors"));
    let import = |text: &str| {
        std::fs::write(&config, text).unwrap();
        daecf(&[
            "import",
            "--weights",
            weights.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let refused = |text: &str| {
        let run = import(text);
        assert!(!run.status.success());
        String::from_utf8_lossy(&run.stderr).into_owned()
    };
    let err = refused(&text.replace("\"model_channels\": 32", "\"model_channels\": 64"));
    assert!(err.contains("model.ckpt") && err.to_lowercase().contains("shape"), "{err}");
    let err = refused(&text.replace("\"enc_pool\": \"adaptivenonzero\"", "\"enc_pool\": \"flatten\""));
    assert!(err.contains("enc_pool"), "{err}");
    assert!(!out.exists(), "nothing is written on an error");
    // Another diffusion length is the model's own, kept in its config.
    assert!(import(&text.replace("\"T\": 1000", "\"T\": 500")).status.success());
    assert_eq!(daecf_core::model::read_checkpoint_config(&out).unwrap().timesteps, Some(500));
}
