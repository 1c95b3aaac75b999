"""``python -m properties``: the ``convcheck`` command (see :mod:`properties.cli`)."""

import sys

from properties.cli import main

sys.exit(main())
