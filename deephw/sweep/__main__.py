"""``python -m deephw.sweep SWEEP.yaml ...`` / ``python -m deephw.sweep report DIR``."""

import sys

from deephw.sweep.cli import main

if __name__ == "__main__":
    sys.exit(main())
