"""Sums CubeCL's per-kernel profile of a `daecf bench` run on wgpu or cuda, step by step.

CubeCL times every kernel it launches when asked to, and writes one line per kernel
("| 2.375ms    | DirectConv2dKernel_db255ef6"):

    CUBECL_DEBUG_LOG=/tmp/cubecl.log CUBECL_DEBUG_OPTION=profile \\
        daecf bench --backend wgpu --preset tiny32 --res-blocks 1 --batch 64 --steps 2
    python3 scripts/kernel_profile.py /tmp/cubecl.log

A training step opens with the dropout masks of its forward pass, a burst of PRNG kernels, so
the log is cut into segments there: the first holds model set-up (and, in a build with the
`autotune` feature, the tuning runs), the later ones one training step each (the last also the
bench's DDIM steps). For each segment: its kernel count and GPU time by kernel family; for the
last full step, its costliest kernels.
"""
import argparse
import collections
import re

UNIT_MS = {'ns': 1e-6, 'µs': 1e-3, 'us': 1e-3, 'ms': 1.0, 's': 1e3}
LINE = re.compile(r'\|\s*([0-9.]+)(ns|µs|us|ms|s)\s*\|\s*(.*)')


def read_kernels(path):
    """(milliseconds, kernel name) for every timed kernel line of a CubeCL log."""
    kernels = []
    with open(path, errors='replace') as log:
        for line in log:
            m = LINE.match(line)
            if m:
                kernels.append((float(m.group(1)) * UNIT_MS[m.group(2)], re.sub(r'\s+', ' ', m.group(3))[:70]))
    return kernels


def family(name):
    """The kernel's type without its specialisation hash: DirectConv2dKernel_db255ef6 -> DirectConv2dKernel."""
    return re.sub(r'_[0-9a-f]{8}.*', '', name.split(' |')[0])


def step_starts(kernels, gap):
    """Indices where a burst of PRNG kernels begins after at least `gap` other kernels."""
    prng = [i for i, (_, name) in enumerate(kernels) if 'Prng' in name]
    return [0] + [b for a, b in zip(prng, prng[1:]) if b - a > gap]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('log', help='the file CUBECL_DEBUG_LOG named')
    parser.add_argument('--gap', type=int, default=2000, help='kernels between two PRNG bursts that start a new step')
    parser.add_argument('--top', type=int, default=12, help='kernels listed for the last full step')
    args = parser.parse_args()
    kernels = read_kernels(args.log)
    if not kernels:
        raise SystemExit(f'{args.log} has no timed kernels: was CUBECL_DEBUG_OPTION=profile set?')
    starts = step_starts(kernels, args.gap)
    segments = [kernels[a:b] for a, b in zip(starts, starts[1:] + [len(kernels)])]
    for i, seg in enumerate(segments):
        total = sum(ms for ms, _ in seg)
        by_family = collections.Counter()
        for ms, name in seg:
            by_family[family(name)] += ms
        top = ', '.join(f'{name} {ms:.0f}' for name, ms in by_family.most_common(6))
        print(f'segment {i}: {len(seg)} kernels, {total:.1f} ms GPU: {top}')
    step = segments[-2] if len(segments) > 2 else segments[-1]
    total = sum(ms for ms, _ in step)
    per_kernel, calls = collections.Counter(), collections.Counter()
    for ms, name in step:
        per_kernel[name] += ms
        calls[name] += 1
    print(f'\nlast full step ({len(step)} kernels, {total:.1f} ms):')
    for name, ms in per_kernel.most_common(args.top):
        print(f'{ms:8.1f} ms {100 * ms / total:5.1f} % {calls[name]:5d}x {1000 * ms / calls[name]:8.1f} us/call  {name}')
    short = [ms for ms, _ in step if ms < 0.02]
    print(f'kernels under 20 us: {len(short)}, {sum(short):.1f} ms')


if __name__ == '__main__':
    main()
