#!/usr/bin/env bash
# Debian packages the tests need: GStreamer's RTSP server, run by Debian's Python, is the real
# RTSP camera of the live-tracker tests; Chromium and its driver run the dashboard test;
# PostgreSQL's server runs the shared-gallery tests (started by their fixtures, not as a service).
# Installs what is missing (as root, or with sudo). Without apt-get (not Debian) it says so
# and those tests skip with that reason.
set -euo pipefail
packages=(gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good
          gstreamer1.0-plugins-ugly chromium chromium-driver postgresql mosquitto)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "no apt-get: cannot install ${missing[*]}; the RTSP, browser and PostgreSQL tests will be skipped" >&2
    exit 0
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo -n"
echo "installing the Debian packages for the RTSP, browser and PostgreSQL tests: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
install() { $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /tmp/facetrack-apt.log 2>&1; }
if ! install; then
    $sudo apt-get update -qq > /tmp/facetrack-apt.log 2>&1 && install || {
        echo "apt-get could not install ${missing[*]} (log: /tmp/facetrack-apt.log)" >&2
        exit 1
    }
fi
