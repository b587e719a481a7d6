"""Each FC function's sample event (events/samples.json) and one run of `packaging/invoke.py` on it: how the package
tests, the cold-start import test and the cold-start benchmark start a function the way FC does."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"
# Each function's sample event and the `IsBase64Decode` of the trigger that delivers it.
SAMPLES: dict[str, tuple[str, bool]] = {
    function: (sample["event"], sample["base64_decoded"])
    for function, sample in json.loads((EVENTS / "samples.json").read_text()).items()
}


def invoke_sample(
    interpreter: Sequence[str], code_dir: Path, function: str, environment: dict[str, str], *flags: str
) -> tuple[dict[str, Any], str]:
    """Serve `function`'s sample from `code_dir` in a fresh interpreter (its command, e.g. `[python, "-s"]`):
    invoke.py's JSON report and its stderr."""
    event, base64_decoded = SAMPLES[function]
    result = subprocess.run(
        [*interpreter, str(REPO / "packaging" / "invoke.py"), str(code_dir), str(EVENTS / event), *flags],
        env={**environment, "CERTDEPLOY_MNS_TRIGGER_BASE64_DECODE": str(base64_decoded).lower()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report, result.stderr
