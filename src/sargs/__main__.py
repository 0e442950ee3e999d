"""`python -m sargs` is the `sargs` command."""

from sargs.bootstrap import main

main()
