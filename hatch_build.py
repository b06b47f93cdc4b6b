"""Hatch build hook: wheels and sdists carry the built web UI (src/tasksched/web).

From a checkout (web/ next to this file, no PKG-INFO) the UI is built first with scripts/build-ui,
which needs Node.js 20.19+ and does nothing when the build is current. From an unpacked sdist
(PKG-INFO present) the UI it ships is used as it is: installing an sdist needs no Node.js. Either
way a build without the UI fails, instead of producing a package whose UI answers "not built".
Editable installs are left alone: there the UI is whatever scripts/build-ui last built.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebUIBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        built = root / "src" / "tasksched" / "web" / "index.html"
        from_checkout = (root / "web" / "package.json").exists() and not (root / "PKG-INFO").exists()
        if from_checkout:
            self.app.display_info("building the web UI (scripts/build-ui)")
            subprocess.run([str(root / "scripts" / "build-ui")], cwd=root, check=True)
        if not built.exists():
            raise RuntimeError(
                "the web UI is not built (src/tasksched/web/index.html is missing): "
                "build from a checkout with Node.js 20.19+, or from an sdist that ships the UI"
            )
