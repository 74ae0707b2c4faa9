"""The shared reporting of the tests/docker checks: one FAIL line per failed check, exit 1 if any."""
import sys

failures = []


def check(ok, message):
    """Records `message` as a failure unless `ok`; returns `ok` (to guard dependent checks)."""
    if not ok:
        failures.append(message)
        print("FAIL: " + message)
    return ok


def finish(passed_message):
    """Prints the summary and exits with the checks' status."""
    print(f"{len(failures)} check(s) failed" if failures else passed_message)
    sys.exit(1 if failures else 0)
