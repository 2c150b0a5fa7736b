#!/usr/bin/env python3
"""Independent check of a synthetic benchmark written by robustmsa (docs/synthetic.md).

Usage: check_synth.py FILE.pkl

Loads FILE.pkl with Python's pickle + NumPy (1.x or 2.x), FILE.pkl.generator.json and
FILE.pkl.oracle.json, and checks, without any robustmsa code:
  1. the layout (keys, shapes, dtypes) and the checksums the generator recorded;
  2. the data semantics: padding side, marker frames, -inf placement, ids, labels;
  3. the oracle: the protocol masks are re-derived from the hash in docs/protocols.md, the
     posterior mean of the latent factors is computed with numpy.linalg.solve (kind=interaction:
     for each of the four contexts, with the context posterior from the Gaussian marginal
     likelihoods and the label's posterior median found by bisection of the mixture CDF), and
     every metric of every condition of every suite is recomputed with NumPy and compared to 1e-6.
Exit status: 0 all checks pass, 1 a check failed, 77 NumPy is not available.
"""
import hashlib
import json
import math
import pickle
import sys

try:
    import numpy as np
except ImportError:  # the C++ test skips on 77
    print("numpy is not available", file=sys.stderr)
    sys.exit(77)

TOL = 1e-6
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


# ---- the mask hash (docs/protocols.md) ---------------------------------------------------------

U64 = np.uint64
GOLDEN = U64(0x9E3779B97F4A7C15)
INIT = U64(0x6A09E667F3BCC909)
TAG_FRAME, TAG_MODALITY_DROP = 1, 2


def mix(x):
    with np.errstate(over="ignore"):
        x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
        return x ^ (x >> U64(31))


def hash_words(*words):
    """Words are ints or integer arrays (broadcast); returns a uint64 array."""
    h = np.array(INIT, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for w in words:
            w = np.asarray(w).astype(np.uint64)
            h = mix(h + GOLDEN + w)
    return np.atleast_1d(h)


def uniform(h):
    return (h >> U64(11)).astype(np.float64) * 2.0 ** -53


def wordsum(raw):
    raw = bytes(raw)
    raw += b"\0" * ((-len(raw)) % 8)
    w = np.frombuffer(raw, dtype="<u8").astype(np.uint64)
    k = np.arange(w.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return int(np.sum(mix(w + k * GOLDEN), dtype=np.uint64))


# ---- metrics (DESIGN §4), NumPy only -----------------------------------------------------------


def weighted_f1(truth, pred):
    truth = np.asarray(truth)
    pred = np.asarray(pred)
    if truth.size == 0:
        return 0.0
    total = 0.0
    for c in np.union1d(truth, pred):
        t, p = truth == c, pred == c
        support = int(t.sum())
        if support == 0:
            continue
        tp = int((t & p).sum())
        fp = int((~t & p).sum())
        fn = int((t & ~p).sum())
        total += support * (2.0 * tp / (2 * tp + fp + fn))
    return total / truth.size


def accuracy(truth, pred):
    truth = np.asarray(truth)
    return float(np.mean(truth == np.asarray(pred))) if truth.size else 0.0


def pearson(a, b):
    a = a - a.mean()
    b = b - b.mean()
    saa, sbb = float(np.sum(a * a)), float(np.sum(b * b))
    if not (saa > 0 and sbb > 0):
        return 0.0
    return float(np.clip(np.sum(a * b) / math.sqrt(saa * sbb), -1.0, 1.0))


def regression_metrics(p, y):
    m = {}
    m["Has0_acc_2"] = accuracy(y >= 0, p >= 0)
    m["Has0_F1_score"] = weighted_f1(y >= 0, p >= 0)
    nz = y != 0
    m["Non0_acc_2"] = accuracy(y[nz] > 0, p[nz] > 0)
    m["Non0_F1_score"] = weighted_f1(y[nz] > 0, p[nz] > 0)
    m["Non0_F1_score_mult"] = weighted_f1(p[nz] > 0, y[nz] > 0)
    m["Mult_acc_7"] = float(np.mean(np.round(np.clip(p, -3, 3)) == np.round(np.clip(y, -3, 3))))
    m["Mult_acc_5"] = float(np.mean(np.round(np.clip(p, -2, 2)) == np.round(np.clip(y, -2, 2))))
    m["MAE"] = float(np.mean(np.abs(p - y)))
    m["Corr"] = pearson(p, y)
    return m


def iemocap_metrics(pred, label):  # (N, 4) classes
    m = {}
    accs, f1s = [], []
    for e, name in enumerate(["Neutral", "Happy", "Sad", "Angry"]):
        accs.append(accuracy(label[:, e], pred[:, e]))
        f1s.append(weighted_f1(label[:, e], pred[:, e]))
        m[name + "_Acc"], m[name + "_F1"] = accs[-1], f1s[-1]
    m["Avg_Acc"] = sum(accs) / 4
    m["Avg_F1"] = sum(f1s) / 4
    return m


# ---- layout and data checks --------------------------------------------------------------------


def check_layout(data, gen):
    layout = gen["layout"]
    mods = gen["modalities"]
    for split, info in gen["splits"].items():
        if split not in data:
            fail(f"split {split!r} missing")
            continue
        d = data[split]
        n = info["n"]
        for key, cs in info["checksums"].items():
            if key not in d:
                fail(f"{split}.{key}: missing")
                continue
            a = d[key]
            if list(a.shape) != cs["shape"]:
                fail(f"{split}.{key}: shape {a.shape} != {cs['shape']}")
                continue
            if cs["dtype"] == "object":
                if a.dtype != object:
                    fail(f"{split}.{key}: dtype {a.dtype}, expected object")
                joined = "\n".join(str(s) for s in a.reshape(-1)).encode("utf-8")
                if wordsum(joined) != int(cs["joined_wordsum"], 16):
                    fail(f"{split}.{key}: string checksum differs")
                continue
            if str(a.dtype) != cs["dtype"]:
                fail(f"{split}.{key}: dtype {a.dtype} != {cs['dtype']}")
            if not a.flags["C_CONTIGUOUS"]:
                fail(f"{split}.{key}: not C-contiguous")
            if wordsum(a.tobytes()) != int(cs["wordsum"], 16):
                fail(f"{split}.{key}: wordsum differs")
            if "finite_sum" in cs:
                fin = a[np.isfinite(a)].astype(np.float64)
                s = float(np.sum(fin))
                if abs(s - cs["finite_sum"]) > 1e-9 * max(1.0, float(np.sum(np.abs(fin)))):
                    fail(f"{split}.{key}: finite sum {s} != {cs['finite_sum']}")
                if int(np.sum(np.isneginf(a))) != cs["neginf"]:
                    fail(f"{split}.{key}: -inf count {int(np.sum(np.isneginf(a)))} != {cs['neginf']}")
                if int(np.sum(np.isnan(a))) or int(np.sum(np.isposinf(a))):
                    fail(f"{split}.{key}: holds NaN or +inf")
        # Semantics.
        lengths = {}
        for mi, mod in enumerate(mods):
            x = d[mod["key"]]
            if x.shape != (n, mod["frames"], mod["dim"]):
                fail(f"{split}.{mod['key']}: shape {x.shape}")
                continue
            nonzero = np.any(x != 0, axis=2)  # valid frames (never all zero)
            length = nonzero.sum(axis=1)
            lengths[mod["key"]] = length
            t = mod["frames"]
            pos = np.arange(t)[None, :]
            if gen["padding"] == "front":
                expect = pos >= (t - length)[:, None]
            else:
                expect = pos < length[:, None]
            if not np.array_equal(nonzero, expect):
                fail(f"{split}.{mod['key']}: valid frames are not contiguous at the "
                     f"{'end' if gen['padding'] == 'front' else 'start'}")
            marker = x[:, :, mod["marker_dim"]]
            if not np.all((marker == 0) | (marker == 1)):
                fail(f"{split}.{mod['key']}: marker dim holds values other than 0/1")
            counts = (marker == 1).sum(axis=1)
            if not np.all(counts == mod["informative_frames"]):
                fail(f"{split}.{mod['key']}: informative frames per sample {np.unique(counts)} "
                     f"!= {mod['informative_frames']}")
            neg = np.isneginf(x)
            if mi != 1 and neg.any():
                fail(f"{split}.{mod['key']}: -inf outside audio")
            if neg.any():
                i, f, k = np.nonzero(neg)
                if np.any(k == mod["marker_dim"]) or np.any(marker[i, f] == 1):
                    fail(f"{split}.{mod['key']}: -inf at a marker dim or an informative frame")
        if gen["layout"] == "mmsa_unaligned":
            for key in ("audio", "vision"):
                if not np.array_equal(np.asarray(d[key + "_lengths"]), lengths.get(key)):
                    fail(f"{split}.{key}_lengths disagree with the non-zero frames")
        if layout != "mmsa_unaligned" and len(lengths) == 3:
            if not (np.array_equal(lengths["text"], lengths["audio"])
                    and np.array_equal(lengths["text"], lengths["vision"])):
                fail(f"{split}: aligned layout with different lengths per modality")
        ids = d["id"]
        like = gen["options"]["like"]
        # A test_split=valid copy: the test split holds the validation samples, ids included.
        source = split
        if split == "test" and gen["options"].get("test_split", "test") == "valid":
            source = "valid"
            for key in d:
                same = (np.array_equal(d[key], data["valid"][key]) if d[key].dtype != object
                        else d[key].shape == data["valid"][key].shape
                        and bool(np.all(d[key] == data["valid"][key])))
                if not same:
                    fail(f"test.{key}: differs from valid.{key} in a test_split=valid copy")
        if layout == "mult":
            if ids.shape != (n, 3) or ids[0, 0] != f"synth_{like}_{source}" or ids[n - 1, 1] != str(n - 1):
                fail(f"{split}.id: unexpected content {ids[:1]}")
        elif ids.shape != (n,) or ids[n - 1] != f"synth_{like}_{source}$_${n - 1}":
            fail(f"{split}.id: unexpected content {ids[:1]}")
        lab = d["labels"] if layout == "mult" else d["regression_labels"]
        if gen["task"] == "iemocap":
            if lab.shape != (n, 4, 2) or not np.all(lab.sum(axis=2) == 1):
                fail(f"{split}.labels: not one-hot (N, 4, 2)")
        elif np.any(np.abs(lab) > 3):
            fail(f"{split}: labels outside [-3, 3]")


# ---- the oracle --------------------------------------------------------------------------------


def given_modalities(protocol, parameter, seed, n):
    """(n, 3) bool: modalities a condition gives as a whole."""
    if protocol == "condition":
        letters = parameter.split(",")
        row = np.array([c in letters for c in "lav"])
        return np.tile(row, (n, 1))
    if protocol == "modality_drop":
        mr = float(parameter)
        idx = np.arange(n)
        u_k = uniform(hash_words(TAG_MODALITY_DROP, seed, idx, 0))
        u_o = uniform(hash_words(TAG_MODALITY_DROP, seed, idx, 1))
        if mr >= 2.0 / 3.0:
            k = np.full(n, 2)
        else:
            k = np.minimum(2, np.floor(3.0 * mr + u_k)).astype(int)
        orders = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
        order = orders[np.minimum(5, np.floor(6.0 * u_o)).astype(int)]
        given = np.ones((n, 3), dtype=bool)
        for j in range(2):
            drop = k > j
            given[np.arange(n)[drop], order[drop, j]] = False
        return given
    return np.ones((n, 3), dtype=bool)


def frame_rates(protocol, parameter):
    if protocol in ("frame", "frame_rate"):
        r = [float(x) for x in parameter.split(",")]
        return r * 3 if len(r) == 1 else r
    return [0.0, 0.0, 0.0]


_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(x):
    return 0.5 * _erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0)).astype(np.float64)


def interaction_prediction(obs, gen, prec, keeps, n):
    """Posterior median of the label per sample (kind=interaction), from the generator file."""
    ctx = gen["context"]
    w = np.array(gen["label"]["weights"], dtype=np.float64)
    sy = float(gen["label"]["noise_sd"])
    gains = [float(g) for g in ctx["intensity_gain"]]
    cues = ctx["modalities"]
    k = prec.shape[1]
    var = np.linalg.solve(prec, np.tile(w, (n, 1))[:, :, None])[:, :, 0] @ w  # w^T Lambda^-1 w
    logw, means, sds = [], [], []
    for c, pc in ((0, 1.0 - ctx["ironic"]["prior"]), (1, ctx["ironic"]["prior"])):
        for g, pg in ((0, 1.0 - ctx["intense"]["prior"]), (1, ctx["intense"]["prior"])):
            if not (pc > 0 and pg > 0):
                continue
            h = np.zeros((n, k))
            q = np.zeros(n)
            for m, (i, f, vals, b, sd) in enumerate(obs):
                keep = keeps[m]
                cue = cues[m]
                r = vals - c * cue["irony_cue"] * np.array(cue["irony_dir"]) \
                    - g * cue["intensity_cue"] * np.array(cue["intensity_dir"])
                sign = -1.0 if (c and cue["inverted_when_ironic"]) else 1.0
                np.add.at(h, i[keep], sign * (r[keep] @ b) / sd ** 2)
                np.add.at(q, i[keep], np.sum(r[keep] ** 2, axis=1) / sd ** 2)
            mu = np.linalg.solve(prec, h[:, :, None])[:, :, 0]
            logw.append(math.log(pc) + math.log(pg) - 0.5 * q + 0.5 * np.sum(h * mu, axis=1))
            means.append(gains[g] * (mu @ w))
            sds.append(np.sqrt(gains[g] ** 2 * var + sy ** 2))
    logw = np.array(logw)
    weight = np.exp(logw - logw.max(axis=0))
    weight /= weight.sum(axis=0)
    means, sds = np.array(means), np.array(sds)
    lo = np.min(means - 40 * sds - 1, axis=0)
    hi = np.max(means + 40 * sds + 1, axis=0)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if np.all((mid <= lo) | (mid >= hi)):
            break
        cdf = np.sum(weight * normal_cdf((mid[None, :] - means) / sds), axis=0)
        below = cdf < 0.5
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def check_oracle(data, gen, oracle):
    test = data["test"]
    mods = gen["modalities"]
    k = gen["latent"]["k"]
    task = gen["task"]
    seed = oracle["mask_seed"]
    n = gen["splits"]["test"]["n"]
    # Informative frames from the marker dimension, and what they carry.
    obs = []
    for mod in mods:
        x = test[mod["key"]]
        i, f = np.nonzero(x[:, :, mod["marker_dim"]] == 1)
        vals = x[i, f][:, mod["informative_dims"]].astype(np.float64)
        b = np.array(mod["loading"], dtype=np.float64)  # (dims, k)
        obs.append((i, f, vals, b, float(mod["noise_sd"])))
    if task == "iemocap":
        w = np.array(gen["label"]["weights"], dtype=np.float64)  # (4, k)
        tau = np.array(gen["label"]["tau"], dtype=np.float64)
        label = test["labels"].argmax(axis=2)
    else:
        w = np.array(gen["label"]["weights"], dtype=np.float64)[None, :]
        label = np.asarray(test["labels"] if gen["layout"] == "mult"
                           else test["regression_labels"], dtype=np.float64).reshape(-1)
    if gen["label"].get("clip") and task != "iemocap":
        lo, hi = gen["label"]["clip"]
    suites = oracle.get("suites", {"paper": {"conditions": oracle["conditions"]}})
    if [c["name"] for c in oracle["conditions"]] != [c["name"] for c in suites["paper"]["conditions"]]:
        fail("top-level conditions differ from suites.paper")
    checked = 0
    for suite, content in suites.items():
        for cond in content["conditions"]:
            proto, param = cond["protocol"], cond["parameter"]
            if cond["mask_seed"] != seed:
                fail(f"{cond['name']}: mask_seed {cond['mask_seed']} != {seed}")
            given = given_modalities(proto, param, cond["mask_seed"], n)
            rates = frame_rates(proto, param)
            prec = np.tile(np.eye(k), (n, 1, 1))
            rhs = np.zeros((n, k))
            keeps = []
            for m, (i, f, vals, b, sd) in enumerate(obs):
                keep = given[i, m]
                if rates[m] > 0:
                    u = uniform(hash_words(TAG_FRAME, cond["mask_seed"], i, m, f))
                    keep = keep & ~(u < rates[m])
                keeps.append(keep)
                gram = b.T @ b / sd ** 2
                np.add.at(prec, i[keep], gram)
                np.add.at(rhs, i[keep], vals[keep] @ b / sd ** 2)
            if gen.get("kind", "linear") == "interaction":
                score = interaction_prediction(obs, gen, prec, keeps, n)[:, None]
            else:
                mu = np.linalg.solve(prec, rhs[:, :, None])[:, :, 0]
                score = mu @ w.T
            if task == "iemocap":
                mine = iemocap_metrics((score > tau).astype(int), label)
            else:
                mine = regression_metrics(np.clip(score[:, 0], lo, hi), label)
            theirs = cond["metrics"]
            if set(mine) != set(theirs):
                fail(f"{suite} {cond['name']}: metric keys {sorted(theirs)} != {sorted(mine)}")
            for key in mine:
                if key in theirs and not abs(mine[key] - theirs[key]) <= TOL:
                    fail(f"{suite} {cond['name']} {key}: oracle file {theirs[key]!r}, "
                         f"recomputed {mine[key]!r}")
            if proto == "modality_drop":
                realised = float(np.mean(~given))
                if abs(realised - cond["realised_missing_rate"]) > 1e-12:
                    fail(f"{cond['name']}: realised missing rate {realised} != "
                         f"{cond['realised_missing_rate']}")
            checked += 1
    return checked


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    with open(path, "rb") as fh:
        raw = fh.read()
    data = pickle.loads(raw)
    with open(path + ".generator.json") as fh:
        gen = json.load(fh)
    with open(path + ".oracle.json") as fh:
        oracle = json.load(fh)
    if oracle.get("format") != "robustmsa-oracle-1":
        fail(f"oracle format {oracle.get('format')!r}")
    if gen.get("format") != "robustmsa-synth-generator-1":
        fail(f"generator format {gen.get('format')!r}")
    sha = hashlib.sha256(raw).hexdigest()
    if oracle["data"]["sha256"] != sha:
        fail(f"sha256 {sha} != oracle's {oracle['data']['sha256']}")
    check_layout(data, gen)
    checked = check_oracle(data, gen, oracle)
    print(f"numpy {np.__version__}: {checked} oracle conditions recomputed, "
          f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
