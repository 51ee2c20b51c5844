"""End-to-end tests for the Drover demo pipeline (stdlib unittest, no pytest).

Run from the repository root:  python3 -m unittest cluster/demo/test_forecast.py

The script is exercised the way a Drover agent runs it: as a subprocess with
DROVER_* / DEMO_* environment variables, on a small data set.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from datetime import date, timedelta

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forecast.py")
SMALL = ["--stores", "6", "--days", "365"]
EPOCHS = 6
SHARDS = 3


def run(args, **env):
    """Run forecast.py with a clean environment plus the given variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DROVER_", "DEMO_"))}
    base.update({k: str(v) for k, v in env.items()})
    return subprocess.run([sys.executable, SCRIPT] + args, env=base, capture_output=True,
                          text=True, timeout=60)


def read_progress(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class PipelineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="drover-demo-test-")
        cls.home = os.path.join(cls.tmp, "home")
        cls.ckpt = os.path.join(cls.tmp, "ckpt")
        cls.train = run(["train", "--epochs", str(EPOCHS)] + SMALL, DEMO_HOME_DATA=cls.home,
                        DROVER_PROGRESS_FILE=os.path.join(cls.tmp, "train.jsonl"),
                        DROVER_CHECKPOINT_DIR=cls.ckpt)
        cls.scores = [run(["score"], DEMO_HOME_DATA=cls.home, DROVER_TASK_INDEX=i,
                          DROVER_TASK_COUNT=SHARDS,
                          DROVER_PROGRESS_FILE=os.path.join(cls.tmp, "score-%d.jsonl" % i))
                      for i in range(SHARDS)]
        cls.report = run(["report"], DEMO_HOME_DATA=cls.home)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def load_model(self, path):
        with open(path) as f:
            return json.load(f)

    def assert_ok(self, proc):
        self.assertEqual(proc.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (proc.stdout, proc.stderr))

    def test_train_reports_increasing_progress_ending_at_one(self):
        self.assert_ok(self.train)
        lines = read_progress(os.path.join(self.tmp, "train.jsonl"))
        self.assertEqual([l["epoch"] for l in lines], list(range(1, EPOCHS + 1)))
        progress = [l["progress"] for l in lines]
        self.assertEqual(progress, sorted(set(progress)), "progress must strictly increase")
        self.assertEqual(progress[-1], 1.0)
        for line in lines:
            self.assertIn("loss", line["metrics"])
            self.assertIn("val_mape", line["metrics"])
        self.assertIn("epoch %d/%d loss=" % (EPOCHS, EPOCHS), self.train.stdout)

    def test_checkpoint_and_final_model_written(self):
        self.assert_ok(self.train)
        ckpt = self.load_model(os.path.join(self.ckpt, "model.json"))
        self.assertEqual(ckpt["epoch"], EPOCHS)
        final = self.load_model(os.path.join(self.home, "model.json"))
        self.assertEqual(final["weights"], ckpt["weights"])
        self.assertTrue(os.path.exists(os.path.join(self.home, "sales.csv")))
        leftovers = [n for n in os.listdir(self.home) if n.endswith(".tmp")]
        self.assertEqual(leftovers, [], "atomic writes must not leave temp files")

    def test_model_beats_seasonal_naive_baseline(self):
        self.assert_ok(self.train)
        model = self.load_model(os.path.join(self.home, "model.json"))
        self.assertLess(model["val_mape"], model["baseline_mape"])
        self.assertIn("model wins", self.train.stdout)

    def test_resume_continues_at_the_right_epoch(self):
        home, ckpt = os.path.join(self.tmp, "resume-home"), os.path.join(self.tmp, "resume-ckpt")
        first = run(["train", "--epochs", "3"] + SMALL, DEMO_HOME_DATA=home,
                    DROVER_CHECKPOINT_DIR=ckpt)
        self.assert_ok(first)
        self.assertEqual(self.load_model(os.path.join(ckpt, "model.json"))["epoch"], 3)
        progress = os.path.join(self.tmp, "resume.jsonl")
        second = run(["train", "--epochs", str(EPOCHS)] + SMALL, DEMO_HOME_DATA=home,
                     DROVER_CHECKPOINT_DIR=ckpt, DROVER_PROGRESS_FILE=progress)
        self.assert_ok(second)
        self.assertIn("resumed from checkpoint at epoch 3/%d" % EPOCHS, second.stdout)
        self.assertNotIn("epoch 3/%d loss" % EPOCHS, second.stdout)
        lines = read_progress(progress)
        self.assertEqual([l["epoch"] for l in lines], list(range(4, EPOCHS + 1)))
        self.assertEqual(lines[-1]["progress"], 1.0)
        # seeded per-epoch shuffles + saved optimiser state: resuming is exact
        resumed = self.load_model(os.path.join(home, "model.json"))
        straight = self.load_model(os.path.join(self.home, "model.json"))
        self.assertEqual(resumed["weights"], straight["weights"])

    def test_checkpoint_falls_back_to_work_dir(self):
        work = os.path.join(self.tmp, "work")
        proc = run(["train", "--epochs", "1"] + SMALL, DEMO_HOME_DATA=os.path.join(self.tmp, "wd-home"),
                   DROVER_WORK_DIR=work)
        self.assert_ok(proc)
        self.assertEqual(self.load_model(os.path.join(work, "model.json"))["epoch"], 1)

    def test_shards_cover_every_store_exactly_once(self):
        for proc in self.scores:
            self.assert_ok(proc)
        with open(os.path.join(self.home, "sales.csv")) as f:
            rows = list(csv.DictReader(f))
        stores = {r["store"] for r in rows}
        end = max(date.fromisoformat(r["date"]) for r in rows)
        expected_days = [(end + timedelta(days=h)).isoformat() for h in range(1, 29)]
        seen = {}
        for i in range(SHARDS):
            path = os.path.join(self.home, "forecasts", "shard-%03d.csv" % i)
            by_store = {}
            with open(path) as f:
                for r in csv.DictReader(f):
                    by_store.setdefault(r["store"], []).append(r["date"])
                    self.assertGreater(float(r["forecast"]), 0)
            for store, days in by_store.items():
                self.assertNotIn(store, seen, "%s in shards %s and %d" % (store, seen.get(store), i))
                seen[store] = i
                self.assertEqual(days, expected_days)
            self.assertIn("wrote %d rows" % (28 * len(by_store)), self.scores[i].stdout)
            lines = read_progress(os.path.join(self.tmp, "score-%d.jsonl" % i))
            progress = [l["progress"] for l in lines]
            self.assertEqual(progress, sorted(set(progress)))
            self.assertEqual(progress[-1], 1.0)
        self.assertEqual(set(seen), stores)

    def test_report_summarises_all_shards(self):
        self.assert_ok(self.report)
        out = self.report.stdout
        self.assertRegex(out, r"shards:\s+%d\b" % SHARDS)
        self.assertRegex(out, r"stores:\s+6\b")
        self.assertRegex(out, r"rows:\s+%d\b" % (6 * 28))
        self.assertIn("top 5 stores", out)

    def test_score_without_model_exits_2(self):
        proc = run(["score"], DEMO_HOME_DATA=os.path.join(self.tmp, "empty-score"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("no trained model", proc.stderr)

    def test_report_without_forecasts_exits_1(self):
        proc = run(["report"], DEMO_HOME_DATA=os.path.join(self.tmp, "empty-report"))
        self.assertEqual(proc.returncode, 1)

    def test_help(self):
        proc = run(["--help"])
        self.assert_ok(proc)
        for command in ("train", "score", "report"):
            self.assertIn(command, proc.stdout)


if __name__ == "__main__":
    unittest.main()
