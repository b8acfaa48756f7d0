"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Every test that uses the `page` fixture (or opens pages with `another_browser`) fails if
any of its pages logged a console error, threw an uncaught exception, got an HTTP error
for any resource, or broke the Content Security Policy.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

# Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls
# from a thread with a running loop. The tests only touch the database between browser
# steps, never concurrently, so the guard protects nothing here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Runs before any page script: records every CSP violation and hands it to the test
# at once, so a violation on a page the test has already left still counts.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__vigilReportCspViolation({
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
  });
});
"""

problems_key = pytest.StashKey[list[str]]()
watched_key = pytest.StashKey[list[BrowserContext]]()
expected_errors_key = pytest.StashKey[set[str]]()
VIEWPORT = {"width": 1280, "height": 800}


def _install_chromium() -> None:
    if os.geteuid() != 0:
        pytest.fail(
            f"{CHROMIUM} is missing and these tests are not running as root, so they cannot "
            "install it. Run `sudo apt-get install -y chromium`, or skip them with "
            "`-m 'not browser'`."
        )
    if shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing and there is no apt-get to install it with.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "chromium"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        # A fresh container has no package lists yet.
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        _install_chromium()
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium, but {CHROMIUM} is still missing.")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium_path):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_context(browser):
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()


def _watch(request, context: BrowserContext) -> None:
    """Record every page problem in `context`, on all of its pages, as the test's own."""
    problems = request.node.stash.setdefault(problems_key, [])
    expected_errors = request.node.stash.setdefault(expected_errors_key, set())
    request.node.stash.setdefault(watched_key, []).append(context)

    def on_console(message):
        # Chromium logs an error page's own status as a console error too.
        expected = message.location.get("url") in expected_errors and message.text.startswith(
            "Failed to load resource"
        )
        if message.type == "error" and not expected:
            problems.append(f"console error: {message.text} ({message.location.get('url')})")

    downloads: set[str] = set()

    def on_response(response):
        if response.status >= 400 and response.url not in expected_errors:
            problems.append(f"HTTP {response.status} for {response.url}")
        if response.headers.get("content-disposition", "").startswith("attachment"):
            downloads.add(response.url)

    def on_request_failed(req):
        # Chromium aborts a navigation that turns into a download: expected, not a
        # problem. Any other aborted request is one.
        if req.url not in downloads:
            problems.append(f"request failed: {req.url}")

    def on_csp_violation(violation):
        problems.append(f"CSP violation: {violation}")

    context.expose_function("__vigilReportCspViolation", on_csp_violation)
    context.add_init_script(CSP_LISTENER)
    context.on("console", on_console)
    context.on("weberror", lambda error: problems.append(f"uncaught exception: {error.error}"))
    context.on("response", on_response)
    context.on("requestfailed", on_request_failed)


def expect_http_error(request, url: str) -> None:
    """The test opens `url` to see an error page: its status is what the test checks,
    not a problem of the page."""
    request.node.stash.setdefault(expected_errors_key, set()).add(url)


@pytest.fixture
def page(request, browser_context):
    _watch(request, browser_context)
    page = browser_context.new_page()
    yield page
    page.close()


@pytest.fixture
def another_browser(request, browser):
    """Opens a page in a browser context of its own: a second person, with no cookies
    shared with `page`, under the same checks."""
    contexts: list[BrowserContext] = []

    def new_page() -> Page:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        _watch(request, context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # Checked here rather than in the fixture's teardown so that a page problem is the
    # test's failure, reported with the test, not an error in teardown.
    result = yield
    problems = item.stash.get(problems_key, None)
    if problems is not None:
        for context in item.stash.get(watched_key, []):
            for page in context.pages:
                # Late arrivals: a font or a script that fails after the test's last step.
                page.wait_for_load_state("networkidle")
        if problems:
            pytest.fail("The browser reported problems:\n  " + "\n  ".join(problems))
    return result


@pytest.fixture
def screenshot(request):
    """Saves a full-page screenshot under $BROWSER_SCREENSHOTS, when it is set, for a
    person to look at; does nothing otherwise."""
    folder = os.environ.get("BROWSER_SCREENSHOTS")

    def take(page: Page, label: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=Path(folder) / f"{request.node.name}-{label}.png", full_page=True)

    return take
