"""``python -m certbot_dns_variomedia.testing.variomedia``: serve until SIGINT or SIGTERM."""

import sys

from .simulator import main

sys.exit(main())
