"""``python -m beampipe`` is the ``beampipe`` command."""
from __future__ import annotations

import sys

from beampipe.cli import main

sys.exit(main())
