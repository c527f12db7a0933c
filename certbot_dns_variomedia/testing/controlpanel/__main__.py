"""``python -m certbot_dns_variomedia.testing.controlpanel``: serve until SIGINT or SIGTERM."""

import sys

from .simulator import main

sys.exit(main())
