#!/usr/bin/env python3
"""Drover demo pipeline: multi-store daily demand forecasting, stdlib only.

  train   generate sales.csv (once), fit a log-linear model by mini-batch Adam,
          checkpoint every epoch, resume from $DROVER_CHECKPOINT_DIR
  score   forecast the next H days for one shard of the stores
  report  summarise all shard forecasts

Shared files live in $DEMO_HOME_DATA. Every write there is atomic (temp file +
os.replace) because many task processes read and write it concurrently.
"""
import argparse
import csv
import glob
import json
import math
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta

SEED = 20240101
START = date(2022, 1, 1)
VAL_DAYS = 28           # held out per store for validation
FOURIER_K = 2           # yearly harmonics; 2 is enough for a smooth annual cycle
# fixed number of steps per epoch (not a fixed batch size) so the learning curve
# looks the same whether the data set is tiny (tests) or full size (demo)
STEPS_PER_EPOCH = 128
LR = 0.01               # small enough that the learning curve is worth watching
BETAS = (0.9, 0.999)
FORMAT = "drover-demo-forecast/1"


# ---------------------------------------------------------------- file helpers

def home_dir():
    path = os.environ.get("DEMO_HOME_DATA") or os.path.abspath("demo-data")
    os.makedirs(path, exist_ok=True)
    return path


def atomic_write(path, text):
    """Readers must never see a half-written file, even if we are killed."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)    # mkstemp's 0600 would hide the file from other users' tasks
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def report_progress(progress, metrics, epoch=None):
    """One JSON line per update; the agent tails this file."""
    path = os.environ.get("DROVER_PROGRESS_FILE")
    if not path:
        return
    line = {"progress": round(progress, 4)}
    if epoch is not None:
        line["epoch"] = epoch
    line["metrics"] = metrics
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")
        f.flush()


def fail(msg, code=2):
    print("forecast.py: error: " + msg, file=sys.stderr)
    sys.exit(code)


def store_name(i, n):
    return "S%0*d" % (max(2, len(str(n))), i + 1)


# ---------------------------------------------------------------- data

def generate_sales(path, n_stores, n_days):
    """Synthetic chain: shared weekly/yearly shape with per-store jitter, so a
    global model fits well but not perfectly."""
    rng = random.Random(SEED)
    week = [0.92, 0.88, 0.90, 0.97, 1.10, 1.32, 1.05]   # Mon..Sun
    lines = ["store,date,promo,sales"]
    for s in range(n_stores):
        level = rng.uniform(60, 400)
        growth = rng.uniform(-0.15, 0.40)                 # over the whole period
        amp = 0.18 * rng.uniform(0.8, 1.2)
        dow = [w * rng.uniform(0.97, 1.03) for w in week]
        promo_p, lift = rng.uniform(0.06, 0.14), rng.uniform(1.2, 1.45)
        for d in range(n_days):
            day = START + timedelta(days=d)
            promo = 1 if rng.random() < promo_p else 0
            mean = (level * (1 + growth * d / n_days) * dow[day.weekday()]
                    * (1 + amp * math.sin(2 * math.pi * (day.timetuple().tm_yday - 80) / 365.25))
                    * (lift if promo else 1.0))
            sales = max(0, round(mean * math.exp(rng.gauss(0, 0.09))))
            lines.append("%s,%s,%d,%d" % (store_name(s, n_stores), day.isoformat(), promo, sales))
    atomic_write(path, "\n".join(lines) + "\n")


def load_sales(path):
    """-> {store: [(date, promo, sales), ...] sorted by date}"""
    by_store = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            by_store.setdefault(row["store"], []).append(
                (date.fromisoformat(row["date"]), int(row["promo"]), float(row["sales"])))
    for rows in by_store.values():
        rows.sort()
    return by_store


# ---------------------------------------------------------------- model

def make_spec(by_store):
    stores = sorted(by_store)
    first = min(r[0][0] for r in by_store.values())
    last = max(r[-1][0] for r in by_store.values())
    span = (last - first).days + 1
    return {"stores": stores, "first": first.isoformat(), "last": last.isoformat(),
            "rows": sum(len(r) for r in by_store.values()),
            # centring the trend keeps it uncorrelated with the intercepts, so
            # gradient descent does not have to untangle the two
            "trend_center": first.toordinal() + span / 2.0, "trend_scale": float(span),
            "fourier_k": FOURIER_K,
            "layout": "store_intercept[S] store_trend[S] dow_tue..sun[6] yearly_sin_cos[2K] promo[1]"}


def n_weights(spec):
    return 2 * len(spec["stores"]) + 6 + 2 * spec["fourier_k"] + 1


def features(spec, store_idx, day, promo):
    """Sparse feature vector as (indices, values); most features are one-hot."""
    S, K = len(spec["stores"]), spec["fourier_k"]
    t = (day.toordinal() - spec["trend_center"]) / spec["trend_scale"]
    idx, val = [store_idx, S + store_idx], [1.0, t]
    if day.weekday() > 0:                      # Monday is the baseline
        idx.append(2 * S + day.weekday() - 1)
        val.append(1.0)
    angle = 2 * math.pi * day.toordinal() / 365.25
    for k in range(1, K + 1):
        idx += [2 * S + 6 + 2 * (k - 1), 2 * S + 7 + 2 * (k - 1)]
        val += [math.sin(k * angle), math.cos(k * angle)]
    if promo:
        idx.append(2 * S + 6 + 2 * K)
        val.append(1.0)
    return idx, val


def predict_sales(model, feat):
    w, norm = model["weights"], model["norm"]
    return math.expm1(sum(w[i] * x for i, x in zip(*feat)) * norm["sd"] + norm["mu"])


def mape(pairs):
    pairs = [(a, f) for a, f in pairs if a > 0]     # undefined for zero actuals
    return sum(abs(a - f) / a for a, f in pairs) / max(1, len(pairs))


def build_sets(spec, by_store):
    train, val = [], []
    for s, store in enumerate(spec["stores"]):
        rows = by_store[store]
        for i, (day, promo, sales) in enumerate(rows):
            item = (features(spec, s, day, promo), math.log1p(sales), sales)
            (val if i >= len(rows) - VAL_DAYS else train).append(item)
    return train, val


def seasonal_naive_mape(by_store):
    """Baseline to beat: repeat each store's last training week over the horizon."""
    pairs = []
    for rows in by_store.values():
        hist, hold = rows[:-VAL_DAYS], rows[-VAL_DAYS:]
        last_week = [r[2] for r in hist[-7:]]
        pairs += [(r[2], last_week[h % 7]) for h, r in enumerate(hold)]
    return mape(pairs)


def train_epoch(model, train, epoch):
    """One pass of mini-batch Adam on squared error of the normalised log target.
    The shuffle is seeded by epoch so a resumed run repeats the exact updates."""
    w, m, v = model["weights"], model["adam"]["m"], model["adam"]["v"]
    mu, sd = model["norm"]["mu"], model["norm"]["sd"]
    order = list(range(len(train)))
    random.Random(SEED + epoch).shuffle(order)
    b1, b2 = BETAS
    lr = LR / math.sqrt(epoch)                 # decay so late epochs settle
    total, size = 0.0, max(8, -(-len(order) // STEPS_PER_EPOCH))
    for start in range(0, len(order), size):
        batch = order[start:start + size]
        grad = [0.0] * len(w)
        for j in batch:
            (idx, val), y, _ = train[j]
            err = sum(w[i] * x for i, x in zip(idx, val)) - (y - mu) / sd
            total += err * err
            for i, x in zip(idx, val):
                grad[i] += err * x
        model["adam"]["t"] += 1
        t, scale = model["adam"]["t"], 2.0 / len(batch)
        for i, g in enumerate(grad):
            g *= scale
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            w[i] -= lr * (m[i] / (1 - b1 ** t)) / (math.sqrt(v[i] / (1 - b2 ** t)) + 1e-8)
    return total / len(train)


def checkpoint_path():
    d = os.environ.get("DROVER_CHECKPOINT_DIR") or os.environ.get("DROVER_WORK_DIR")
    return os.path.join(d, "model.json") if d else None


def load_checkpoint(spec):
    d = os.environ.get("DROVER_CHECKPOINT_DIR")
    path = os.path.join(d, "model.json") if d else None
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            model = json.load(f)
    except (OSError, ValueError) as e:
        print("ignoring unreadable checkpoint %s: %s" % (path, e), flush=True)
        return None
    if model.get("format") != FORMAT or model.get("spec") != spec:
        print("ignoring checkpoint %s: it was trained on different data" % path, flush=True)
        return None
    return model


# ---------------------------------------------------------------- subcommands

def cmd_train(args):
    home = home_dir()
    sales_path = os.path.join(home, "sales.csv")
    if not os.path.exists(sales_path):
        generate_sales(sales_path, args.stores, args.days)
        print("generated %s (%d stores x %d days)" % (sales_path, args.stores, args.days), flush=True)
    else:
        print("using existing %s (--stores/--days ignored)" % sales_path, flush=True)
    by_store = load_sales(sales_path)
    if not by_store or min(len(r) for r in by_store.values()) < VAL_DAYS + 28:
        fail("sales.csv needs at least %d days per store" % (VAL_DAYS + 28))
    spec = make_spec(by_store)
    train, val = build_sets(spec, by_store)
    baseline = seasonal_naive_mape(by_store)

    model = load_checkpoint(spec)
    if model:
        print("resumed from checkpoint at epoch %d/%d" % (model["epoch"], args.epochs), flush=True)
    else:
        ys = [y for _, y, _ in train]
        mu = sum(ys) / len(ys)
        sd = math.sqrt(sum((y - mu) ** 2 for y in ys) / len(ys)) or 1.0
        n = n_weights(spec)
        model = {"format": FORMAT, "spec": spec, "norm": {"mu": mu, "sd": sd},
                 "target": "(log1p(sales) - mu) / sd", "epoch": 0, "weights": [0.0] * n,
                 "adam": {"m": [0.0] * n, "v": [0.0] * n, "t": 0}, "history": []}
        print("training on %d rows, validating on %d rows (%d stores)"
              % (len(train), len(val), len(spec["stores"])), flush=True)

    ckpt = checkpoint_path()
    pace = float(os.environ.get("DEMO_EPOCH_SECONDS") or 0)
    ran = False
    for epoch in range(model["epoch"] + 1, args.epochs + 1):
        loss = train_epoch(model, train, epoch)
        val_mape = mape([(sales, predict_sales(model, feat)) for feat, _, sales in val])
        metrics = {"loss": round(loss, 5), "val_mape": round(val_mape, 5)}
        model["epoch"] = epoch
        model["history"].append(dict(metrics, epoch=epoch))
        # checkpoint before announcing progress, so anything reported is durable
        if ckpt:
            atomic_write(ckpt, json.dumps(model))
        report_progress(epoch / args.epochs, metrics, epoch)
        print("epoch %d/%d loss=%.4f val_mape=%.1f%%" % (epoch, args.epochs, loss, 100 * val_mape), flush=True)
        ran = True
        if pace > 0 and epoch < args.epochs:
            time.sleep(pace)

    final = mape([(sales, predict_sales(model, feat)) for feat, _, sales in val])
    model["val_mape"], model["baseline_mape"] = final, baseline
    if not ran:
        # a retry that finds a finished checkpoint must still end at progress 1.0
        print("checkpoint already at epoch %d, nothing left to train" % model["epoch"], flush=True)
        report_progress(1.0, {"val_mape": round(final, 5)}, model["epoch"])
    atomic_write(os.path.join(home, "model.json"), json.dumps(model))
    print("final val MAPE %.2f%% vs seasonal-naive baseline %.2f%% (%s)"
          % (100 * final, 100 * baseline, "model wins" if final < baseline else "WARNING: baseline wins"),
          flush=True)
    print("model written to %s" % os.path.join(home, "model.json"), flush=True)
    return 0


def env_int(name, default):
    raw = os.environ.get(name)
    try:
        return default if raw in (None, "") else int(raw)
    except ValueError:
        fail("%s must be an integer, got %r" % (name, raw))


def cmd_score(args):
    home = home_dir()
    index, count = env_int("DROVER_TASK_INDEX", 0), env_int("DROVER_TASK_COUNT", 1)
    if count < 1 or not 0 <= index < count:
        fail("need 0 <= DROVER_TASK_INDEX < DROVER_TASK_COUNT, got %d of %d" % (index, count))
    model_path, sales_path = os.path.join(home, "model.json"), os.path.join(home, "sales.csv")
    if not os.path.exists(model_path):
        fail("no trained model at %s; run 'forecast.py train' first" % model_path)
    if not os.path.exists(sales_path):
        fail("no sales data at %s; run 'forecast.py train' first" % sales_path)
    with open(model_path) as f:
        model = json.load(f)
    if model.get("format") != FORMAT:
        fail("%s is not a %s model" % (model_path, FORMAT))
    spec = model["spec"]
    by_store = load_sales(sales_path)
    unknown = sorted(set(by_store) - set(spec["stores"]))
    if unknown:
        fail("model was not trained on stores %s; retrain" % ", ".join(unknown))

    # shard by position in the model's store list, so every shard agrees on it
    mine = [(s, name) for s, name in enumerate(spec["stores"]) if s % count == index and name in by_store]
    end = max(r[-1][0] for r in by_store.values())
    lines = ["store,date,forecast"]
    for done, (s, name) in enumerate(mine, 1):
        for h in range(1, args.horizon + 1):
            day = end + timedelta(days=h)
            # future promotions are unknown, so this is the no-promo baseline demand
            value = predict_sales(model, features(spec, s, day, 0))
            lines.append("%s,%s,%.1f" % (name, day.isoformat(), max(0.0, value)))
        report_progress(0.9 * done / len(mine), {"stores": done, "rows": done * args.horizon})
    out = os.path.join(home, "forecasts", "shard-%03d.csv" % index)
    atomic_write(out, "\n".join(lines) + "\n")
    rows = len(lines) - 1
    report_progress(1.0, {"stores": len(mine), "rows": rows})
    print("shard %d/%d: wrote %d rows (%d store(s) x %d days) to %s"
          % (index, count, rows, len(mine), args.horizon, out), flush=True)
    return 0


def cmd_report(args):
    home = home_dir()
    paths = sorted(glob.glob(os.path.join(home, "forecasts", "shard-*.csv")))
    demand, rows, first, last, owner, dupes = {}, 0, None, None, {}, set()
    for path in paths:
        seen = set()
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                store, day = row["store"], row["date"]
                demand[store] = demand.get(store, 0.0) + float(row["forecast"])
                rows += 1
                first = day if first is None or day < first else first
                last = day if last is None or day > last else last
                seen.add(store)
        for store in seen:
            if store in owner:
                dupes.add(store)
            owner[store] = path
    if rows == 0:
        print("no forecasts found under %s" % os.path.join(home, "forecasts"), file=sys.stderr)
        return 1
    total = sum(demand.values())
    print("shards:  %d" % len(paths))
    print("stores:  %d" % len(demand))
    print("rows:    %d  (%s .. %s)" % (rows, first, last))
    print("total forecast demand: %s units" % format(round(total), ","))
    if dupes:
        # stale shard files from an earlier run with a different shard count
        print("WARNING: stores in more than one shard (totals double-count them; delete "
              "forecasts/ and re-score): %s" % ", ".join(sorted(dupes)))
    print("top 5 stores by forecast demand:")
    print("  %-4s %-6s %12s %7s" % ("rank", "store", "demand", "share"))
    top = sorted(demand.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    for rank, (store, value) in enumerate(top, 1):
        print("  %-4d %-6s %12s %6.1f%%" % (rank, store, format(round(value), ","), 100 * value / total))
    return 0


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Drover demo: train a demand-forecasting model, score shards, report.",
        epilog="Data directory: $DEMO_HOME_DATA (default ./demo-data). See README.md.")
    sub = parser.add_subparsers(dest="command", metavar="{train,score,report}")
    sub.required = True
    p = sub.add_parser("train", help="generate data if needed and fit the model (resumable)")
    p.add_argument("--epochs", type=positive_int, default=12, help="total epochs (default 12)")
    p.add_argument("--stores", type=positive_int, default=24, help="stores to generate (default 24)")
    p.add_argument("--days", type=positive_int, default=730, help="days of history to generate (default 730)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("score", help="forecast shard $DROVER_TASK_INDEX of $DROVER_TASK_COUNT")
    p.add_argument("--horizon", type=positive_int, default=28, help="days to forecast (default 28)")
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("report", help="summarise all shard forecasts")
    p.set_defaults(func=cmd_report)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
