"""Trains the reference PyTorch DAE on a MedMNIST-layout .npz for a fixed wall-clock time, on a GPU.

The comparison run for daecf's own training: the model and step of `pytorch_reference_step.py`
(phizaz/diffae's BeatGANsAutoencModel; its `Trainer`: uniform t, eps-MSE with the semantic
encoder inside, gradient clipping at norm 1, Adam, EMA) on the images
`daecf phantom ... --npz` writes. It saves EMA snapshots at evenly spaced times as safetensors
with the reference parameter names, beside a reference `config.json`; `daecf import` turns each
into a daecf model file:

    daecf phantom vertebra --count 20000 --size 32 --npz vertebra32.npz
    python3 scripts/pytorch_reference_train.py --diffae PATH/TO/diffae --data vertebra32.npz \\
        --seconds 480 --out run
    daecf import --weights run/ema-3.safetensors --config run/config.json --out model.safetensors

`--init run/ema-3.safetensors` goes on from a snapshot (a later run, a new seed) where one
wall-clock budget does not reach: model and EMA start from it, Adam's moments anew.

`--batch 0` (the default) times 64, 128 and 256 first and takes the largest whose step costs
at most 1.4 times the step at 64: on a large GPU a small model's step is bound by kernel
launches, so a larger batch sees more images in the same number of steps.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_reference_step import PRESETS, Trainer, model_options, time_step  # noqa: E402


def reference_config(preset):
    """The preset in the `config.json` layout that `daecf import` reads."""
    diffusion = dict(betas='linear', T=1000, model_mean_type='eps', rescale_timesteps=False)
    return dict(preset=preset, model=model_options(preset), diffusion=diffusion)


def save_ema(trainer, path, half):
    """The EMA weights as safetensors with the reference names (`ema_model.` prefix)."""
    from safetensors.torch import save_file
    dtype = torch.float16 if half else torch.float32
    tensors = {f'ema_model.{k}': v.detach().to(dtype).contiguous().cpu() for k, v in trainer.ema.state_dict().items()}
    save_file(tensors, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--diffae', required=True, help='checkout of phizaz/diffae (its model/ package)')
    parser.add_argument('--data', required=True, help='MedMNIST-layout .npz (train_images, uint8)')
    parser.add_argument('--preset', default='tiny32-rb1', choices=sorted(PRESETS))
    parser.add_argument('--batch', type=int, default=0, help='batch size; 0 picks one (see above)')
    parser.add_argument('--lr', type=float, default=2e-4)
    parser.add_argument('--ema-decay', type=float, default=0.999)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--init', help='EMA snapshot of an earlier run to go on from (model and EMA start from it, Adam anew)')
    parser.add_argument('--seconds', type=float, required=True, help='wall-clock training time')
    parser.add_argument('--snapshots', type=int, default=3, help='EMA snapshots, evenly spaced in time')
    parser.add_argument('--half', action='store_true', help='save snapshots before the last in float16')
    parser.add_argument('--half-last', action='store_true', help='save the last snapshot in float16 too (half the size)')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.diffae)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'config.json'), 'w') as f:
        json.dump(reference_config(args.preset), f, indent=1)

    raw = np.load(args.data)['train_images']
    size = PRESETS[args.preset]['image_size']
    if raw.ndim == 3:
        raw = raw[:, None]
    elif raw.shape[-1] in (1, 3):
        raw = raw.transpose(0, 3, 1, 2)
    if raw.shape[1] != 1 or raw.shape[2:] != (size, size):
        sys.exit(f'{args.data}: images are {raw.shape[1:]}, the preset takes (1, {size}, {size})')
    images = torch.from_numpy(raw).cuda().float() / 127.5 - 1
    print(f'{torch.__version__} {torch.cuda.get_device_name()}: {len(images)} images of {size}x{size}', flush=True)

    batch = args.batch
    if batch == 0:
        times = {b: time_step(args.preset, b, 'f32', 15, images)[0] for b in (64, 128, 256)}
        print('step seconds by batch: ' + ', '.join(f'{b}: {t * 1e3:.1f} ms' for b, t in times.items()), flush=True)
        batch = max(b for b, t in times.items() if t <= 1.4 * times[64])
    print(f'training at batch {batch} for {args.seconds:.0f} s', flush=True)

    trainer = Trainer(args.preset, images, args.lr, args.ema_decay, args.seed)
    if args.init:
        from safetensors.torch import load_file
        state = {k.removeprefix('ema_model.'): v.float() for k, v in load_file(args.init).items()}
        trainer.model.load_state_dict(state)
        trainer.ema.load_state_dict(state)
        print(f'going on from {args.init}', flush=True)
    log = open(os.path.join(args.out, 'loss.csv'), 'w')
    log.write('step,samples,seconds,loss\n')
    started = time.perf_counter()
    marks = [args.seconds * (i + 1) / args.snapshots for i in range(args.snapshots)]
    step, losses = 0, []
    while marks:
        losses.append(trainer.step(batch))
        step += 1
        elapsed = time.perf_counter() - started
        if step % 200 == 0:
            mean = torch.stack(losses).mean().item()
            losses = []
            log.write(f'{step},{step * batch},{elapsed:.1f},{mean:.5f}\n')
            log.flush()
            print(f'step {step}: {step * batch} samples, {elapsed:.0f} s, loss {mean:.4f}', flush=True)
        if elapsed >= marks[0]:
            marks.pop(0)
            number = args.snapshots - len(marks)
            path = os.path.join(args.out, f'ema-{number}.safetensors')
            save_ema(trainer, path, half=args.half_last or (args.half and marks != []))
            print(f'snapshot {path}: step {step}, {step * batch} samples, {elapsed:.0f} s', flush=True)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    print(f'done: {step} steps, {step * batch} samples in {seconds:.0f} s '
          f'({step * batch / seconds:.0f} samples/s), peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB')


if __name__ == '__main__':
    main()
