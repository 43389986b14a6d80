"""``python -m fireworks_training``."""

import sys

from .cli import main

sys.exit(main())
