"""The account layer: ``connect()``, the ``Account`` handle, its managers, safe creates.

One module per concept: ``account`` (``Account``, ``connect``), ``manager`` (the managers'
base, ``create_safely``, ``runner_of``), and a module per resource: ``domains``, ``pools``
(with ``Ips``), ``subaccounts``, ``streams``, ``stats``. This layer sits on ``espkit.providers``,
``espkit.transport`` and ``espkit.models``; nothing above it (bulk, verify, fleet, dns, cli)
is imported here.
"""

from espkit.account.account import Account, connect
from espkit.account.domains import Domains
from espkit.account.manager import Manager, create_safely, runner_of
from espkit.account.pools import Ips, Pools
from espkit.account.stats import Stats
from espkit.account.streams import Streams
from espkit.account.subaccounts import Subaccounts
from espkit.errors import VerificationTimeout

__all__ = [
    "Account",
    "Domains",
    "Ips",
    "Manager",
    "Pools",
    "Stats",
    "Streams",
    "Subaccounts",
    "VerificationTimeout",
    "connect",
    "create_safely",
    "runner_of",
]
