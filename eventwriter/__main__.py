"""``python -m eventwriter``: the command-line tool (see :mod:`eventwriter.cli`)."""

import sys

from .cli import main

sys.exit(main())
