"""python -m layerlaw ...: the command line (as build/layerlaw)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
