"""Tests of bench/cpu/switches.py with fake programs in place of the examples: the settings run
alternating, each with its switch in the environment, and the speed-up is read the right way
round for times and for images/s. `python3 -m unittest discover -s bench/cpu` (`just test`)."""

import contextlib
import io
import stat
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import switches  # noqa: E402

# Prints a time (ms) or a `zoo bench --json` report from the switch's setting, and logs the
# order the settings ran in.
FAKE = """#!/usr/bin/env python3
import json, os, sys
setting = os.environ["ZOO_FAKE"]
with open(sys.argv[1], "a") as log:
    log.write(setting + " " + os.environ["RAYON_NUM_THREADS"] + "\\n")
if sys.argv[2] == "ms":
    print(f"fake: median {dict(off=4.0, on=2.0, auto=2.5)[setting]} ms (fastest 1.0)")
else:
    rate = dict(off=100.0, on=150.0)[setting]
    print(json.dumps({"report": {"train": {"median": rate}}}))
"""


class Switches(unittest.TestCase):
    def run_fake(self, unit, settings):
        with tempfile.TemporaryDirectory() as tmp:
            fake = Path(tmp) / "fake"
            fake.write_text(FAKE)
            fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
            log = Path(tmp) / "order"
            cases = {"fake": ("ZOO_FAKE", settings, "a fake", [str(fake), str(log), unit], unit)}
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                switches.main(["--rounds", "2", "--threads", "3"], cases)
            return out.getvalue(), log.read_text().split("\n")[:-1]

    def test_times_alternate_and_the_speed_up_is_off_over_on(self):
        text, order = self.run_fake("ms", ["off", "auto", "on"])
        # round 1 in the listed order, round 2 reversed; every run on the threads asked for
        self.assertEqual(order, ["off 3", "auto 3", "on 3", "on 3", "auto 3", "off 3"])
        self.assertIn("| `ZOO_FAKE=off` | a fake | 4, 4 ms | 4 ms | 1.00x |", text)
        self.assertIn("| `ZOO_FAKE=on` | a fake | 2, 2 ms | 2 ms | 2.00x |", text)
        self.assertIn("| `ZOO_FAKE=auto` | a fake | 2.5, 2.5 ms | 2.5 ms | 1.60x |", text)
        self.assertIn("--rounds 2 --threads 3`", text)

    def test_images_per_second_speed_up_is_on_over_off(self):
        text, _ = self.run_fake("train", ["off", "on"])
        self.assertIn("| `ZOO_FAKE=on` | a fake | 150, 150 images/s | 150 images/s | 1.50x |", text)

    def test_a_failing_program_stops_with_its_error(self):
        with self.assertRaises(SystemExit) as stop:
            switches.measure([sys.executable, "-c", "import sys; sys.exit('boom')"], {}, "ms")
        self.assertIn("boom", str(stop.exception))
        with self.assertRaises(SystemExit) as stop:
            switches.measure([sys.executable, "-c", "print('no time here')"], {}, "ms")
        self.assertIn("no 'median … ms'", str(stop.exception))


if __name__ == "__main__":
    unittest.main()
