import sys

from swipeguard.cli import main

sys.exit(main())
