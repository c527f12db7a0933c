"""``python -m certbot_dns_variomedia.cli``: the ``variomedia-dns`` command."""

import sys

from . import main

sys.exit(main())
