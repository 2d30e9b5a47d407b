#!/usr/bin/env bash
# Carries a training run's checkpoint (what `daecf train --resume` reads: state.json, ema.bpk,
# online.bpk, optimizer.bpk, and the run's loss.csv) to and from a lent GPU machine, whose calls
# carry at most 64 MiB each way and bring back at most 8 files of 16 MiB: the demo preset's
# checkpoint is 92 MB, so it travels in two parts, each in its own call.
#
#   checkpoint-transfer.sh pack RUN DIR         # here: DIR/part-1 (Adam's moments, state, loss.csv)
#                                               #       and DIR/part-2 (weights, EMA)
#   checkpoint-transfer.sh unpack DIR RUN       # there, after each call that carried a part
#   checkpoint-transfer.sh send RUN OUT N       # there: part N of RUN's checkpoint into OUT, in
#                                               #       15 MiB pieces
#   checkpoint-transfer.sh join DIR... RUN      # here: the pieces of the calls' files back into RUN
set -euo pipefail

part_files() {  # the files of part $1, relative to a run folder
    case $1 in
        1) echo checkpoint/optimizer.bpk checkpoint/state.json loss.csv ;;
        2) echo checkpoint/online.bpk checkpoint/ema.bpk ;;
        *) echo "no part $1: 1 or 2" >&2; exit 2 ;;
    esac
}

case ${1:-} in
    pack)
        run=$2 dir=$3
        for n in 1 2; do
            rm -rf "$dir/part-$n" && mkdir -p "$dir/part-$n"
            for f in $(part_files $n); do cp "$run/$f" "$dir/part-$n/"; done
        done
        du -sh "$dir"/part-* ;;
    unpack)
        dir=$2 run=$3
        mkdir -p "$run/checkpoint"
        for part in "$dir"/part-*; do
            [[ -d $part ]] || continue
            for f in "$part"/*; do
                case ${f##*/} in loss.csv) mv "$f" "$run/" ;; *) mv "$f" "$run/checkpoint/" ;; esac
            done
        done
        ls -la "$run/checkpoint" ;;
    send)
        run=$2 out=$3 n=$4
        for f in $(part_files "$n"); do split -b 15m "$run/$f" "$out/${f##*/}.piece-"; done
        (cd "$run" && sha256sum $(part_files "$n")) | tee "$out/part-$n.sha256" ;;
    join)
        shift; run=${*: -1}; dirs=("${@:1:$#-1}")
        mkdir -p "$run/checkpoint"
        for d in "${dirs[@]}"; do
            for sums in "$d"/part-*.sha256; do
                sums=$(realpath "$sums")
                while read -r _ f; do
                    cat "$d/${f##*/}".piece-* > "$run/$f"
                done < "$sums"
                (cd "$run" && sha256sum -c --quiet "$sums")
            done
        done ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
esac
