//! Loading reference weights: the EMA copy is the default, and weights that do not fit the
//! model give an error naming every problem tensor.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use daecf_core::DaecfError;
use daecf_core::model::{CheckpointCopy, DaeConfig, DiffusionAutoencoder, ReferenceConfig};

fn fixture() -> (PathBuf, DaeConfig) {
    let dir = std::env::var_os("DAECF_PARITY_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/diffae-tiny"));
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
    let online_diff = latent_of(&online, &device).iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
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

#[test]
fn float16_reference_safetensors_load_as_float32() {
    use safetensors::{Dtype, SafeTensors, serialize};
    let device = Device::flex();
    let (dir, config) = fixture();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let halves: Vec<(String, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), Dtype::F32, "{name}");
            let data = view
                .data()
                .chunks_exact(4)
                .flat_map(|b| burn::tensor::f16::from_f32(f32::from_le_bytes(b.try_into().unwrap())).to_le_bytes())
                .collect();
            (name, view.shape().to_vec(), data)
        })
        .collect();
    let views: Vec<_> = halves
        .iter()
        .map(|(name, shape, data)| {
            (name.clone(), safetensors::tensor::TensorView::new(Dtype::F16, shape.clone(), data).unwrap())
        })
        .collect();
    let path = std::env::temp_dir().join(format!("daecf-f16-reference-{}.safetensors", std::process::id()));
    std::fs::write(&path, serialize(views, None).unwrap()).unwrap();

    let mut half = DiffusionAutoencoder::new(&config, &device).unwrap();
    half.load_reference(&path).unwrap();
    let mut full = DiffusionAutoencoder::new(&config, &device).unwrap();
    full.load_reference(dir.join("model.safetensors")).unwrap();
    // Saved again, every weight is float32: the cast happened on loading.
    half.save(&path).unwrap();
    let saved = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let saved = SafeTensors::deserialize(&saved).unwrap();
    assert!(saved.tensors().iter().all(|(_, v)| v.dtype() == Dtype::F32), "weights kept float16");
    let (a, b) = (latent_of(&half, &device), latent_of(&full, &device));
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    let scale = b.iter().map(|v| v.abs()).fold(0.0, f32::max);
    assert!(worst <= 1e-2 * scale, "float16 weights moved the latent by {worst} (scale {scale})");
}
