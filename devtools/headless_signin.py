"""A person at the browser, for tests: Debian's chromium, headless, fills a sign-in form.

``python -m devtools.headless_signin URL`` opens URL (the identity provider's
authorization page that MSAL hands to "the system browser"), types the user
name and password from ``CORDON_SIGNIN_USER`` / ``CORDON_SIGNIN_PASSWORD`` into
the provider's form, submits it, and waits until the browser has followed the
provider's redirect to the loopback address MSAL listens on. The provider's TLS
certificate is trusted by its SPKI pin (``CORDON_SIGNIN_SPKI``), nothing wider.
The browser runs with a new empty profile, no background networking, and is
closed before the script ends. Selenium drives the packaged chromedriver: it
never downloads a driver or a browser.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def spki_pin(cert_pem: Path) -> str:
    """Chromium's ``--ignore-certificate-errors-spki-list`` value for one certificate."""
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def sign_in(url: str, username: str, password: str, spki: str, timeout: float = 30.0) -> str:
    """Fill the form at ``url``; return the loopback URL the browser ended on."""
    from selenium import webdriver  # noqa: PLC0415 - only where a browser is driven
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    profile = tempfile.mkdtemp(prefix="cordon-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", f"--user-data-dir={profile}",
        f"--ignore-certificate-errors-spki-list={spki}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(timeout)
        driver.get(url)
        wait = WebDriverWait(driver, timeout)
        wait.until(
            lambda d: d.find_elements(By.ID, "login") or not d.current_url.startswith(url[:20])
        )
        if not driver.find_elements(By.ID, "login"):
            raise RuntimeError(f"no sign-in form at {driver.current_url.split('?')[0]}")
        driver.find_element(By.ID, "login").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "submit").click()
        wait.until(lambda d: d.current_url.startswith(("http://localhost", "http://127.0.0.1")))
        return str(driver.current_url)
    finally:
        driver.quit()
        import shutil  # noqa: PLC0415

        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m devtools.headless_signin URL", file=sys.stderr)  # noqa: T201
        return 2
    env = os.environ
    landed = sign_in(
        argv[0], env["CORDON_SIGNIN_USER"], env["CORDON_SIGNIN_PASSWORD"], env["CORDON_SIGNIN_SPKI"]
    )
    print(landed.split("?")[0])  # noqa: T201 - never the code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
