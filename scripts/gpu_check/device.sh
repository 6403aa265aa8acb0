#!/usr/bin/env bash
# The NVIDIA check on the GPU machine (see prepare.sh and the README's "NVIDIA GPUs").
#   device.sh stash  keep the carried part(s) of the onnxruntime-gpu wheel in .gpu-stash/
#   device.sh check  assemble and install it (one flavour), then: nvidia-smi, providers --json,
#                    bench hardware cpu,cuda on the demo photos and on 100 ecssd-dev photos,
#                    and the mid-batch faults; every output goes to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/alphacut-gpu-check}"
mkdir -p "$OUT" .gpu-stash
export PYTHONUNBUFFERED=1
case "${1:-}" in
stash)
  cp .gpu/ort/*.part-* .gpu-stash/ && ls -la .gpu-stash
  exit
  ;;
check) ;;
*)
  echo "usage: device.sh stash|check" >&2
  exit 2
  ;;
esac
log="$OUT/check.log"
step() { echo "== $*" | tee -a "$log"; }
step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee -a "$log"
python3 --version 2>&1 | tee -a "$log"

step "install: exactly one ONNX Runtime flavour (the image's CPU onnxruntime goes)"
first=$(ls .gpu-stash/*.part-* | head -1)
wheel="/tmp/$(basename "${first%.part-*}")"
cat .gpu-stash/*.part-* >"$wheel" || exit 1
python3 -m pip uninstall -q -y onnxruntime onnxruntime-gpu 2>&1 | tee -a "$log"
python3 -m pip install -q --no-index --no-deps --no-compile .gpu/wheels/*.whl "$wheel" \
  2>&1 | tee -a "$log"
ALPHACUT_ORT=cuda13 python3 -m pip install -q --no-index --no-deps --no-build-isolation . \
  2>&1 | tee -a "$log"
python3 -m pip list 2>/dev/null | grep -i -E '^(onnxruntime|alphacut|nvidia-(cud|cub|ml))' \
  | tee -a "$log"
export ALPHACUT_HOME="$PWD/.gpu/home"

step "alphacut providers --json"
alphacut providers --json >"$OUT/providers.json" 2>>"$log"
alphacut providers 2>&1 | tee -a "$log"

step "bench hardware cpu,cuda: demo photos"
alphacut bench hardware --providers cpu,cuda --runs 3 --json "$OUT/bench-demo.json" 2>&1 \
  | tee -a "$log"
step "bench hardware cpu,cuda: 100 ecssd-dev photos"
alphacut bench hardware --providers cpu,cuda --runs 3 --images .gpu/ecssd/images \
  --json "$OUT/bench-ecssd.json" 2>&1 | tee -a "$log"
step "bench hardware cpu,cuda: 100 ecssd-dev photos, --refine none"
alphacut bench hardware --providers cpu,cuda --runs 3 --images .gpu/ecssd/images \
  --refine none --json "$OUT/bench-ecssd-plain.json" 2>&1 | tee -a "$log"

step "mid-batch faults: CPU fallback"
python3 scripts/gpu_check/fault_mid_batch.py --images .gpu/ecssd/images 2>&1 \
  | tee "$OUT/faults.jsonl" | tee -a "$log"
step "done"
