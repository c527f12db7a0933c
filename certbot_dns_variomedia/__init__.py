"""
The `~certbot_dns_variomedia.plugin` plugin automates the process of
completing a ``dns-01`` challenge (`~acme.challenges.DNS01`) by creating, and
subsequently removing, TXT records using the Variomedia customer API.

Unlike certbot's stock DNS plugins it does not sleep a fixed time: it writes all
records of the order, then asks every authoritative name server of each zone
directly and lets the CA validate the moment all of them show every record.


Named Arguments
---------------

===========================================  ============================================
``--dns-variomedia-credentials``             Variomedia credentials_ INI file.
                                             (Required)
``--dns-variomedia-propagation-seconds``     The longest time to wait for every
                                             authoritative name server to show the
                                             records; the wait ends as soon as they
                                             do. (Default: 300)
``--dns-variomedia-ttl``                     TTL of the TXT records, 300-86400.
                                             (Default: 300)
``--dns-variomedia-nameservers``             Comma-separated ``host[:port]`` list that
                                             replaces the discovery of the zone's
                                             authoritative name servers (split-horizon
                                             DNS, tests). (Default: discovered)
``--dns-variomedia-update-lock``             ``on``: make sure the domain's DNS update
                                             lock is on before writing; ``off``: leave
                                             the domain's settings alone. (Default: on)
===========================================  ============================================


Credentials
-----------

Use of this plugin requires a configuration file containing a Variomedia API
token. Variomedia enables the customer API per customer contact: ask their
support for a token.

.. code-block:: ini
   :name: variomedia.ini
   :caption: Example credentials file:

   # Variomedia API token used by Certbot
   dns_variomedia_token = 0123456789abcdef0123456789abcdef

The optional ``dns_variomedia_api_url`` (default ``https://api.variomedia.de``)
points the plugin elsewhere, e.g. at the simulator shipped in
``certbot_dns_variomedia.testing``; plain ``http://`` is accepted for loopback
addresses only.

The path to this file can be provided interactively or using the
``--dns-variomedia-credentials`` command-line argument. Certbot records the path
to this file for use during renewal, but does not store the file's contents.

.. caution::
   You should protect this API token as you would the password to your
   Variomedia account. Users who can read this file can use the token to issue
   arbitrary API calls on your behalf. Users who can cause Certbot to run using
   these credentials can complete a ``dns-01`` challenge to acquire new
   certificates or revoke existing certificates for associated domains, even if
   those domains aren't being managed by this server.

Certbot will emit a warning if it detects that the credentials file can be
accessed by other users on your system. The warning reads "Unsafe permissions
on credentials configuration file", followed by the path to the credentials
file. This warning will be emitted each time Certbot uses the credentials file,
including for renewal, and cannot be silenced except by addressing the issue
(e.g., by using a command like ``chmod 600`` to restrict access to the file).


Examples
--------

.. code-block:: bash
   :caption: To acquire a certificate for ``example.de`` and ``*.example.de``

   certbot certonly \\
     --authenticator dns-variomedia \\
     --dns-variomedia-credentials ~/.secrets/certbot/variomedia.ini \\
     -d example.de \\
     -d '*.example.de'

.. code-block:: bash
   :caption: To acquire a certificate for names in two zones, with a longer
             maximum wait

   certbot certonly \\
     --authenticator dns-variomedia \\
     --dns-variomedia-credentials ~/.secrets/certbot/variomedia.ini \\
     --dns-variomedia-propagation-seconds 900 \\
     -d www.example.de \\
     -d shop.example.org
"""

__version__ = "0.1.0.dev0"
