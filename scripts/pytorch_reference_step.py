"""Times the reference PyTorch DAE's training step on a GPU, for comparison with `daecf bench`.

The step is the paper's: random t, eps-MSE with the semantic encoder inside, backward, gradient
clipping at norm 1, Adam, EMA update. Modes: f32, and bf16 autocast (PyTorch's mixed precision,
the counterpart of `daecf train --precision bf16`). Needs PyTorch with CUDA and a checkout of
the reference code (phizaz/diffae, whose model/ it imports; it is not part of daecf):

    python3 scripts/pytorch_reference_step.py --diffae PATH/TO/diffae [--steps 20]

Prints one line per preset, batch and mode: ms a step, samples/s and peak GPU memory.
"""
import argparse
import copy
import sys
import time

import torch

PRESETS = {
    'paper64': dict(image_size=64, model_channels=64, channel_mult=(1, 2, 4, 8),
                    enc_channel_mult=(1, 2, 4, 8, 8), num_res_block=2),
    'tiny32-rb1': dict(image_size=32, model_channels=32, channel_mult=(1, 2, 4),
                       enc_channel_mult=(1, 2, 4, 4), num_res_block=1),
}
RUNS = [('paper64', 16), ('paper64', 64), ('tiny32-rb1', 64)]


def make_model(preset):
    """The reference model with the paper's autoencoder options (autoenc_base), 1 channel."""
    from model.unet_autoenc import BeatGANsAutoencConfig
    p = dict(PRESETS[preset])
    blocks = p.pop('num_res_block')
    config = BeatGANsAutoencConfig(
        in_channels=1, out_channels=1, attention_resolutions=(16,), embed_channels=512,
        enc_out_channels=512, enc_pool='adaptivenonzero', num_heads=1, resblock_updown=True,
        conv_resample=True, resnet_two_cond=True, resnet_use_zero_module=True, dropout=0.1,
        num_res_blocks=blocks, enc_num_res_block=blocks, **p)
    return config.make_model().cuda()


def time_step(preset, batch, mode, steps, alpha_bar):
    """Mean seconds of one training step after three warm-up steps, and peak GPU bytes."""
    torch.manual_seed(0)
    model = make_model(preset)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    size = PRESETS[preset]['image_size']
    x = torch.rand(batch, 1, size, size, device='cuda') * 2 - 1

    def step():
        t = torch.randint(0, 1000, (batch,), device='cuda')
        noise = torch.randn_like(x)
        a = alpha_bar[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x + (1 - a).sqrt() * noise
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=(mode == 'bf16')):
            pred = model(x_t, t, x_start=x).pred
        loss = torch.nn.functional.mse_loss(pred.float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            for e, q in zip(ema.parameters(), model.parameters()):
                e.lerp_(q, 1 - 0.9999)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps, torch.cuda.max_memory_allocated()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--diffae', required=True, help='checkout of phizaz/diffae')
    parser.add_argument('--steps', type=int, default=20, help='timed steps per run')
    args = parser.parse_args()
    sys.path.insert(0, args.diffae)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    alpha_bar = torch.cumprod(1 - betas, 0).float().cuda()
    print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    for preset, batch in RUNS:
        for mode in ('f32', 'bf16'):
            seconds, peak = time_step(preset, batch, mode, args.steps, alpha_bar)
            print(f'{preset} batch {batch} {mode}: {1e3 * seconds:.1f} ms/step, '
                  f'{batch / seconds:.0f} samples/s, peak {peak / 2**30:.2f} GiB', flush=True)


if __name__ == '__main__':
    main()
