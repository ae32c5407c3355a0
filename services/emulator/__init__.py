"""A local emulator of the Apps Script v1 / Drive v3 / Sheets v4 REST subset sheetstage uses.

It stands for Google's side: state in SQLite, Google's JSON shapes and error format, and
configurable latency, faults and quota so reliability and speed are testable offline.
"""

from services.emulator.server import EmulatorServer
from services.emulator.store import EmulatorStore

__all__ = ["EmulatorServer", "EmulatorStore"]
