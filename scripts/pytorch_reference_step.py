"""Times the reference PyTorch DAE's training step on a GPU, for comparison with `daecf bench`.

The step is the paper's: random t, eps-MSE with the semantic encoder inside, backward, gradient
clipping at norm 1, Adam, EMA update. Modes: f32, and bf16 autocast (PyTorch's mixed precision,
the counterpart of `daecf train --precision bf16`). Needs PyTorch with CUDA and a checkout of
the reference code (phizaz/diffae, whose model/ it imports; it is not part of daecf):

    python3 scripts/pytorch_reference_step.py --diffae PATH/TO/diffae [--steps 20]

Prints one line per preset, batch and mode: ms a step, samples/s and peak GPU memory.
"""
import argparse
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


# The paper's autoencoder options (diffae's autoenc_base) for one grey channel.
FIXED = dict(in_channels=1, out_channels=1, attention_resolutions=(16,), embed_channels=512,
             enc_out_channels=512, enc_pool='adaptivenonzero', num_heads=1, resblock_updown=True,
             conv_resample=True, resnet_two_cond=True, resnet_use_zero_module=True, dropout=0.1)


def model_options(preset):
    """BeatGANsAutoencConfig's options for a preset (also what `daecf import` reads)."""
    p = dict(PRESETS[preset])
    blocks = p.pop('num_res_block')
    return dict(p, **FIXED, num_res_blocks=blocks, enc_num_res_block=blocks)


def make_model(preset):
    """The reference model of a preset, on the GPU."""
    from model.unet_autoenc import BeatGANsAutoencConfig
    return BeatGANsAutoencConfig(**model_options(preset)).make_model().cuda()


class Trainer:
    """Model, EMA copy, optimiser and the training images on the GPU; `step` is the paper's."""

    def __init__(self, preset, images, lr, ema_decay, seed, bf16=False):
        torch.manual_seed(seed)
        self.model = make_model(preset).train()
        self.ema = make_model(preset).eval().requires_grad_(False)
        self.ema.load_state_dict(self.model.state_dict())
        self.params = list(self.model.parameters())
        self.ema_params = list(self.ema.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=lr)
        self.ema_decay = ema_decay
        self.bf16 = bf16
        self.images = images
        betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
        self.alpha_bar = torch.cumprod(1 - betas, 0).float().cuda()
        self.order = torch.empty(0, dtype=torch.long, device='cuda')

    def batch(self, size):
        """The next `size` images of a shuffled pass over the set (a new shuffle when it runs out)."""
        if self.order.numel() < size:
            self.order = torch.cat([self.order, torch.randperm(len(self.images), device='cuda')])
        idx, self.order = self.order[:size], self.order[size:]
        return self.images[idx]

    def step(self, size):
        """One training step; returns the loss as a GPU scalar (no synchronisation)."""
        x = self.batch(size)
        t = torch.randint(0, 1000, (size,), device='cuda')
        noise = torch.randn_like(x)
        a = self.alpha_bar[t].view(-1, 1, 1, 1)
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=self.bf16):
            pred = self.model(a.sqrt() * x + (1 - a).sqrt() * noise, t, x_start=x).pred
        loss = torch.nn.functional.mse_loss(pred.float(), noise)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(self.ema_params, self.params, 1 - self.ema_decay)
        return loss.detach()


def time_step(preset, batch, mode, steps, images=None):
    """Mean seconds of one training step after three warm-up steps, and peak GPU bytes; on
    `images` when given, else on one batch of uniform noise."""
    size = PRESETS[preset]['image_size']
    if images is None:
        images = torch.rand(batch, 1, size, size, device='cuda') * 2 - 1
    trainer = Trainer(preset, images, 1e-4, 0.9999, 0, bf16=(mode == 'bf16'))
    for _ in range(3):
        trainer.step(batch)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.step(batch)
    torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps, torch.cuda.max_memory_allocated()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--diffae', required=True, help='checkout of phizaz/diffae')
    parser.add_argument('--steps', type=int, default=20, help='timed steps per run')
    args = parser.parse_args()
    sys.path.insert(0, args.diffae)
    print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    for preset, batch in RUNS:
        for mode in ('f32', 'bf16'):
            seconds, peak = time_step(preset, batch, mode, args.steps)
            print(f'{preset} batch {batch} {mode}: {1e3 * seconds:.1f} ms/step, '
                  f'{batch / seconds:.0f} samples/s, peak {peak / 2**30:.2f} GiB', flush=True)


if __name__ == '__main__':
    main()
