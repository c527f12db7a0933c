"""The core every front door shares: plan → present → wait → remove, for a batch of challenges.

It knows neither certbot nor argparse: the plugin, the ``variomedia-dns`` command and
`certbot_dns_variomedia.issue` are thin front doors on top of `core.run.ChallengeRun`.
"""
