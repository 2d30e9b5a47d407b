"""Wall time per kind of operation of `daecf bench`, from `perf script` output.

Reads the samples of a `perf record` of `daecf bench` (scripts/profile-ops.sh makes it): CPU
clock samples of every thread and every context switch, with call stacks. The main thread
issues each operation; the pool threads run its parallel parts while it waits. Between two
events of the main thread (a sample while it runs, or the switch when it blocks on the pool),
the wall time goes to the operation on the main thread's stack at the first of them.

    perf script -F tid,time,event,ip,sym --no-inline -i perf.data | \\
        python3 scripts/profile_ops.py --train-steps 2 --eps-steps 6

Prints milliseconds per training step and per noise prediction in the categories of
scripts/pytorch_reference_step.py's torch.profiler table.
"""
import argparse
import re
import sys

# The first kind whose pattern matches a frame of the main thread's stack takes the time.
KINDS = [
    ('optimiser', r'burn_optim::|grad_clip'),
    ('EMA', r'::ema::|Ema'),
    ('conv backward (weight)', r'conv2d_weight_backward|conv2d_bias_backward'),
    ('conv backward (data)', r'conv2d_x_backward|conv_transpose'),
    ('conv forward', r'ModuleOps<burn_flex::backend::Flex>.*::conv2d$|conv2d_gemm::conv2d<'),
    ('matmul', r'burn_flex::ops::matmul'),
    ('group norm', r'GroupNorm'),
    ('attention', r'AttentionBlock|softmax'),
    ('resampling', r'avg_pool|repeat_dim|Resample'),
    ('random numbers', r'float_random|DistributionSampler'),
]
OTHER = 'element-wise, reductions, layout'
PHASES = [('train step', 'DaeTrainer::step'), ('noise prediction', 'DdimSampler')]


def events(lines):
    """(tid, seconds, stack) per event of `perf script -F tid,time,event,ip,sym`."""
    head, stack = None, []
    for line in lines:
        line = line.rstrip('\n')
        if not line.strip():
            if head:
                yield head[0], head[1], stack
            head, stack = None, []
        elif line[0] != '\t':
            fields = line.split()
            head, stack = (int(fields[0]), float(fields[1].rstrip(':'))), []
        else:
            parts = line.strip().split(' ', 1)
            stack.append(parts[1] if len(parts) > 1 else '')
    if head:
        yield head[0], head[1], stack


def kind_of(stack):
    """The kind of operation on a stack (innermost frames first)."""
    for kind, pattern in KINDS:
        if any(re.search(pattern, frame) for frame in stack):
            return kind
    return OTHER if any('burn_flex' in frame for frame in stack) else 'other'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--train-steps', type=int, required=True, help='training steps in the recording')
    parser.add_argument('--eps-steps', type=int, required=True, help='noise predictions in the recording')
    args = parser.parse_args()
    all_events = list(events(sys.stdin))
    main_tid = min(tid for tid, _, _ in all_events)
    timeline = sorted((t, stack) for tid, t, stack in all_events if tid == main_tid)
    counts = {'train step': args.train_steps, 'noise prediction': args.eps_steps}
    table = {phase: {} for phase, _ in PHASES}
    for (t, stack), (t_next, _) in zip(timeline, timeline[1:]):
        for phase, marker in PHASES:
            if any(marker in frame for frame in stack):
                kind = kind_of(stack)
                table[phase][kind] = table[phase].get(kind, 0.0) + (t_next - t)
                break
    for phase, kinds in table.items():
        total = sum(kinds.values())
        print(f'{phase}: {1e3 * total / counts[phase]:.1f} ms attributed per call')
        for kind, seconds in sorted(kinds.items(), key=lambda kv: -kv[1]):
            print(f'  {kind:34s} {1e3 * seconds / counts[phase]:9.1f} ms  {100 * seconds / total:5.1f} %')


if __name__ == '__main__':
    main()
