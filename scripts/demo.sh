#!/usr/bin/env bash
# Set up, then show the whole product on the shared data: make a video in which LFW people
# cross the view (four of them enrolled from other photographs, two never enrolled), enroll
# the four, run the live tracker on the video as a camera with the embedded Redis, and print
# the identity events as a subscriber receives them from Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${FACETRACK_DATA:-../shared/data}
if [ ! -d "$data/lfw" ]; then
    echo "shared data not found at $data; set FACETRACK_DATA=/path/to/data" >&2
    exit 1
fi
scripts/setup.sh
ft=.venv/bin/facetrack
demo=data/demo
export FACETRACK__REDIS__DATA_DIR=$demo/redis  # a fresh event stream for the demo

echo "== the demo video: LFW faces crossing a background"
rm -rf "$demo"
.venv/bin/python -m pipelines.eval.synthetic --lfw "$data/lfw" --out "$demo"

echo "== facetrack enroll: four people, three other photographs each"
# exit status 1: some photographs were refused (each named, with the reason), the rest enrolled
$ft enroll --dir "$demo/enroll" --gallery "$demo/gallery.db" || [ $? -eq 1 ]

echo "== facetrack run: the video as camera 'demo'; facetrack events prints what arrives on Redis"
$ft events --since 0 &
subscriber=$!
trap 'kill $subscriber 2>/dev/null || true' EXIT
$ft run --gallery "$demo/gallery.db" --camera "demo=$demo/video.avi"
sleep 1  # the last events reach the subscriber
