"""`python -m jobtrail.api` is the `jobtrail` command."""

import sys

from .cli import main

sys.exit(main())
