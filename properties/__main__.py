"""``python -m convcheck.properties``: the ``convcheck`` command (see :mod:`convcheck.properties.cli`)."""

import sys

from convcheck.properties.cli import main

sys.exit(main())
