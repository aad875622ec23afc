"""`python -m shared.cli`: what the `pulih` script runs."""

from shared.cli import main

main()
