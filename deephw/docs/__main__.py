"""``python -m deephw.docs``: build the documentation site."""

import sys

from deephw.docs.build import main

if __name__ == "__main__":
    sys.exit(main())
