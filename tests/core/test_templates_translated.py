"""Every word a page or an email shows is marked for translation.

Each template loses what is not shown text (comments, scripts and styles, variables,
template tags) and what is marked ({% translate %}, {% blocktranslate %} blocks); what
is left, outside HTML tags, must hold no letters, and neither may the attributes a
person reads or hears (aria-label, title, placeholder, alt). A few words are the same
in every language: they are listed here, each with its reason; so is what is not words
to translate (code, allauth's element options).
"""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# Words left as they are in every language, and why.
SAME_IN_EVERY_LANGUAGE = {
    "CSV",  # a file format
    "UTC",  # the time standard
    "SMS",  # a channel's name
    "TOTP",  # the second factor's standard
    "QR",  # "QR code" is translated around it
    "Vigil",  # the portal's name
}

_REMOVED = [
    re.compile(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", re.S),
    re.compile(r"\{#.*?#\}", re.S),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I),
    # Literal text: code a person types or reads as it is (a column, a placeholder).
    re.compile(r"<code\b[^>]*>[^<]*</code>", re.S),
    # allauth's {% setvar %} sets an element's options, which no one reads.
    re.compile(r"\{%\s*setvar\b.*?\{%\s*endsetvar\s*%\}", re.S),
    re.compile(r"\{%\s*blocktrans(late)?\b.*?\{%\s*endblocktrans(late)?\s*%\}", re.S),
    re.compile(r"\{%\s*trans(late)?\s.*?%\}", re.S),
    re.compile(r"\{%.*?%\}", re.S),
    re.compile(r"\{\{.*?\}\}", re.S),
]
_TAG = re.compile(r"<[^>]*>", re.S)
_READ_ATTRIBUTE = re.compile(r"""\b(aria-label|title|placeholder|alt)=(["'])(.*?)\2""", re.S)
_ENTITY = re.compile(r"&#?\w+;")
_WORD = re.compile(r"[^\W\d_]{2,}")


# Text given as a literal inside a tag, which the page then shows: a filter's default
# ({{ copy.failure|default:"No reason was recorded." }}) and an included block's label.
# Marked, they are _("...").
_SHOWN_LITERAL = re.compile(
    r"""\|default(?:_if_none)?:(["'])(.*?)\1|\{%\s*include\b[^%]*?\blabel=(["'])(.*?)\3""", re.S
)


def unmarked_words(source: str) -> list[str]:
    """The words of `source` shown to a person but not marked for translation."""
    literals = [default or label for _q, default, _q2, label in _SHOWN_LITERAL.findall(source)]
    source += " ".join(f"<p>{literal}</p>" for literal in literals)
    for pattern in _REMOVED:
        source = pattern.sub(" ", source)
    attributes = [value for _name, _quote, value in _READ_ATTRIBUTE.findall(source)]
    text = _TAG.sub(" ", source)
    words = []
    for shown in [text, *attributes]:
        words += _WORD.findall(_ENTITY.sub(" ", shown))
    return [word for word in words if word not in SAME_IN_EVERY_LANGUAGE]


def _templates() -> list[Path]:
    # The pages, and the emails' subjects and bodies (plain text, sent in each
    # recipient's language).
    return sorted([*TEMPLATES.rglob("*.html"), *(TEMPLATES / "emails").glob("*.txt")])


def test_it_checks_every_email_template():
    emails = [path.name for path in _templates() if path.suffix == ".txt"]
    assert len(emails) == 18  # 9 kinds, a subject and a body each
    assert "customer-notice-body.txt" in emails


@pytest.mark.parametrize("path", _templates(), ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_it_marks_every_word_of_the_template_for_translation(path):
    assert unmarked_words(path.read_text()) == []


def test_it_finds_words_left_unmarked():
    source = (
        '{% load i18n %}<h1>{% translate "Exposed users" %}</h1>'
        "{# a comment #}<p>{{ count }} people · {% blocktranslate %}x{% endblocktranslate %}</p>"
        '<button aria-label="Close">{% translate "Save" %}</button>'
        "<script>let ignored = 1;</script><p>UTC</p>"
    )

    assert unmarked_words(source) == ["people", "Close"]


def test_it_finds_words_left_unmarked_in_an_email():
    source = (
        '{% load i18n %}{% autoescape off %}{% translate "Hello," %}\n\n'
        "{% blocktranslate trimmed with name=organization.name %}Your account {{ name }}"
        "{% endblocktranslate %} was exposed.\n\n{{ url }}\n\nVigil\n{% endautoescape %}"
    )

    assert unmarked_words(source) == ["was", "exposed"]


def test_it_finds_words_left_unmarked_in_a_default_or_a_label():
    source = (
        '{% load i18n %}<p>{{ copy.failure|default:"No reason was recorded." }}</p>'
        '<p>{{ copy.failure|default:_("Marked reason") }}{{ size|default:"—" }}</p>'
        '{% include "_count.html" with label="imported" tone="text-success" %}'
        '{% include "_count.html" with label=_("rows seen") %}'
    )

    assert unmarked_words(source) == ["No", "reason", "was", "recorded", "imported"]
