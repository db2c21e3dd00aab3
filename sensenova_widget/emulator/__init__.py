"""A local SenseNova service on loopback: the protocol, deterministic replies and faults on demand.

`with Emulator(**knobs) as emu:` in process, or `python -m sensenova_widget.emulator --port 8765`.
Needs the `emulator` extra (starlette, uvicorn, python-multipart).
"""

from .faults import FAULT_HEADER, KNOBS, Knobs
from .runner import Emulator

__all__ = ["Emulator", "Knobs", "KNOBS", "FAULT_HEADER"]
