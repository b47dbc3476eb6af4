#!/bin/bash
# Train the runs that benchmarks/suite_loo.py scores (issue 31): for each suite data set D, the pooling seeker of the
# `example` preset (suite-D, 10 epochs, reused if present) and one HnS run of variant V (suite-D-V) with the
# variant's flags, 12 epochs with the budget falling over 8; each at the data set's native size and channels.
#
#   benchmarks/suite_runs.sh SUITE_DIR V "FLAGS" D [D ...]      e.g. benchmarks/suite_runs.sh /tmp/suite A "" tetrominoes
#
# SUITE_DIR/D is written first by: python -m utils.data.suite D SUITE_DIR/D --train 2000 --val 500 --test 500
# Each stage's output goes to SUITE_DIR/logs/D.<stage>.log, its seconds to SUITE_DIR/logs/times.
set -u
cd "$(dirname "$0")/.."
P=.venv/bin/python
SUITE=$1; V=$2; FLAGS=$3; shift 3
mkdir -p "$SUITE/logs"
for D in "$@"; do
  # the data set's native size and channels, from the suite's registry
  read -r SIZE CH < <($P -c "from utils.data.suite.registry import data_set; d = data_set('$D'); print(d.size, d.channels)")
  common="--config example --data_dir $SUITE/$D --image_size $SIZE --channels $CH --quiet"
  L=$SUITE/logs/$D
  if [ ! -f "weights/example/seeker+pooling/suite-$D/best.weights.h5" ]; then
    s=$(date +%s); $P pretrain_seeker.py $common --identifier "suite-$D" --max_epochs 10 > "$L.seeker.log" 2>&1
    rc=$?; echo "$D seeker $(( $(date +%s) - s )) s rc=$rc" >> "$SUITE/logs/times"
    $P baseline.py $common --identifier "suite-$D" > "$L.baseline.log" 2>&1
  fi
  s=$(date +%s)
  # shellcheck disable=SC2086
  $P collaborative_training.py $common --identifier "suite-$D-$V" \
    --seeker_weights "weights/example/seeker+pooling/suite-$D/best.weights.h5" \
    --baseline "results/example/seeker+pooling/suite-$D/baseline.json" --max_epochs 12 --budget_epochs 8 $FLAGS \
    > "$L.hns-$V.log" 2>&1
  rc=$?; echo "$D hns-$V $(( $(date +%s) - s )) s rc=$rc" >> "$SUITE/logs/times"
done
