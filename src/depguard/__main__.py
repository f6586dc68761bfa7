"""``python -m depguard``."""

from depguard.cli import main

main()
