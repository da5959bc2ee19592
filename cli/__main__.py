"""`python -m jobtrail.cli` is the `jobtrail` command."""

import sys

from jobtrail.cli.main import main

sys.exit(main())
