from overlay.cli import run

run()
