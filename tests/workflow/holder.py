"""Another training loop's claim on a log_path, as a process the tests can pause and kill.

``python holder.py URL TTL`` takes the lease and prints ``held``; then each ``renew`` line
on stdin renews it and prints ``ok`` or ``lost: <error>``. End of input ends the process
without releasing the lease (a loop that dies keeps its claim until it is seen gone).
"""

from __future__ import annotations

import sys

from fireworks_training.checkpoints.ledger import LogPathInUseError, open_ledger


def main() -> None:
    url, ttl = sys.argv[1], float(sys.argv[2])
    ledger = open_ledger(url, lease_ttl_s=ttl)
    ledger.lease.acquire()
    print("held", flush=True)
    for line in sys.stdin:
        if line.strip() == "renew":
            try:
                ledger.lease.renew()
            except LogPathInUseError as exc:
                print(f"lost: {exc}", flush=True)
            else:
                print("ok", flush=True)


if __name__ == "__main__":
    main()
