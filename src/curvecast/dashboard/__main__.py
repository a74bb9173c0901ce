"""``python -m curvecast.dashboard --storage URL``: the dashboard without the main CLI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from curvecast.dashboard._cli import DESCRIPTION, EPILOG, add_arguments, run_dashboard


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` as ``curvecast dashboard`` does and serve; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m curvecast.dashboard", description=DESCRIPTION, epilog=EPILOG
    )
    add_arguments(parser)
    return run_dashboard(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
