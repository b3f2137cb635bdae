#!/usr/bin/env bash
# Set up and show the models at work on the shared data: detect the six faces of a group
# photograph, then verify a same-person and a different-person pair of LFW images.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${FACETRACK_DATA:-../shared/data}
if [ ! -d "$data" ]; then
    echo "shared data not found at $data; set FACETRACK_DATA=/path/to/data" >&2
    exit 1
fi
scripts/setup.sh
ft=.venv/bin/facetrack
lfw="$data/lfw/images_deepfunneled"

echo "== facetrack detect: the group photograph"
$ft detect "$data/stills/group_six.jpg" --out out/group_six_faces.jpg

echo "== facetrack verify: two photographs of the same person"
$ft verify "$lfw/Colin_Powell/Colin_Powell_0001.jpg" "$lfw/Colin_Powell/Colin_Powell_0002.jpg" || [ $? -eq 1 ]

echo "== facetrack verify: two different people"
$ft verify "$lfw/Colin_Powell/Colin_Powell_0001.jpg" "$lfw/George_W_Bush/George_W_Bush_0001.jpg" || [ $? -eq 1 ]
