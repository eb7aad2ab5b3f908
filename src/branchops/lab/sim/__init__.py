"""The simulated estate on 127.0.0.0/8 with fault injection (``branchops lab``).

In-process: :class:`Lab` (``await lab.start()``, ``lab.inject(...)``, ``lab.heal(...)``,
``await lab.stop()``). Other processes: :func:`inject` and :func:`heal` talk to a running
lab's control API. The command: :func:`branchops.lab.sim.cli.run_lab`. See docs/lab.md.
"""

from branchops.lab.sim.client import LabRefused, LabUnavailable, heal, inject
from branchops.lab.sim.config import LabConfig
from branchops.lab.sim.faults import KINDS, FaultError
from branchops.lab.sim.lab import Lab, LabError

__all__ = [
    "KINDS",
    "FaultError",
    "Lab",
    "LabConfig",
    "LabError",
    "LabRefused",
    "LabUnavailable",
    "heal",
    "inject",
]
