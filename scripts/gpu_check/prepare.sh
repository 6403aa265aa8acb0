#!/usr/bin/env bash
# Prepare the NVIDIA check for a GPU machine that cannot reach the network (the H200 the
# device tool lends): everything it needs goes into .gpu/ (git-ignored), split so that each
# device call carries at most 56 MiB. Run here, from anywhere, with network access to PyPI
# and ../shared/data beside the checkout. Then follow the carry plan it prints (README:
# "NVIDIA GPUs", hardware check).
set -euo pipefail
cd "$(dirname "$0")/../.."
ORT_GPU="${ORT_GPU:-onnxruntime-gpu==1.31.1}"  # CUDA 13 build: the H200 image has CUDA 13 wheels
PY="${PY:-3.12}"                               # the H200 image's python3
DATA="${DATA:-../shared/data/ecssd-dev/images}"
HOME_CACHE="${ALPHACUT_CACHE:-$HOME/.cache/alphacut}"
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
           --platform manylinux1_x86_64 --platform any)
# Installed in the H200 image already (KINDS.md), so not carried.
DEVICE_HAS="numpy scipy pillow rich psutil numba llvmlite markdown_it_py mdurl pygments
typing_extensions packaging protobuf flatbuffers sympy mpmath coloredlogs humanfriendly
nvidia_ml_py setuptools wheel"

rm -rf .gpu && mkdir -p .gpu/wheels .gpu/ort .gpu/home/cache/models .gpu/home/cache/samples \
  .gpu/ecssd
download() {
  python3 -m pip download -q --only-binary=:all: --python-version "$PY" --implementation cp \
    "${PLATFORMS[@]}" "$@"
}
# ONNX Runtime's CUDA build alone (its CUDA/cuDNN wheels are in the image), in parts.
download --no-deps -d .gpu/ort "$ORT_GPU"
wheel=$(ls .gpu/ort/*.whl)
(cd .gpu/ort && split -b 56M -d "$(basename "$wheel")" "$(basename "$wheel").part-")
rm "$wheel"
# alphacut's own dependencies, less what the image has; setuptools to build alphacut there.
download -d .gpu/wheels textual textual-image pymatting zlib-ng tomli-w plotext platformdirs \
  'setuptools>=77'
for name in $DEVICE_HAS; do
  [ "$name" = setuptools ] && continue
  rm -f .gpu/wheels/"$name"-[0-9]*.whl
done
cp "$HOME_CACHE/models/u2netp.onnx" .gpu/home/cache/models/
cp "$HOME_CACHE"/samples/* .gpu/home/cache/samples/
cp -r "$DATA" .gpu/ecssd/images
du -sh .gpu/* .gpu/ort/*
echo
echo "carry plan (device run calls, back to back while the machine stays warm):"
for part in .gpu/ort/*.part-*; do
  echo "  carry [\"$part\"]: bash scripts/gpu_check/device.sh stash"
done
echo "  carry [\".gpu/wheels\", \".gpu/home\", \".gpu/ecssd\"]: bash scripts/gpu_check/device.sh check"
