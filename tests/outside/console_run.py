"""Drives the console (DESIGN §11) in a real headless Chromium through WebDriver (Selenium).

Usage: console_run.py BINARY [SCREENSHOT_DIR], run by a Python whose environment has selenium
installed, with Debian's chromium and chromium-driver on the machine. tokend runs on 127.0.0.1
and Chromium resolves no other host (requests to any other origin fail; the run also checks that
none was made). The steps follow issue 14: the hand-over sign-in with the fragment removed; a
token created (its value shown once, only the hint after a reload); a double submit that
creates one token; regenerate (a new value; the old one introspects inactive); revoke with a
reason; two selected and removed; an admin revoking a member's agent connection from the
organization page while a member gets the API's refusal as a message; expiry presets that
follow the organization's policy; the pager's count, below the API's count cap and past it
(10,000 tokens created through the API); and no browser console errors. Screenshots of the
main pages at 1280 and 400 px go to SCREENSHOT_DIR (default target/console-screenshots).
"""

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Lists count up to this many (`total_count`'s maximum in the OpenAPI document).
COUNT_CAP = 10_000


def fail(message):
    sys.exit(f"console: {message}")


class Console:
    """A Chromium session against one tokend."""

    def __init__(self, base, shots):
        self.base = base
        self.shots = shots
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1280,900",
                     # Every host but the loopback address fails to resolve.
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(options=options,
                                       service=Service(executable_path="/usr/bin/chromedriver"))
        # A list is drawn again after each change: an element found a moment ago may be gone.
        self.wait = WebDriverWait(self.driver, 10,
                                  ignored_exceptions=[StaleElementReferenceException])

    def open(self, path):
        self.driver.get(self.base + path)

    def sign_in(self, jwt):
        # The previous session is cleared on the page shown now, which has settled, before the
        # console loads again: a console loading with it would call the API, and cleared under
        # that load, its next call would go out without a session (a 401 that signs it out).
        if self.driver.current_url.startswith(self.base):
            self.driver.execute_script("sessionStorage.clear()")
        self.open("/console/")
        self.open(f"/console/#session={jwt}")
        self.heading("My tokens")
        if "session" in self.driver.current_url:
            fail(f"the fragment stays in the address bar: {self.driver.current_url}")

    def heading(self, text):
        try:
            self.wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), text))
        except TimeoutException:
            fail(f"no heading {text!r}; page: {self.driver.find_element(By.TAG_NAME, 'main').text!r}"
                 f"; notice: {self.notice()!r}")

    def notice(self):
        element = self.driver.find_element(By.ID, "notice")
        return element.text if element.is_displayed() else ""

    def find(self, css):
        return self.wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, css)))

    def click(self, css):
        self.wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, css))).click()

    def row(self, name):
        """The list row of the token named NAME."""
        self.wait.until(ready.presence_of_element_located(
            (By.XPATH, f"//tr[td/a[normalize-space()='{name}']]")))
        return self.driver.find_element(By.XPATH, f"//tr[td/a[normalize-space()='{name}']]")

    def row_button(self, name, label):
        return self.row(name).find_element(By.XPATH, f".//button[normalize-space()='{label}']")

    def accept_confirm(self):
        self.wait.until(ready.alert_is_present()).accept()

    def create(self, name, submit_twice=False):
        self.open("/console/#/new")
        self.heading("Create a token")
        self.find("#name").send_keys(name)
        if submit_twice:
            self.driver.execute_script(
                "const f = document.querySelector('main form');"
                "f.requestSubmit(); f.requestSubmit();")
        else:
            self.click("#create")
        self.heading("Token created")
        return self.find("#secret-value").text

    def screenshot(self, name):
        for width, height in [(1280, 900), (400, 860)]:
            self.driver.set_window_size(width, height)
            time.sleep(0.2)
            path = os.path.join(self.shots, f"{name}-{width}.png")
            self.driver.save_screenshot(path)
        self.driver.set_window_size(1280, 900)

    def errors(self):
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def foreign_requests(self):
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                if not url.startswith((self.base, "data:", "blob:")):
                    urls.append(url)
        return urls


def introspect(fixtures, value):
    status, body = harness.call(fixtures.server.base, "POST", "/v1/introspect", fixtures.service,
                                {"token": value})
    if status != 200:
        fail(f"introspection answered {status}: {body}")
    return body["active"]


def tokens_named(fixtures, name):
    status, page = harness.call(fixtures.server.base, "GET", f"/v1/tokens?q={name}&limit=100",
                                fixtures.session)
    return [t for t in page["items"] if t["name"] == name] if status == 200 else []


def at_count_cap(text):
    """Whether the pager says that the list reached the API's count cap. The number is formatted
    for the browser's locale: its digits are compared."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return text.endswith(" or more") and digits == str(COUNT_CAP)


def main():
    binary = sys.argv[1]
    shots = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "target", "console-screenshots")
    os.makedirs(shots, exist_ok=True)
    server = harness.Server(binary).start()
    console = None
    try:
        fixtures = harness.Fixtures(server)
        base = server.base
        service = fixtures.service
        # A strict organization (expiry required, at most 30 days) where ada is a member too.
        harness.expect(harness.call(base, "PUT", "/v1/directory/organizations/strict", service,
                                    {"name": "Strict", "require_expiry": True,
                                     "max_token_lifetime_days": 30}), 200, 201)
        harness.expect(harness.call(base, "PUT", "/v1/directory/organizations/strict/members/ada",
                                    service, {"role": "member"}), 200, 201)
        member_session = server.cli("dev-session", "--user", fixtures.spare_user, "--ttl", "3600")
        agent = harness.expect(harness.call(base, "POST", "/v1/tokens", member_session,
                                            {"kind": "agent", "name": "grace-laptop-agent",
                                             "organization_id": fixtures.org,
                                             "scopes": ["read"]}), 201)

        console = Console(base, shots)
        steps = []

        # Sign-in: the session handed over in the fragment, which is removed at once.
        console.sign_in(fixtures.session)
        steps.append("hand-over sign-in, fragment removed")
        console.screenshot("my-tokens")

        # Create: the value shown once; after a reload only the hint.
        value = console.create("browser-made")
        hint = console.find("#secret-title").find_element(By.XPATH, "..").find_element(
            By.TAG_NAME, "code").text
        if not value.startswith("tolp_") or not introspect(fixtures, value):
            fail(f"the created value is not a live token: {value[:8]}…")
        console.screenshot("token-created")
        if value in console.driver.title or value in console.driver.current_url:
            fail("the value is in the title or the URL")
        stored = console.driver.execute_script(
            "return JSON.stringify(Object.assign({}, sessionStorage, localStorage))")
        if value in stored:
            fail("the value is in browser storage")
        console.open("/console/#/")
        console.driver.refresh()
        console.heading("My tokens")
        console.row("browser-made")
        if value in console.driver.page_source:
            fail("the value is still shown after a reload")
        if hint not in console.row("browser-made").text:
            fail(f"the hint {hint} is not in the row")
        steps.append("create: value shown once, only the hint after reload")

        # A double submit creates one token.
        console.create("double-submit", submit_twice=True)
        count = len(tokens_named(fixtures, "double-submit"))
        if count != 1:
            fail(f"a double submit created {count} tokens")
        steps.append("double submit creates one token")

        # The keyboard alone: Tab from the name field to the submit button, Enter creates.
        console.open("/console/#/new")
        console.heading("Create a token")
        name_field = console.find("#name")
        name_field.click()
        name_field.send_keys("keyboard-made")
        for _ in range(40):
            if console.driver.execute_script("return document.activeElement.id") == "create":
                break
            console.driver.switch_to.active_element.send_keys(Keys.TAB)
        else:
            fail("Tab never reached the create button")
        console.driver.switch_to.active_element.send_keys(Keys.ENTER)
        console.heading("Token created")
        steps.append("keyboard only: Tab to the button, Enter creates")

        # A failed request shows the problem's detail: the name is taken.
        console.open("/console/#/new")
        console.heading("Create a token")
        console.find("#name").send_keys("keyboard-made")
        console.click("#create")
        console.wait.until(lambda d: console.notice())
        if "keyboard-made" not in console.notice() and "name" not in console.notice().lower():
            fail(f"the refusal's detail is not shown: {console.notice()!r}")
        steps.append(f"a refused create shows the problem's detail ({console.notice()!r})")

        # Regenerate: a new value, and the old one introspects inactive.
        console.open("/console/#/")
        console.heading("My tokens")
        console.row_button("browser-made", "Regenerate").click()
        console.accept_confirm()
        console.heading("Token regenerated")
        renewed = console.find("#secret-value").text
        if renewed == value or not introspect(fixtures, renewed) or introspect(fixtures, value):
            fail("regenerate did not replace the value")
        steps.append("regenerate: new value, old value inactive")

        # Revoke with a reason.
        console.open("/console/#/")
        console.heading("My tokens")
        console.row_button("browser-made", "Revoke").click()
        console.find("dialog #reason").send_keys("left on a laptop")
        console.click("dialog button[value=ok]")
        console.wait.until(lambda d: "revoked: left on a laptop" in console.row("browser-made").text)
        steps.append("revoke with a reason shows revoked")

        # Select two and remove them.
        for name in ["remove-one", "remove-two"]:
            harness.created_token(fixtures, name)
        console.open("/console/#/")
        console.driver.refresh()
        console.heading("My tokens")
        for name in ["remove-one", "remove-two"]:
            console.row(name).find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
        console.click("#bulk-remove")
        console.accept_confirm()
        console.wait.until(lambda d: d.page_source.count(": deleted") == 2)
        if tokens_named(fixtures, "remove-one") or tokens_named(fixtures, "remove-two"):
            fail("the selected tokens were not removed")
        steps.append("select two and remove them")

        # Expiry presets follow the organization's policy.
        console.open("/console/#/new")
        console.heading("Create a token")
        console.find("input[name=org][value=strict]").click()
        options = [o.get_attribute("value")
                   for o in Select(console.find("#expiry-preset")).options]
        if options != ["7", "30", "custom"]:
            fail(f"expiry presets for a 30-day organization that requires expiry: {options}")
        admin_all = console.driver.find_element(By.CSS_SELECTOR, "input[name=scope][value=admin]")
        write_all = console.driver.find_element(By.CSS_SELECTOR, "input[name=scope][value=write]")
        if admin_all.is_enabled() or not write_all.is_enabled():
            fail("a member of one chosen organization is offered admin scopes")
        console.find("input[name=org][value=strict]").click()
        options = [o.get_attribute("value")
                   for o in Select(console.find("#expiry-preset")).options]
        if "never" not in options or "90" not in options:
            fail(f"expiry presets without a policy: {options}")
        admin_all = console.driver.find_element(By.CSS_SELECTOR, "input[name=scope][value=admin]")
        if not admin_all.is_enabled():
            fail("an owner is not offered admin scopes")
        console.screenshot("create-form")
        steps.append("expiry presets follow require_expiry and max_token_lifetime_days; "
                     "scopes above the role are disabled")

        # The organization page: an owner revokes a member's agent connection.
        console.open(f"/console/#/orgs/{fixtures.org}")
        console.heading("tokens")
        console.screenshot("organization")
        console.row_button("grace-laptop-agent", "Revoke").click()
        console.click("dialog button[value=ok]")
        console.wait.until(lambda d: "revoked" in console.row("grace-laptop-agent").text)
        status, revoked = harness.call(base, "GET", f"/v1/tokens/{agent['id']}", member_session)
        if revoked.get("status") != "revoked":
            fail(f"the agent connection is {revoked.get('status')}")
        # A member opening the same page gets the API's refusal as a message.
        console.sign_in(member_session)
        console.open(f"/console/#/orgs/{fixtures.org}")
        console.wait.until(lambda d: console.notice())
        if "403" in console.notice() or not console.notice().strip():
            fail(f"the refusal is not the problem's detail: {console.notice()!r}")
        steps.append("admin revokes a member's agent connection; a member gets the refusal")

        # The pager's count: the API's total below its cap, "or more" at the cap.
        page = harness.expect(
            harness.call(base, "GET", "/v1/tokens?limit=1", fixtures.session), 200)
        console.sign_in(fixtures.session)
        shown = console.find("#list-total").text
        if shown != f"{page['total_count']} in all":
            fail(f"the pager says {shown!r} for {page['total_count']} tokens")
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Reading every result raises a creation's failure here.
            for _ in pool.map(lambda n: harness.created_token(fixtures, f"bulk-{n}"),
                              range(COUNT_CAP)):
                pass
        console.driver.refresh()
        try:
            console.wait.until(lambda d: at_count_cap(console.find("#list-total").text))
        except TimeoutException:
            fail(f"the pager says {console.find('#list-total').text!r} for more than "
                 f"{COUNT_CAP} tokens")
        shown = console.find("#list-total").text
        steps.append(f"the pager counts {page['total_count']} tokens, and says {shown!r} "
                     f"with {COUNT_CAP} more")

        errors = console.errors()
        # The two refusals the test asks for (a taken name, the member's organization page) are
        # logged by Chromium as failed resource loads; anything else is a console error.
        expected = [("/v1/tokens ", "409"), ("/v1/organizations/", "403"),
                    ("/v1/organizations/", "404")]
        unexpected = [e for e in errors
                      if not any(url in e["message"] and f"status of {status}" in e["message"]
                                 for url, status in expected)]
        if unexpected:
            fail(f"browser console errors: {unexpected}")
        foreign = console.foreign_requests()
        if foreign:
            fail(f"requests to another origin: {foreign}")
        steps.append("no browser console errors, no request to another origin")
        if server.server_errors():
            fail(f"tokend logged errors: {server.server_errors()}")
        print("console: " + "; ".join(steps))
        print(f"console: screenshots in {shots}: {sorted(os.listdir(shots))}")
    finally:
        if console is not None:
            console.driver.quit()
        server.stop()


if __name__ == "__main__":
    main()
