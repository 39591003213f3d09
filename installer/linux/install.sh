#!/usr/bin/env bash
# Install emotion-overlay for this user on Debian/Ubuntu: system libraries, the virtual
# camera, the app in its own virtual environment, and (with --service) start at login.
#
#   bash installer/linux/install.sh [--dry-run] [--service] [--no-virtual-camera] [--uninstall]
#
# Steps:
#   1. apt-get: PortAudio (microphone), ffmpeg, OpenGL/GLib (preview window), python3-venv,
#      and dlib's 68-point landmark model (libdlib-data; iBUG 300-W, non-commercial licence)
#   2. the "Emotion Overlay" virtual camera (virtual-camera.sh: v4l2loopback, loaded now and
#      at boot; read that script for the exclusive_caps choice) unless --no-virtual-camera
#   3. the app from this checkout into ~/.local/share/emotion-overlay/venv, with the command
#      linked as ~/.local/bin/emotion-overlay; then, unless it is there already, Whisper's tiny.en
#      model for captions (`emotion-overlay models pull whisper-tiny.en`: 78 MB, MIT, checked
#      against pinned sha256s); a failed download only warns (captions then use PocketSphinx)
#   4. with --service: `emotion-overlay service install` (systemd user unit, starts at login)
# --dry-run prints every step without doing it; --uninstall undoes 2-4 (system packages stay,
# since other programs may use them; your sessions and settings stay too).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SOURCE="$(cd "$HERE/../.." && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
VENV="$DATA_HOME/emotion-overlay/venv"
BIN_DIR="$HOME/.local/bin"
PACKAGES=(python3 python3-venv libportaudio2 ffmpeg libgl1 libglib2.0-0 libdlib-data)

dry_run=0
service=0
virtual_camera=1
uninstall=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --service) service=1 ;;
    --no-virtual-camera) virtual_camera=0 ;;
    --uninstall) uninstall=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (use --dry-run, --service, --no-virtual-camera, --uninstall)" >&2; exit 2 ;;
  esac
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

step() {  # run (or with --dry-run only print) one command
  echo "+ $*"
  [ "$dry_run" -eq 1 ] || "$@"
}

pull_caption_model() {  # step: `emotion-overlay models pull NAME` unless it is installed and intact; a failure only warns
  local exe="$VENV/bin/emotion-overlay" problem
  if [ "$dry_run" -eq 0 ] && "$exe" models verify "$1" >/dev/null 2>&1; then
    echo "install.sh: $1 is installed already"
    return 0
  fi
  echo "+ $exe models pull $1"
  [ "$dry_run" -eq 0 ] || return 0
  if problem="$("$exe" models pull "$1" 2>&1 >/dev/null)"; then
    echo "install.sh: $1 installed"
  else
    problem="${problem##*$'\n'}"
    echo "install.sh: warning: $1 was not installed, so captions use PocketSphinx: ${problem#*error: }" >&2
  fi
}

dry_flag=()
[ "$dry_run" -eq 0 ] || dry_flag=(--dry-run)

if [ "$uninstall" -eq 1 ]; then
  if [ -x "$VENV/bin/emotion-overlay" ] || [ "$dry_run" -eq 1 ]; then
    step "$VENV/bin/emotion-overlay" service uninstall
  fi
  step rm -f "$BIN_DIR/emotion-overlay"
  step rm -rf "$VENV"
  # (Run even with --dry-run: it prints its own steps then.)
[ "$virtual_camera" -eq 0 ] || bash "$HERE/virtual-camera.sh" --uninstall "${dry_flag[@]}"
  echo "install.sh: emotion-overlay removed (sessions and settings stay in $DATA_HOME/emotion-overlay and ~/.config/emotion-overlay)"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  cat >&2 <<MSG
install.sh: this script knows Debian and Ubuntu (apt-get). Elsewhere install PortAudio, ffmpeg,
Python 3.10+ with venv, and dlib's shape_predictor_68_face_landmarks.dat (or run
\`emotion-overlay models pull dlib-landmarks-68\` later), then:
  python3 -m venv "$VENV" && "$VENV/bin/pip" install "$SOURCE"
and set up v4l2loopback as installer/linux/virtual-camera.sh describes.
MSG
  exit 1
fi

step $sudo apt-get update -qq
step $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
[ "$virtual_camera" -eq 0 ] || bash "$HERE/virtual-camera.sh" "${dry_flag[@]}"  # prints its own steps
step python3 -m venv "$VENV"
step "$VENV/bin/python" -m pip install -q --upgrade pip
step "$VENV/bin/python" -m pip install -q "$SOURCE"
step mkdir -p "$BIN_DIR"
step ln -sf "$VENV/bin/emotion-overlay" "$BIN_DIR/emotion-overlay"
pull_caption_model whisper-tiny.en  # PocketSphinx stands in without it
[ "$service" -eq 0 ] || step "$VENV/bin/emotion-overlay" service install
step "$VENV/bin/emotion-overlay" doctor || true  # shows anything still missing, with its fix
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) echo "install.sh: add $BIN_DIR to your PATH (e.g. in ~/.profile) to type emotion-overlay" ;;
esac
echo "install.sh: done. Start it with: emotion-overlay start   (then pick \"Emotion Overlay\" as the camera)"
