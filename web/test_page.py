#!/usr/bin/env python3
"""The web demo in headless Chromium, against `zoo predict` (`just test-web`).

Serves target/web (built by scripts/build-web) on 127.0.0.1 with Python's http.server, drives
Debian's chromium through chromedriver with Selenium, feeds Fashion-MNIST test images through
the page's own file input, and checks every top-1 and probability against
`zoo predict weights/fashion-inception --json` on the same files. Then bad inputs (a text file,
a zero-byte file, a PNG claiming 100000 x 100000 pixels, a file over the page's size limit)
must each show a message while the page keeps working. Writes a screenshot and report.json to
--out, and prints the timings and the download size.
"""

import argparse
import gzip
import http.server
import json
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "target" / "web"
RUN = ROOT / "weights" / "fashion-inception"
FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
TOLERANCE = 1e-4


def chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(pixels: bytes, width: int, height: int) -> bytes:
    """An 8-bit grayscale PNG (no imaging library needed)."""
    rows = b"".join(b"\0" + pixels[y * width : (y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_images(path: Path, count: int, out: Path) -> list:
    """The first `count` images of Fashion-MNIST's test set as PNG files."""
    data = gzip.decompress(path.read_bytes())
    magic, items, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051 or items < count:
        sys.exit(f"{path}: not an IDX image file with {count} images (magic {magic}, {items} items)")
    files = []
    for i in range(count):
        start = 16 + i * rows * cols
        file = out / f"test-{i:04d}.png"
        file.write_bytes(png(data[start : start + rows * cols], cols, rows))
        files.append(file)
    return files


def bad_inputs(out: Path, limit: int) -> dict:
    """Files the page must refuse with a message: name → a part of that message."""
    (out / "notes.txt").write_text("not an image\n")
    (out / "empty.png").write_bytes(b"")
    # A valid header claiming 100000 x 100000 pixels (10 GB), and a little data.
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    (out / "huge.png").write_bytes(bomb)
    with open(out / "large.png", "wb") as f:
        f.truncate(limit + 1)
    return {
        "notes.txt": "not an image",
        "empty.png": "empty file",
        "huge.png": "too large",
        "large.png": "MiB, more than this page takes",
    }


def zoo_predict(files: list) -> dict:
    """`zoo predict --json` on the files: name → probabilities."""
    command = [str(ROOT / "scripts" / "zoo"), "predict", str(RUN), *map(str, files), "--json", "--top", "10"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"zoo predict failed ({result.returncode}):\n{result.stderr}")
    answers = {}
    for line in result.stdout.splitlines():
        row = json.loads(line)
        answers[Path(row["file"]).name] = row["probabilities"]
    return answers


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve() -> tuple:
    handler = lambda *a, **k: Quiet(*a, directory=str(SITE), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def browser(chromium: str, driver: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # As the machines' notes say: without the background-networking flags Chromium keeps
    # trying Google's hosts, which a closed network refuses.
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1100,900",
    ]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def wait_for(driver, script: str, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.02)
    failed = driver.execute_script("return window.zoo && window.zoo.failed")
    sys.exit(f"timed out after {seconds} s waiting for {what}" + (f": the page says {failed}" if failed else ""))


def upload(driver, files: list, expect: int, seconds: float) -> list:
    """Files through the page's <input type=file>; the page's answers for them."""
    from selenium.webdriver.common.by import By

    before = driver.execute_script("return window.zoo.results.length")
    field = driver.find_element(By.ID, "files")
    driver.execute_script("arguments[0].value = ''", field)  # chromedriver adds to a multiple input's files
    field.send_keys("\n".join(str(f) for f in files))
    wait_for(driver, f"return window.zoo.results.length >= {before + expect}", seconds, f"{expect} answers")
    return driver.execute_script(f"return window.zoo.results.slice({before})")


def draw(driver) -> dict:
    """A stroke on the canvas with the mouse: the page classifies the drawing when it ends."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    before = driver.execute_script("return window.zoo.results.length")
    canvas = driver.find_element(By.ID, "canvas")
    chain = ActionChains(driver).move_to_element_with_offset(canvas, -40, -100).click_and_hold()
    for dy in range(0, 200, 20):
        chain = chain.move_by_offset(0, 20)
    chain.move_by_offset(80, 0).release().perform()
    wait_for(driver, f"return window.zoo.results.length > {before}", 30, "the drawing's answer")
    return driver.execute_script(f"return window.zoo.results[{before}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100, help="Fashion-MNIST test images to feed (>= 50)")
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "web-test", help="screenshot and report")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    if args.images < 50:
        sys.exit("--images: at least 50")
    for path, what in [(SITE / "index.html", "just web-build"), (FASHION, "apt-get install dataset-fashion-mnist"),
                       (Path(args.chromium), "apt-get install chromium"), (Path(args.chromedriver), "apt-get install chromium-driver")]:
        if not path.exists():
            sys.exit(f"{path} is missing: {what}")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = test_images(FASHION, args.images, tmp)
        expected = zoo_predict(files)
        server, url = serve()
        driver = browser(args.chromium, args.chromedriver)
        try:
            driver.get(url)
            wait_for(driver, "return window.zoo && (window.zoo.ready || window.zoo.failed)", 30, "the model")
            failed = driver.execute_script("return window.zoo.failed")
            if failed:
                sys.exit(f"the page could not load its model: {failed}")
            # The first image alone: the first prediction's time after page load.
            first = upload(driver, files[:1], 1, 30)
            stats = driver.execute_script("return window.zoo.stats")
            driver.save_screenshot(str(args.out / "page-first.png"))
            drawn = draw(driver)
            rest = upload(driver, files[1:], len(files) - 1, 300)
            answers = first + rest
            driver.save_screenshot(str(args.out / "page.png"))
            limit = driver.execute_script("return window.zoo.maxFileBytes || 0") or 32 << 20
            bad = bad_inputs(tmp, limit)
            refused = upload(driver, [tmp / name for name in bad], len(bad), 60)
            driver.save_screenshot(str(args.out / "bad-input.png"))
            message = driver.execute_script("return document.getElementById('message').textContent")
            # Still alive after the bad files: one more good image.
            again = upload(driver, files[:1], 1, 30)
        finally:
            driver.quit()
            server.shutdown()
    problems = []
    worst, agree = 0.0, 0
    for answer in answers:
        name = answer["name"]
        if "error" in answer:
            problems.append(f"{name}: the page says {answer['error']}")
            continue
        want = expected[name]
        got = answer["probabilities"]
        diff = max(abs(a - b) for a, b in zip(got, want))
        worst = max(worst, diff)
        top_page, top_zoo = got.index(max(got)), want.index(max(want))
        agree += top_page == top_zoo
        if top_page != top_zoo or diff > TOLERANCE:
            problems.append(f"{name}: page top-1 {top_page}, zoo predict {top_zoo}, max |p diff| {diff:.2e}")
    if drawn.get("name") != "drawing" or "error" in drawn or len(drawn.get("probabilities", [])) != 10:
        problems.append(f"the canvas drawing was answered with {drawn}")
    for answer in refused:
        part = bad[answer["name"]]
        if part not in answer.get("error", ""):
            problems.append(f"{answer['name']}: expected a message containing {part!r}, got {answer}")
    if "error" in again[0] or again[0]["probabilities"] != answers[0]["probabilities"]:
        problems.append(f"after the bad files the page answered {again[0]} for {again[0]['name']}")
    times = sorted(a["ms"] for a in answers[1:] if "ms" in a)
    site = {p.relative_to(SITE).as_posix(): p.stat().st_size for p in SITE.rglob("*") if p.is_file()}
    download = sum(size for name, size in site.items() if name != "model/MODEL_CARD.md")
    report = {
        "images": len(answers),
        "top1_agree": agree,
        "max_abs_probability_diff": worst,
        "ready_ms_after_load": stats.get("readyMs"),
        "first_prediction_ms_after_load": stats.get("firstPredictionMs"),
        "first_inference_ms": answers[0].get("ms"),
        "later_inference_ms": {"median": times[len(times) // 2], "max": times[-1]} if times else None,
        "download_bytes": {"wasm": site.get("pkg/zoo_web_bg.wasm"), "weights": site.get("model/model.bpk"), "total": download},
        "drawing_top1": drawn.get("top", [{}])[0].get("class"),
        "bad_inputs": {a["name"]: a.get("error") for a in refused},
        "last_message": message,
        "problems": problems,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"screenshots: {', '.join(str(args.out / n) for n in ['page-first.png', 'page.png', 'bad-input.png'])}")
    if problems:
        print(f"FAILED: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"ok: {agree}/{len(answers)} top-1 as zoo predict, probabilities within {worst:.1e} (tolerance {TOLERANCE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
