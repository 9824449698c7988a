"""`python -m cwsim`: the `cwsim` command."""

import sys

from cwsim.scenarios.cli import main

sys.exit(main())
