"""`python -m pytc COMMAND`: the same as the `pytc` command."""

import sys

from .cli import main

sys.exit(main())
