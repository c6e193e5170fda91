"""`python -m vigil.cli`: how `vigil up` starts its worker and API with this same interpreter."""

from vigil.cli.app import main

main()
