"""``python -m infra.sagemaker``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())
