"""axe-core in the browser tests: its script comes from the axe-playwright-python package
(PyPI), injected into the page under test; nothing is fetched at run time.

A page fails on any critical or serious violation of WCAG 2.2 A and AA or of axe's best
practices, and on the rules that say it has its landmarks and a way past the navigation
(WCAG 1.3.1, 2.4.1), whatever axe's impact for them.
"""

from axe_playwright_python.base import AXE_SCRIPT

FAILING_IMPACTS = frozenset({"critical", "serious"})
ALWAYS_FAILING_RULES = frozenset({"bypass", "landmark-one-main", "region", "page-has-heading-one"})
OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


def axe_run(page) -> tuple[list[str], list[str]]:
    """The page's violations as lines to read: (failing, the others)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    results = page.evaluate("(options) => axe.run(document, options)", OPTIONS)
    failing, others = [], []
    for violation in results["violations"]:
        targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        line = f"{violation['id']} ({violation['impact']}): {violation['help']} [{targets}]"
        if violation["impact"] in FAILING_IMPACTS or violation["id"] in ALWAYS_FAILING_RULES:
            failing.append(line)
        else:
            others.append(line)
    return failing, others


def assert_accessible(page) -> None:
    failing, _ = axe_run(page)
    assert not failing, f"axe-core on {page.url}:\n  " + "\n  ".join(failing)
