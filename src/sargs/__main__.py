"""`python -m sargs`, and the `sargs` script, is the command line (sargs.bootstrap.main)."""

from sargs.core import startup


def main() -> None:
    """The `sargs` command, with the garbage collector paused while it starts (sargs.core.startup)."""
    startup.pause()
    from sargs.bootstrap import main as command

    command()


if __name__ == "__main__":
    main()
