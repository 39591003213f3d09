#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv and install emotion-overlay
# into it, with the optional extras given as arguments (e.g. `test`, `train`).
# Installs the Debian packages it needs first (python3-venv) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

extras="${*:-}"
python="${PYTHON:-python3}"

apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "venv.sh: please install $* with your system's package manager" >&2
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

command -v "$python" >/dev/null || apt_install python3
if ! "$python" -c "import venv, ensurepip" 2>/dev/null; then
  apt_install python3-venv
fi
# System libraries the Python packages load at run time: PortAudio (sounddevice), OpenGL and
# GLib (OpenCV's preview window), and dlib's 68-point face landmark model (iBUG 300-W,
# non-commercial licence) from Debian. Extra packages can be named in $APT_EXTRA (tests use it).
if command -v dpkg-query >/dev/null; then
  missing=()
  for pkg in libportaudio2 libgl1 libglib2.0-0 libdlib-data ${APT_EXTRA:-}; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip

spec="."
[ -n "$extras" ] && spec=".[$(echo "$extras" | tr ' ' ',')]"
# torch comes from the local CPU build when training is asked for (see README).
case " $extras " in *" train "*) .venv/bin/python -m pip install -q "torch==2.13.0" ;; esac
.venv/bin/python -m pip install -q -e "$spec"
echo "venv.sh: emotion-overlay installed in .venv (extras: ${extras:-none})"
# Whisper's tiny.en model for captions (78 MB, MIT; README "Models"), unless it is installed
# and intact. Without it captions come from PocketSphinx, so a failed download only warns.
if ! .venv/bin/emotion-overlay models verify whisper-tiny.en >/dev/null 2>&1; then
  if problem="$(.venv/bin/emotion-overlay models pull whisper-tiny.en 2>&1 >/dev/null)"; then
    echo "venv.sh: whisper-tiny.en installed"
  else
    problem="${problem##*$'\n'}"
    echo "venv.sh: warning: whisper-tiny.en was not installed, so captions use PocketSphinx: ${problem#*error: }" >&2
  fi
fi
