"""Allow ``python -m phaseout``."""

from phaseout.cli import main

main()
