"""``python -m costmodel`` is the ``costmodel`` command."""

import sys

from .cli import main

sys.exit(main())
