#!/usr/bin/env bash
# The demo model's training run as `daecf train` stretches that any session and backend
# continues: the demo preset (tiny32 with one residual block per level, 32 px) on the 20000
# vertebra phantoms of phantom:vertebra:20000, lr 2e-4, EMA 0.999.
#
#   scripts/train-demo.sh DAECF BACKEND OUT [SECONDS]   # train a stretch into OUT
#   scripts/train-demo.sh record OUT BACKEND BATCH        # hand OUT's EMA on to the next stretch
#
# Sessions keep nothing outside the repository, so the run is carried in it: the relay folder
# (RELAY, default shared-models/demo/run) holds the EMA weights so far at f16
# (ema.f16.safetensors, 11 MB) and a line per stretch (stretches.csv). A stretch starts from
# those weights (`daecf train --init`: a fresh Adam, seed = the stretch's number, so no stretch
# repeats another's noise), or anew (seed 1) when the relay is empty; with a checkpoint in OUT it
# resumes that instead (--resume: the same session or machine). `record` writes OUT's EMA
# (checkpoint/ema.safetensors) back to the relay and adds the stretch's line (recording a resumed
# OUT again replaces it, with the rate over all its segments); commit both.
#
# DAECF: the daecf binary (a `--features tch` build for libtorch, `--features cuda,fusion` for
# cuda), also found as $DAECF by `record`. SECONDS: stop after this long as by Ctrl-C (a
# checkpoint is written); default: run on. BATCH (environment when training): default 256 on
# cuda, where a step takes about as long at 256 as at 64 (docs/benchmarks.md), 64 elsewhere.
set -euo pipefail

here=$(dirname "$0")
relay=${RELAY:-$here/../shared-models/demo/run}
weights=$relay/ema.f16.safetensors
log=$relay/stretches.csv
header=stretch,date,backend,batch,seed,steps,samples,samples_per_s,loss_last_100,samples_total
next_stretch() { if [[ -f $log ]]; then wc -l < "$log"; else echo 1; fi; }  # the header counts

if [[ ${1:-} == record ]]; then
    out=${2:?the run folder}
    backend=${3:?the backend it trained on}
    batch=${4:?the batch it trained at}
    mkdir -p "$relay"
    [[ -f $log ]] || echo "$header" > "$log"
    # A stretch resumed after its record (OUT/stretch names it) replaces its own line, the last;
    # that line's steps and rate give the time of the segments before this one.
    earlier_steps=0 earlier_rate=1
    if [[ -f $out/stretch ]]; then
        [[ $(tail -1 "$log") == "$(<"$out/stretch")",* ]] || { echo "$out was recorded as stretch $(<"$out/stretch"), no longer the last line of $log" >&2; exit 1; }
        IFS=, read -r _ _ _ _ _ earlier_steps _ earlier_rate _ < <(tail -1 "$log")
        sed -i '$d' "$log"
    fi
    stretch=$(next_stretch)
    seed=$stretch
    [[ -f $weights ]] || seed=1
    # loss.csv: step,loss,samples_per_s (the rate since the last start of the process, so over
    # the steps after earlier_steps); the stretch's rate is its samples over the segments' time.
    read -r steps rate loss < <(awk -F, -v e="$earlier_steps" -v er="$earlier_rate" \
        'NR > 1 { s = $1; r = $3; l[NR % 100] = $2; n++ }
        END { m = n < 100 ? n : 100; t = 0; for (k in l) t += l[k]
              printf "%d %.1f %.4f\n", s, s / (e / er + (s - e) / r), t / m }' "$out/loss.csv")
    before=$(awk -F, 'NR > 1 { t = $10 } END { print t + 0 }' "$log")
    "${DAECF:-daecf}" export --model "$out/checkpoint/ema.safetensors" --f16 --out "$weights"
    echo "$stretch,$(date -u +%F),$backend,$batch,$seed,$steps,$((steps * batch)),$rate,$loss,$((before + steps * batch))" >> "$log"
    echo "$stretch" > "$out/stretch"
    tail -1 "$log"
    exit 0
fi

daecf=${1:?the daecf binary}
backend=${2:?the backend: libtorch, cuda or cpu}
out=${3:?the run folder}
seconds=${4:-0}
default_batch=64
[[ $backend == cuda ]] && default_batch=256
batch=${BATCH:-$default_batch}
if [[ -f $out/checkpoint/state.json ]]; then
    start=(--resume)
elif [[ -f $weights ]]; then
    start=(--init "$weights" --seed "$(next_stretch)" --lr 2e-4 --ema-decay 0.999)
else
    start=(--preset tiny32 --res-blocks 1 --seed 1 --lr 2e-4 --ema-decay 0.999)
fi
echo "stretch from ${start[*]}, batch $batch" >&2
exec timeout -s INT -k 120 "$seconds" "$daecf" train --data phantom:vertebra:20000 --batch "$batch" \
    --steps 1000000 --checkpoint-every 500 --backend "$backend" "${start[@]}" --out "$out"
