#!/bin/sh
# Replay the sameness streams with this tree and print a digest of every output file.
#
#   bench/same_output.sh STREAMS OUT        (run in a tree; uses its .venv if it has one)
#
# STREAMS is made once, by any tree, with:
#   python3 ../shared/eval/scorecard.py gen STREAMS/sc1 --seed 1   (and --seed 2, --seed 3)
#   spendwatch simulate --hours 24 --gpus 16 --billing-days 21 --out STREAMS/sim.jsonl
# and, optionally, realistic streams (every STREAMS/real*/events.jsonl is replayed too):
#   python -m collectors.simulate.realistic gen STREAMS/real1 --seed 1
# Run it in the tree before a change and in the tree after it, with two OUT folders: a pure
# speed change must print the same digests (`diff` the two outputs).
set -eu
streams=$1
out=$2
py=python3
[ -x .venv/bin/python ] && py=.venv/bin/python
mkdir -p "$out"
names="sc1 sc2 sc3 sim"
for d in "$streams"/real*; do
    if [ -f "$d/events.jsonl" ]; then names="$names $(basename "$d")"; fi
done
for name in $names; do
    src="$streams/$name/events.jsonl"
    [ "$name" = sim ] && src="$streams/sim.jsonl"
    "$py" -m spendwatch.cli replay "$src" --out "$out/$name.anomalies.jsonl" \
        --insights "$out/$name.insights.jsonl" --progress never 2>"$out/$name.stderr"
done
cd "$out" && sha256sum -- *.anomalies.jsonl *.insights.jsonl && wc -l -- *.anomalies.jsonl | tail -1
