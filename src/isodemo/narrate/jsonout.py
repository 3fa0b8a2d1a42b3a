"""--json: narration is suppressed; one JSON object goes to stdout when the command ends."""

from __future__ import annotations

import json

from isodemo.narrate.base import Narrator
from isodemo.narrate.report import Report


class JsonNarrator(Narrator):
    def show_finish(self, report: Report) -> None:
        self.out.write(json.dumps(report.to_json()) + "\n")
        self.out.flush()
