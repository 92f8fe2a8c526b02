"""``python -m app`` is ``cordon``."""

import sys

from app.main import main

sys.exit(main())
