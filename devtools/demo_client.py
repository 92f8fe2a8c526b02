"""The demo's client: Cordon's own ``main`` with the machine policy read from a file.

``python -m devtools.demo_client --machine-policy FILE --server URL --ca CA``

The product reads its machine policy only where IT puts it (``/etc/cordon``
owned by root, the Windows policy key, managed preferences). The local SSO
demo has no IT: this harness hands ``app.main.main`` a reader for a JSON file
it wrote, checked against the same schema. It is not installed with Cordon.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.lockdown.policy import PolicyValue, validate_layer
from app.main import main as client_main


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--machine-policy", required=True)
    known, rest = parser.parse_known_args(argv)
    path = Path(known.machine_policy)

    def machine() -> dict[str, PolicyValue]:
        return validate_layer(json.loads(path.read_text()), f"demo machine policy {path}")

    return client_main(rest, machine=machine)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
