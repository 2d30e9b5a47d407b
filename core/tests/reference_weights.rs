//! Loading reference weights: the EMA copy is the default, and weights that do not fit the
//! model give an error naming every problem tensor.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use daecf_core::DaecfError;
use daecf_core::model::{CheckpointCopy, DaeConfig, DiffusionAutoencoder, ReferenceConfig};

fn fixture() -> (PathBuf, DaeConfig) {
    let dir = std::env::var_os("DAECF_PARITY_FIXTURE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/diffae-tiny")
    });
    let text = std::fs::read_to_string(dir.join("config.json")).expect("fixture config.json");
    (dir, ReferenceConfig::from_json(&text).unwrap().model)
}

fn latent_of(model: &DiffusionAutoencoder, device: &Device) -> Vec<f32> {
    let size = model.config.image_size;
    let x = Tensor::<4>::ones([1, model.config.in_channels, size, size], device) * 0.25;
    model.encode(x).into_data().try_to_vec().unwrap()
}

#[test]
fn the_ckpt_loads_the_ema_copy_by_default() {
    let device = Device::flex();
    let (dir, config) = fixture();
    let mut from_safetensors = DiffusionAutoencoder::new(&config, &device).unwrap();
    from_safetensors.load_reference(dir.join("model.safetensors")).unwrap();
    let mut ema = DiffusionAutoencoder::new(&config, &device).unwrap();
    ema.load_reference(dir.join("model.ckpt")).unwrap();
    let mut online = DiffusionAutoencoder::new(&config, &device).unwrap();
    online.load_lightning_checkpoint(dir.join("model.ckpt"), CheckpointCopy::Online).unwrap();

    let want = latent_of(&from_safetensors, &device);
    assert_eq!(latent_of(&ema, &device), want);
    let online_diff = latent_of(&online, &device)
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(online_diff > 1e-3, "the online copy should differ from the EMA one");
}

#[test]
fn mismatched_weights_name_every_problem_tensor() {
    let device = Device::flex();
    let (dir, mut config) = fixture();
    // One more UNet level: new tensors are missing, and widths change.
    config.channel_mult.push(config.channel_mult.last().copied().unwrap());
    let mut model = DiffusionAutoencoder::new(&config, &device).unwrap();
    let err = model.load_reference(dir.join("model.safetensors")).unwrap_err();
    let DaecfError::Weights { details, .. } = &err else { panic!("{err}") };
    assert!(details.contains("missing: unet.output_blocks."), "{details}");
    assert!(details.to_lowercase().contains("shape mismatch"), "{details}");
    assert!(err.to_string().contains("model.safetensors"));
}

#[test]
fn a_missing_file_is_reported_by_name() {
    let device = Device::flex();
    let (dir, config) = fixture();
    let mut model = DiffusionAutoencoder::new(&config, &device).unwrap();
    let err = model.load_reference(dir.join("nope.ckpt")).unwrap_err().to_string();
    assert!(err.contains("nope.ckpt"), "{err}");
}
