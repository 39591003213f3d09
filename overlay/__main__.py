from overlay.cli.main import run

if __name__ == "__main__":  # the speech child process (multiprocessing "spawn") imports this module too
    run()
