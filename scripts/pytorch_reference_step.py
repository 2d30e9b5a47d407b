"""Times the reference PyTorch DAE (phizaz/diffae) on the CPU or a GPU, for comparison with `daecf bench`.

The training step is the paper's: random t, eps-MSE with the semantic encoder inside, backward,
gradient clipping at norm 1, Adam, EMA update. A noise prediction is one UNet evaluation with a
precomputed semantic latent (one DDIM step), in eval mode without gradients. Modes: f32, and
bf16 autocast (PyTorch's mixed precision, the counterpart of `daecf train --precision bf16`).
Needs PyTorch and a checkout of the reference code (phizaz/diffae, whose model/ it imports; it
is not part of daecf):

    # every preset and batch of the GPU table in docs/benchmarks.md
    python3 scripts/pytorch_reference_step.py --diffae PATH/TO/diffae [--steps 20]
    # one preset on the CPU, as `daecf bench --reference` runs it
    python3 scripts/pytorch_reference_step.py --diffae PATH --device cpu --preset tiny32 \\
        --batch 16 --steps 3 --eps-batches 1,8 [--profile] [--json]

Prints one line per measurement (ms, samples/s, peak GPU memory), or one JSON object with
`--json`. `--profile` adds torch.profiler's time per kind of operation (the categories of
`daecf bench --profile`) for one training step and one noise prediction at each eps batch.
"""
import argparse
import json
import sys
import time

import torch

PRESETS = {
    'paper64': dict(image_size=64, model_channels=64, channel_mult=(1, 2, 4, 8),
                    enc_channel_mult=(1, 2, 4, 8, 8), num_res_block=2),
    'tiny32': dict(image_size=32, model_channels=32, channel_mult=(1, 2, 4),
                   enc_channel_mult=(1, 2, 4, 4), num_res_block=2),
    'tiny32-rb1': dict(image_size=32, model_channels=32, channel_mult=(1, 2, 4),
                       enc_channel_mult=(1, 2, 4, 4), num_res_block=1),
}
GPU_RUNS = [('paper64', 16), ('paper64', 64), ('tiny32-rb1', 64)]


# The paper's autoencoder options (diffae's autoenc_base) for one grey channel.
FIXED = dict(in_channels=1, out_channels=1, attention_resolutions=(16,), embed_channels=512,
             enc_out_channels=512, enc_pool='adaptivenonzero', num_heads=1, resblock_updown=True,
             conv_resample=True, resnet_two_cond=True, resnet_use_zero_module=True, dropout=0.1)

# Kinds of operation, matched against torch.profiler's op names (and those of their callers):
# the first kind whose pattern matches an op or one of its callers takes its self time.
KINDS = [
    ('optimiser', ('Optimizer.step', 'clip_grad', '_foreach_norm')),
    ('EMA', ('_foreach_lerp',)),
    ('conv backward (data + weight)', ('convolution_backward', 'ConvolutionBackward')),
    ('conv forward', ('aten::convolution', 'aten::_convolution', 'mkldnn_convolution')),
    ('matmul', ('aten::mm', 'aten::bmm', 'aten::addmm', 'aten::matmul', 'MmBackward', 'BmmBackward',
                'AddmmBackward', 'aten::einsum')),
    ('group norm', ('group_norm', 'GroupNorm')),
    ('attention', ('softmax', 'Softmax')),
    ('resampling', ('upsample', 'avg_pool', 'Upsample', 'AvgPool')),
    ('random numbers', ('randn', 'randint', 'randperm', 'normal_', 'uniform_', 'bernoulli')),
]


def model_options(preset):
    """BeatGANsAutoencConfig's options for a preset (also what `daecf import` reads)."""
    p = dict(PRESETS[preset])
    blocks = p.pop('num_res_block')
    return dict(p, **FIXED, num_res_blocks=blocks, enc_num_res_block=blocks)


def make_model(preset, device):
    """The reference model of a preset, on `device`."""
    from model.unet_autoenc import BeatGANsAutoencConfig
    return BeatGANsAutoencConfig(**model_options(preset)).make_model().to(device)


def synchronize(device):
    """Waits for the device's queued work."""
    if device.type == 'cuda':
        torch.cuda.synchronize()


class Trainer:
    """Model, EMA copy, optimiser and the training images on a device; `step` is the paper's."""

    def __init__(self, preset, images, lr, ema_decay, seed, bf16=False):
        torch.manual_seed(seed)
        self.device = images.device
        self.model = make_model(preset, self.device).train()
        self.ema = make_model(preset, self.device).eval().requires_grad_(False)
        self.ema.load_state_dict(self.model.state_dict())
        self.params = list(self.model.parameters())
        self.ema_params = list(self.ema.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=lr)
        self.ema_decay = ema_decay
        self.bf16 = bf16
        self.images = images
        betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
        self.alpha_bar = torch.cumprod(1 - betas, 0).float().to(self.device)
        self.order = torch.empty(0, dtype=torch.long, device=self.device)

    def batch(self, size):
        """The next `size` images of a shuffled pass over the set (a new shuffle when it runs out)."""
        if self.order.numel() < size:
            self.order = torch.cat([self.order, torch.randperm(len(self.images), device=self.device)])
        idx, self.order = self.order[:size], self.order[size:]
        return self.images[idx]

    def step(self, size):
        """One training step; returns the loss as a device scalar (no synchronisation)."""
        x = self.batch(size)
        t = torch.randint(0, 1000, (size,), device=self.device)
        noise = torch.randn_like(x)
        a = self.alpha_bar[t].view(-1, 1, 1, 1)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            pred = self.model(a.sqrt() * x + (1 - a).sqrt() * noise, t, x_start=x).pred
        loss = torch.nn.functional.mse_loss(pred.float(), noise)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        with torch.no_grad():
            torch._foreach_lerp_(self.ema_params, self.params, 1 - self.ema_decay)
        return loss.detach()


def peak_memory(device):
    """Peak GPU bytes since the last reset; None on the CPU."""
    return torch.cuda.max_memory_allocated() if device.type == 'cuda' else None


def time_step(preset, batch, mode, steps, device):
    """Mean seconds of one training step after three warm-up steps on one batch of uniform
    noise, and peak GPU bytes."""
    size = PRESETS[preset]['image_size']
    images = torch.rand(batch, 1, size, size, device=device) * 2 - 1
    trainer = Trainer(preset, images, 1e-4, 0.9999, 0, bf16=(mode == 'bf16'))
    for _ in range(3):
        trainer.step(batch)
    synchronize(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.step(batch)
    synchronize(device)
    return (time.perf_counter() - started) / steps, peak_memory(device), trainer


class NoisePrediction:
    """One UNet evaluation at `batch` with the semantic latent computed once, as a DDIM step."""

    def __init__(self, preset, batch, device):
        torch.manual_seed(0)
        size = PRESETS[preset]['image_size']
        self.model = make_model(preset, device).eval()
        with torch.no_grad():
            self.cond = self.model.encode(torch.zeros(batch, 1, size, size, device=device))['cond']
        self.x = torch.randn(batch, 1, size, size, device=device)
        self.t = torch.full((batch,), 500, device=device, dtype=torch.long)

    def __call__(self):
        with torch.no_grad():
            return self.model(self.x, self.t, cond=self.cond).pred


def time_eps(preset, batch, steps, device):
    """Mean seconds of one noise prediction after two warm-ups."""
    predict = NoisePrediction(preset, batch, device)
    for _ in range(2):
        predict()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        predict()
    synchronize(device)
    return (time.perf_counter() - started) / steps


def kind_of(event):
    """The kind of operation of a profiler event, from its name and its callers' names."""
    names = []
    while event is not None:
        names.append(event.name)
        event = event.cpu_parent
    for kind, patterns in KINDS:
        if any(p in name for name in names for p in patterns):
            return kind
    return 'element-wise, reductions, layout'


def profile(work):
    """Seconds of self time per kind of operation while running `work` once."""
    from torch.profiler import ProfilerActivity
    with torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof:
        work()
    seconds = {}
    for event in prof.events():
        kind = kind_of(event)
        seconds[kind] = seconds.get(kind, 0.0) + event.self_cpu_time_total / 1e6
    return dict(sorted(seconds.items(), key=lambda kv: -kv[1]))


def measure_one(args, device):
    """One preset: training step at --batch, noise prediction at each --eps-batches."""
    result = dict(torch=torch.__version__, device=str(device), threads=torch.get_num_threads(),
                  preset=args.preset, batch=args.batch, modes={}, eps_seconds={})
    for mode in args.modes.split(','):
        seconds, peak, trainer = time_step(args.preset, args.batch, mode, args.steps, device)
        result['modes'][mode] = dict(train_step_seconds=seconds, peak_gpu_bytes=peak)
        if args.profile and mode == 'f32':
            result['train_step_profile'] = profile(lambda: trainer.step(args.batch))
    for batch in [int(b) for b in args.eps_batches.split(',') if b]:
        result['eps_seconds'][str(batch)] = time_eps(args.preset, batch, args.steps, device)
        if args.profile:
            result.setdefault('eps_profile', {})[str(batch)] = profile(NoisePrediction(args.preset, batch, device))
    return result


def print_one(result):
    """Prints `measure_one`'s result as lines."""
    print(f"torch {result['torch']} on {result['device']}, {result['threads']} threads: {result['preset']}")
    for mode, m in result['modes'].items():
        seconds = m['train_step_seconds']
        peak = '' if m['peak_gpu_bytes'] is None else f", peak {m['peak_gpu_bytes'] / 2**30:.2f} GiB"
        print(f"  train step batch {result['batch']} {mode}: {1e3 * seconds:.1f} ms, "
              f"{result['batch'] / seconds:.1f} samples/s{peak}")
    for batch, seconds in result['eps_seconds'].items():
        print(f'  noise prediction batch {batch}: {1e3 * seconds:.1f} ms')
    tables = [('train step', result.get('train_step_profile'))]
    tables += [(f'noise prediction batch {b}', p) for b, p in result.get('eps_profile', {}).items()]
    for title, table in tables:
        if table:
            print(f'  profile, {title}:')
            for kind, seconds in table.items():
                print(f'    {kind:34s} {1e3 * seconds:9.1f} ms')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--diffae', required=True, help='checkout of phizaz/diffae')
    parser.add_argument('--device', default='cuda', help='cuda (default) or cpu')
    parser.add_argument('--preset', choices=sorted(PRESETS), help='one preset (default: the GPU table)')
    parser.add_argument('--batch', type=int, default=16, help='training batch with --preset')
    parser.add_argument('--eps-batches', default='', help='noise prediction batches with --preset, e.g. 1,8')
    parser.add_argument('--modes', default='f32', help='precisions with --preset: f32, bf16 or f32,bf16')
    parser.add_argument('--steps', type=int, default=20, help='timed steps per measurement')
    parser.add_argument('--profile', action='store_true', help='time per kind of operation (torch.profiler)')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args()
    sys.path.insert(0, args.diffae)
    device = torch.device(args.device)
    if args.preset:
        result = measure_one(args, device)
        print(json.dumps(result)) if args.json else print_one(result)
        return
    print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    for preset, batch in GPU_RUNS:
        for mode in ('f32', 'bf16'):
            seconds, peak, _ = time_step(preset, batch, mode, args.steps, device)
            print(f'{preset} batch {batch} {mode}: {1e3 * seconds:.1f} ms/step, '
                  f'{batch / seconds:.0f} samples/s, peak {peak / 2**30:.2f} GiB', flush=True)


if __name__ == '__main__':
    main()
