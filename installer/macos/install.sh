#!/usr/bin/env bash
# Install emotion-overlay for this user on macOS (written for macOS 13+ with Homebrew; NOT
# run by the project's CI, which is Linux: --dry-run is tested there, the real run is not).
#
#   bash installer/macos/install.sh [--dry-run] [--service] [--uninstall]
#
# Steps:
#   1. Homebrew: Python 3.11, PortAudio (microphone), ffmpeg; OBS Studio (cask), whose
#      virtual camera is the one pyvirtualcam uses on macOS
#   2. the app from this checkout into ~/Library/Application Support/emotion-overlay/venv,
#      linked as ~/.local/bin/emotion-overlay; dlib's landmark model via `models pull`, and
#      Whisper's tiny.en for captions (`models pull whisper-tiny.en`: 78 MB, MIT) unless it is
#      there already; a failed Whisper download only warns (captions then use PocketSphinx)
#   3. with --service: a launchd agent (~/Library/LaunchAgents/org.emotion-overlay.plist)
#      that starts `emotion-overlay run` at login, restarts it if it fails (at most every
#      30 s), and logs to ~/Library/Logs/emotion-overlay.log
# Once, by hand: open OBS and click "Start Virtual Camera" (macOS asks to allow its system
# extension), then quit OBS; afterwards "OBS Virtual Camera" is what you pick in Zoom/Meet/Teams.
# Camera and microphone: macOS asks for permission the first time (System Settings > Privacy).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SOURCE="$(cd "$HERE/../.." && pwd)"
APP_HOME="$HOME/Library/Application Support/emotion-overlay"
VENV="$APP_HOME/venv"
BIN_DIR="$HOME/.local/bin"
LABEL="org.emotion-overlay"
PLIST="$HOME/Library/LaunchAgents/$LABEL.plist"
LOG="$HOME/Library/Logs/emotion-overlay.log"

dry_run=0
service=0
uninstall=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --service) service=1 ;;
    --uninstall) uninstall=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (use --dry-run, --service, --uninstall)" >&2; exit 2 ;;
  esac
done

step() {  # run (or with --dry-run only print) one command
  echo "+ $*"
  [ "$dry_run" -eq 1 ] || "$@"
}

write_file() {  # write_file PATH CONTENT
  echo "+ write $1:"
  echo "$2"
  [ "$dry_run" -eq 1 ] || printf '%s\n' "$2" >"$1"
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

if [ "$(uname -s)" != "Darwin" ] && [ "$dry_run" -eq 0 ]; then
  echo "install.sh: this is the macOS installer; on Linux use installer/linux/install.sh" >&2
  exit 1
fi

if [ "$uninstall" -eq 1 ]; then
  step launchctl bootout "gui/$(id -u)/$LABEL" || true
  step rm -f "$PLIST" "$BIN_DIR/emotion-overlay"
  step rm -rf "$VENV"
  echo "install.sh: removed (sessions and settings stay in $APP_HOME; OBS stays installed)"
  exit 0
fi

if ! command -v brew >/dev/null && [ "$dry_run" -eq 0 ]; then
  echo "install.sh: needs Homebrew (https://brew.sh); install it, then run this again" >&2
  exit 1
fi
step brew install python@3.11 portaudio ffmpeg
step brew install --cask obs
step "$(brew --prefix 2>/dev/null || echo /opt/homebrew)/bin/python3.11" -m venv "$VENV"
step "$VENV/bin/python" -m pip install -q --upgrade pip
step "$VENV/bin/python" -m pip install -q "$SOURCE"
step "$VENV/bin/emotion-overlay" models pull dlib-landmarks-68
pull_caption_model whisper-tiny.en  # PocketSphinx stands in without it
step mkdir -p "$BIN_DIR"
step ln -sf "$VENV/bin/emotion-overlay" "$BIN_DIR/emotion-overlay"
if [ "$service" -eq 1 ]; then
  step mkdir -p "$HOME/Library/LaunchAgents" "$HOME/Library/Logs"
  write_file "$PLIST" "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">
<plist version=\"1.0\">
<dict>
  <key>Label</key><string>$LABEL</string>
  <key>ProgramArguments</key>
  <array><string>$VENV/bin/emotion-overlay</string><string>run</string></array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
  <key>ThrottleInterval</key><integer>30</integer>
  <key>StandardOutPath</key><string>$LOG</string>
  <key>StandardErrorPath</key><string>$LOG</string>
</dict>
</plist>"
  step launchctl bootstrap "gui/$(id -u)" "$PLIST"
fi
step "$VENV/bin/emotion-overlay" doctor || true
echo "install.sh: done. Start OBS's virtual camera once (see the top of this script), then: emotion-overlay start"
