#!/usr/bin/env bash
# Set up (or, with --uninstall, remove) the Linux virtual camera "Emotion Overlay": a
# v4l2loopback device that meeting apps list as a camera, loaded now and at every boot.
#
#   bash installer/linux/virtual-camera.sh [--dry-run] [--uninstall]
#
# Module options, and why:
#   devices=1 video_nr=10   one device at /dev/video10, clear of real cameras (video0..9)
#   card_label="Emotion Overlay"   the name Zoom, Meet, Teams and OBS show
#   exclusive_caps=1   the known trap. Chrome/Chromium (so Google Meet, Teams and Zoom on the
#       web) and the Zoom desktop app list only devices that report CAPTURE and not OUTPUT
#       capability. With exclusive_caps=1 the device reports OUTPUT only until a producer
#       (emotion-overlay) writes to it, then CAPTURE only, so the browsers see it; Firefox
#       sees it either way. The cost: the camera appears in apps only while emotion-overlay
#       is running, so start it first (or as the background service) and then pick the camera.
#   max_buffers=2   fewer queued frames: less latency in the meeting app
# Debian/Ubuntu only; elsewhere it says what to do. Needs root (uses sudo when not root).
set -euo pipefail

LABEL="Emotion Overlay"
VIDEO_NR=10
OPTIONS="devices=1 video_nr=${VIDEO_NR} card_label=\"${LABEL}\" exclusive_caps=1 max_buffers=2"
MODPROBE_CONF=/etc/modprobe.d/emotion-overlay-v4l2loopback.conf
LOAD_CONF=/etc/modules-load.d/emotion-overlay-v4l2loopback.conf

dry_run=0
uninstall=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --uninstall) uninstall=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "virtual-camera.sh: unknown option $arg (use --dry-run, --uninstall)" >&2; exit 2 ;;
  esac
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

step() {  # run (or with --dry-run only print) one command
  echo "+ $*"
  [ "$dry_run" -eq 1 ] || "$@"
}

write_file() {  # write_file PATH CONTENT
  echo "+ write $1: $2"
  [ "$dry_run" -eq 1 ] || printf '%s\n' "$2" | $sudo tee "$1" >/dev/null
}

if ! command -v apt-get >/dev/null && [ "$dry_run" -eq 0 ]; then
  cat >&2 <<MSG
virtual-camera.sh: this script knows Debian and Ubuntu (apt-get). Elsewhere, install
v4l2loopback (Fedora: akmod-v4l2loopback from RPM Fusion; Arch: v4l2loopback-dkms), then put
  options v4l2loopback ${OPTIONS}
in ${MODPROBE_CONF}, v4l2loopback in ${LOAD_CONF}, and run: sudo modprobe v4l2loopback
MSG
  exit 1
fi

if [ "$uninstall" -eq 1 ]; then
  if [ "$dry_run" -eq 1 ] || lsmod 2>/dev/null | grep -q '^v4l2loopback'; then
    step $sudo modprobe -r v4l2loopback
  fi
  step $sudo rm -f "$MODPROBE_CONF" "$LOAD_CONF"
  echo "virtual-camera.sh: removed the Emotion Overlay camera (the v4l2loopback-dkms package stays;"
  echo "  remove it with: sudo apt-get remove v4l2loopback-dkms)"
  exit 0
fi

step $sudo apt-get update -qq
# DKMS builds the module for the running kernel, which needs its headers.
step $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  v4l2loopback-dkms v4l2loopback-utils "linux-headers-$(uname -r)"
write_file "$MODPROBE_CONF" "options v4l2loopback ${OPTIONS}"
write_file "$LOAD_CONF" "v4l2loopback"
# Reload so the options apply now (fails if an app holds the device: close it first).
if [ "$dry_run" -eq 1 ] || lsmod 2>/dev/null | grep -q '^v4l2loopback'; then
  step $sudo modprobe -r v4l2loopback
fi
if ! step $sudo modprobe v4l2loopback; then
  cat >&2 <<MSG
virtual-camera.sh: the module did not load. With Secure Boot on, DKMS modules must be signed:
  sudo mokutil --import /var/lib/dkms/mok.pub   (then reboot and enrol the key), or turn Secure Boot off.
MSG
  exit 1
fi
if [ "$dry_run" -eq 0 ]; then
  name=$(cat "/sys/class/video4linux/video${VIDEO_NR}/name" 2>/dev/null || true)
  if [ "$name" != "$LABEL" ]; then
    echo "virtual-camera.sh: /dev/video${VIDEO_NR} is not named '${LABEL}' (got '${name}'); see dmesg" >&2
    exit 1
  fi
fi
echo "virtual-camera.sh: /dev/video${VIDEO_NR} '${LABEL}' is ready; start emotion-overlay, then pick it in your meeting app"
