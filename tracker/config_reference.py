"""The configuration reference, generated from the field descriptions in ``tracker/config.py`` (the one
source): ``config.toml`` (every setting with its default and what it means) and ``docs/configuration.md``
(the table). ``tests/unit/test_config.py`` checks both are current; after changing a setting run

    .venv/bin/python -m tracker.config_reference --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tracker.config import ENV_PREFIX, CameraConfig, Config

ROOT = Path(__file__).resolve().parents[1]
TOML = ROOT / "config.toml"
MARKDOWN = ROOT / "docs" / "configuration.md"
CAMERA_EXAMPLE = {"id": "door", "url": "rtsp://192.168.1.20/stream1"}
COMMENT_AT = 35

TOML_HEADER = f"""\
# facetrack configuration. Every setting is here with its default.
# Any value can be overridden from the environment as {ENV_PREFIX}<SECTION>__<KEY>,
# e.g. {ENV_PREFIX}REDIS__URL=redis://host:6379/0 or {ENV_PREFIX}MODELS__DEVICE=cpu.
# Generated from tracker/config.py (python -m tracker.config_reference --write): edit the descriptions there.
"""

MARKDOWN_HEADER = f"""\
# Configuration

`config.toml` holds every setting with its default and what it means; `facetrack` reads it from the working
folder, or from `--config PATH`. Unknown keys and out-of-range values are errors naming the key (the seventeen
settings retired in this release are read once more, ignored, with a warning that says where their value lives
now: [tuning.md](tuning.md)). Any setting can be overridden from the environment as
`{ENV_PREFIX}<SECTION>__<KEY>` (values are read as JSON when they parse, else as strings), which is how secrets and
URLs stay out of the file:

```sh
{ENV_PREFIX}REDIS__URL=redis://cache:6379/0 {ENV_PREFIX}MODELS__DEVICE=cpu facetrack config check
```

This page and `config.toml` are generated from the descriptions in `tracker/config.py`
(`.venv/bin/python -m tracker.config_reference --write`); a test fails when they are not current.

| key | default | meaning |
| --- | --- | --- |
"""


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _sections() -> list[tuple[str, type[BaseModel]]]:
    return [(name, field.annotation) for name, field in Config.model_fields.items()
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)]


def _settings(model: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    """A section's settings, deprecated ones left out (they are accepted, with a warning, for one more release)."""
    return [(key, field) for key, field in model.model_fields.items() if not field.deprecated]


def _line(key: str, value: str, description: str | None, commented: bool = False) -> str:
    setting = f"{'# ' if commented else ''}{key} = {value}"
    return f"{setting:<{COMMENT_AT - 1}} # {(description or '').replace('`', '')}"


def config_toml() -> str:
    parts = [TOML_HEADER]
    for section, model in _sections():
        parts.append(f"\n[{section}]\n")
        for key, field in _settings(model):
            parts.append(_line(key, toml_value(_default(field)), field.description) + "\n")
    parts.append(f"\n# {Config.model_fields['cameras'].description}; none by default. One table per camera:\n"
                 "# [[cameras]]\n")
    for key, field in CameraConfig.model_fields.items():
        value = CAMERA_EXAMPLE[key] if field.is_required() else _default(field)
        parts.append(_line(key, toml_value(value), field.description, commented=True) + "\n")
    return "".join(parts)


def _default(field) -> object:
    return field.get_default(call_default_factory=True)


def _cell(field) -> str:
    return "none" if field.is_required() else f"`{toml_value(_default(field))}`"


def reference_markdown() -> str:
    rows = [f"| `{section}.{key}` | {_cell(field)} | {field.description} |"
            for section, model in _sections() for key, field in _settings(model)]
    rows += [f"| `cameras[].{key}` | {_cell(field)} | {field.description} |"
             for key, field in CameraConfig.model_fields.items()]
    return MARKDOWN_HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    wanted = {TOML: config_toml(), MARKDOWN: reference_markdown()}
    if "--write" in argv:
        for path, text in wanted.items():
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    stale = [str(path.relative_to(ROOT)) for path, text in wanted.items() if path.read_text() != text]
    print("stale: " + ", ".join(stale) + " (run with --write)" if stale else "current")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
