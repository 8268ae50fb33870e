"""python -m scanner: the same as the `leakscan` command."""

import sys

from .cli import main

sys.exit(main())
