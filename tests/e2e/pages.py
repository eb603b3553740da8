"""What the browser tests of the pages share: the accessibility check (axe-core, vendored), a watch for console
errors and for requests that leave the server, screenshots under var/screenshots/, and the sign-in code from the
demo's log."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Route

from tests.e2e.service import Service

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "vendor" / "axe-core@4.14.1" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}


# the tables reaching past the screen's right edge, other than inside a box of their own that scrolls sideways and
# ends within the screen (hidden overflow would cut them off without a word)
TABLES_PAST_THE_EDGE = """(width) => [...document.querySelectorAll('table')].filter(table => {
    if (table.getBoundingClientRect().right <= width) return false;
    for (let box = table.parentElement; box; box = box.parentElement) {
        const scrolls = ['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
        if (scrolls) return box.getBoundingClientRect().right > width;
    }
    return true;
}).map(table => table.className || table.tagName)"""


def serious_violations(page: Page) -> list[Any]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@dataclass
class Visit:
    """A browser context on the served app: its console errors, and the requests it tried to send elsewhere."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def check(self, name: str) -> None:
        """No serious accessibility violation, no sideways scrolling; a screenshot kept as `name`.png."""
        found = serious_violations(self.page)
        assert found == [], (name, found)
        width = self.page.viewport_size["width"] if self.page.viewport_size else 0
        assert self.page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: no sideways scrolling"
        assert self.page.evaluate(TABLES_PAST_THE_EDGE, width) == [], f"{name}: a table fits or scrolls in its own box"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors
        assert self.outside == [], self.outside


def visit(browser: Browser, service: Service, *, size: dict[str, int], language: str, **options: Any) -> Visit:
    # bypass_csp only so that the test can add axe-core; the pages' own scripts and styles obey the policy
    context = browser.new_context(
        viewport=size, locale="vi-VN" if language == "vi" else "en-GB", bypass_csp=True, **options
    )
    page = context.new_page()
    seen = Visit(context, page)
    page.on("console", lambda message: seen.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(service.base) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            seen.outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    return seen


def code_sent_to(service: Service, phone: str, *, other_than: str | None = None) -> str:
    """The newest sign-in code the demo logged for the phone (the demo logs messages' text); `other_than`: a code
    sent before, to wait for the next one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for event in reversed(service.log_events()):
            if event.get("event") == "message.logged" and event.get("to") == f"***{phone[-3:]}":
                found = re.search(r"\b(\d{6})\b", event["text"])
                if found and found.group(1) != other_than:
                    return found.group(1)
                if found:
                    break
        time.sleep(0.3)
    raise AssertionError("no sign-in code in the demo's log")


def camera_video_of(picture: Path, video: Path, *, width: int = 640, height: int = 480) -> Path:
    """A still picture as the video a fake camera plays (Y4M, 4:2:0), centred on white: what Chromium's
    --use-file-for-fake-video-capture takes. The picture is scaled to fit, never up past twice its size."""
    from PIL import Image

    shot = Image.open(picture).convert("RGB")
    scale = min(width / shot.width, height / shot.height, 2.0) * 0.9
    shot = shot.resize((int(shot.width * scale), int(shot.height * scale)), Image.Resampling.NEAREST)
    frame = Image.new("RGB", (width, height), "white")
    frame.paste(shot, ((width - shot.width) // 2, (height - shot.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    video.write_bytes(header + (b"FRAME\n" + planes) * 10)
    return video
