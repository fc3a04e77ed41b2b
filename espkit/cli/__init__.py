"""The ``espkit`` command line: ``app`` holds the group ``cli``, its context, output helpers
and error handling; ``accounts``, ``progress`` and ``tables`` hold what several commands
share; each other module adds one command or command group to ``cli`` (importing it
registers them, which this package does):

=================  =====================================================================
``domains``        ``domains list / create / show / delete``
``verify``         ``domains verify`` (named domains, ``--from-file``, ``--fleet``)
``assign``         ``assign``, ``unassign``, ``assignments``
``ips``            ``ips list``, ``ips warmup list / status / start / stop``
``pools``          ``pools list / create / add-ip / remove-ip / delete``
``subaccounts``    ``subaccounts list / create / show / enable / disable``
``providers``      ``capabilities``, ``login``
``demo``           ``demo``
``dns``            ``dns export / check``
``bulk``           ``bulk create / delete / verify / assign / resume / status``
``fleet``          ``plan``, ``apply``
``stats``          ``stats`` (delivery figures, a chart against a warmup cap)
``ramp``           ``ramp plan / check / status / advance / hold / resume / rollback /
                   route / export`` (migration ramps)
=================  =====================================================================
``chart`` draws the bars ``stats`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence

# app first: it stops with a readable message when the cli extra (click, rich) is missing
from espkit.cli import (  # noqa: F401  (importing a command module registers its commands)
    app,
    assign,
    bulk,
    demo,
    dns,
    domains,
    fleet,
    ips,
    pools,
    providers,
    ramp,
    sandbox,
    stats,
    subaccounts,
    verify,
)
from espkit.cli.app import cli


def main(argv: Sequence[str] | None = None) -> None:
    """The ``espkit`` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="espkit")


__all__ = ["cli", "main"]
