"""The console's two languages say the same things: every message key of English has a Simplified Chinese text and
the other way round, and each text names the same `{placeholders}` (shared/certdeploy/console/js/i18n.js)."""

from __future__ import annotations

import re
from pathlib import Path

I18N = Path(__file__).resolve().parents[2] / "shared" / "certdeploy" / "console" / "js" / "i18n.js"
_ENTRY = re.compile(r'(?:"([\w.]+)"|(\w+)):\s*"((?:[^"\\]|\\.)*)"')


def _messages(language: str) -> dict[str, str]:
    source = I18N.read_text(encoding="utf-8")
    start = source.index(f"  {language}: {{")
    end = source.index("\n  },", start)
    return {quoted or bare: text for quoted, bare, text in _ENTRY.findall(source[start:end])}


def test_both_languages_have_every_message_with_the_same_placeholders() -> None:
    english, chinese = _messages("en"), _messages("zh")
    assert len(english) > 100
    assert set(english) == set(chinese)
    for key, text in english.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", chinese[key])), key
