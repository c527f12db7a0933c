"""The mail-security Control Panel: a small API client and the mail-gateway certificate audit.

``client`` speaks to the API, ``tls`` looks at the gateways' certificates, ``audit`` puts both
together, ``cli`` is the ``cp-audit`` command. Nothing here knows about certbot.
"""

from __future__ import annotations

from .client import ControlPanelClient
from .credentials import ControlPanelCredentials, load_controlpanel_credentials
from .errors import ControlPanelError
from .models import (
    Coded,
    Direction,
    Email,
    EmailPage,
    Encryption,
    HierarchyObject,
    Login,
    SmtpTls,
    StatisticsEntry,
    Whitelabeling,
)

__all__ = [
    "Coded",
    "ControlPanelClient",
    "ControlPanelCredentials",
    "ControlPanelError",
    "Direction",
    "Email",
    "EmailPage",
    "Encryption",
    "HierarchyObject",
    "Login",
    "SmtpTls",
    "StatisticsEntry",
    "Whitelabeling",
    "load_controlpanel_credentials",
]
