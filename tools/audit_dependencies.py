"""Run pip-audit on the virtual environment and say plainly what it could and could not check.

pip-audit asks a vulnerability service (PyPI's JSON API) about every installed distribution. It
fails this script (exit 1) when any distribution has a known vulnerability that is not listed in
``ACCEPTED`` below with its justification (docs/security.md, "Supply chain"). When the service
cannot be reached — a sandbox that reaches only the package index, as our CI machines do —
pip-audit reports each distribution as "not audited" and exits 0; this script then prints how many
went unaudited, so a green run is never mistaken for a clean audit, and exits 0 unless
``--require-service`` is given.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

#: Known vulnerabilities accepted for now, by id, each with the reason (none at present).
ACCEPTED: dict[str, str] = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--require-service",
        action="store_true",
        help="fail when the vulnerability service could not be asked about every distribution",
    )
    args = parser.parse_args()
    pip_audit = Path(sys.executable).with_name("pip-audit")
    completed = subprocess.run(  # noqa: S603 (our own venv's pip-audit, fixed arguments)
        [str(pip_audit), "--skip-editable", "--progress-spinner", "off", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(completed.stderr)
        print(f"pip-audit gave no report (exit {completed.returncode})")
        return 1
    audited, unaudited, findings = 0, [], []
    for dependency in report["dependencies"]:
        if "skip_reason" in dependency:
            unaudited.append(dependency["name"])
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            if vulnerability["id"] not in ACCEPTED:
                findings.append(
                    f"{dependency['name']} {dependency['version']}: {vulnerability['id']} "
                    f"(fixed in {', '.join(vulnerability.get('fix_versions') or ['no release'])})"
                )
    print(f"pip-audit: {audited} distributions audited, {len(findings)} known vulnerabilities")
    for finding in findings:
        print(f"  VULNERABLE {finding}")
    if unaudited:
        print(
            f"pip-audit: {len(unaudited)} distributions NOT audited: the vulnerability service "
            "could not be reached from this machine (first: " + ", ".join(unaudited[:5]) + ")"
        )
    if findings:
        return 1
    return 1 if unaudited and args.require_service else 0


if __name__ == "__main__":
    sys.exit(main())
