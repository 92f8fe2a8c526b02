"""``python -m server`` is ``cordon-server``."""

import sys

from server.cli import main

sys.exit(main())
