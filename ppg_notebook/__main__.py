"""`python -m ppg_notebook`: the `ppg-notebook` command."""

import sys

from .cli import main, without_launch_directory

if __name__ == "__main__":
    without_launch_directory()
    sys.exit(main())
