"""The real Multi30K pipeline, every stage a user runs, on what this machine has (`make rehearsal`).

Real Multi30K text (task 1, English -> German, from `../shared/data/multi30k/`) is written into the
NRCCR layout under `<work>/VisualSearch/multi30k/`, subsampled (300 training images, 100 val, 100
test, evenly spaced over each split) so the whole rehearsal runs in well under two minutes on two
CPU cores. The Flickr30K images are not here: the image features are random stand-ins, in a
feature folder named `standin_random` with a STAND-IN.txt beside them, and every number this
rehearsal prints is chance-level by construction — it rehearses the plumbing, never quality.

Stages (each through the `ccrkit` command a user types, in this process, except `serve`):
 1. `data check`  — reports the missing machine translations (the official Google MT files are not
    public; a user without them runs `translate`), then passes after stage 2;
 2. `translate`   — English -> German training MT, back-translation and the val/test translate-test
    views with tiny random MarianMT models built here (`hf` backend); a first run is cut after
    three batches (a simulated power cut), the second resumes from the SQLite cache;
 3. `train`       — NRCCR (configs/runs/multi30k/nrccr-multi30k.yaml) for 1 epoch with a tiny
    random BERT through the `hf` encoder, on the stand-in features;
 4. `evaluate`    — the trained run, German queries native and fused;
 5. `import nrccr`— a checkpoint in the official format, made by the reference of the official
    forward (tests/official/nrccr_reference.py), evaluated too;
 6. `index build` — the imported run over the test images;
 7. `serve`       — a real HTTP server answering one German test caption.

Run: `python tests/rehearsal/rehearse.py [--multi30k DIR] [--work DIR]`; the test
tests/rehearsal/test_rehearsal.py runs the same function.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import time
import unicodedata
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "official"))  # nrccr_reference
sys.path.insert(0, str(HERE.parent / "models"))  # tinymodels

SIZES = {"train": 300, "val": 100, "test": 100}
RAW = {"train": "train", "val": "val", "test": "test_2016_flickr"}
STANDIN, STANDIN_DIM = "standin_random", 64
DATA = "multi30k-task1-de"
STANDIN_NOTE = (
    "STAND-IN FEATURES: random numbers, not image features. The Flickr30K images are not on this "
    "machine; ccrkit's rehearsal (tests/rehearsal/rehearse.py) writes these so every stage can run. "
    "Any retrieval number computed from them is chance-level by construction.\n"
)


def find_multi30k() -> Path | None:
    """`shared/data/multi30k` beside the repository or any folder above it (CI: next to the clone)."""
    for folder in [REPO, *REPO.parents]:
        candidate = folder / "shared" / "data" / "multi30k"
        if candidate.is_dir():
            return candidate
    return None


def read_lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")


def spread(count: int, total: int) -> list[int]:
    """`count` indices evenly spaced over `total` lines (deterministic subsample)."""
    step = total / count
    return [int(i * step) for i in range(count)]


def write_layout(multi30k: Path, root: Path) -> dict[str, list[str]]:
    """Task 1 text in the official NRCCR names (caption ids `<image>.jpg#<tag>#0`, bare ids in the
    id lists) and stand-in features named the way the official image code reads any feature."""
    collection = root / "multi30k"
    text, features = collection / "TextData", collection / "FeatureData"
    for folder in (text, features / STANDIN):
        folder.mkdir(parents=True, exist_ok=True)
    (features / STANDIN / "STAND-IN.txt").write_text(STANDIN_NOTE, encoding="utf-8")
    rng = np.random.default_rng(0)
    queries: dict[str, list[str]] = {}
    for split, count in SIZES.items():
        images = (multi30k / "task1" / "image_splits" / f"{RAW[split]}.txt").read_text().split()
        chosen = spread(count, len(images))
        pictures = [images[i] for i in chosen]
        ids = [picture.removesuffix(".jpg") for picture in pictures]
        if split == "train":
            english = read_lines(multi30k / "task1" / "raw" / f"{RAW[split]}.en.gz")
            _captions(
                text / "multi30ktrain_enc.caption.txt",
                pictures,
                "enc",
                [english[i] for i in chosen],
            )
            id_file = features / "train_id.txt"
            npy = features / STANDIN / f"train-{STANDIN}-avgpool.npy"
        else:
            german = read_lines(multi30k / "task1" / "raw" / f"{RAW[split]}.de.gz")
            queries[split] = [german[i] for i in chosen]
            name = "multi30kval_de_task1" if split == "val" else "multi30ktest_de_2016_task1"
            _captions(text / f"{name}.caption.txt", pictures, "de", queries[split])
            id_file = features / ("val_id.txt" if split == "val" else f"{STANDIN}/test_id_2016.txt")
            npy = features / STANDIN / (
                f"val-{STANDIN}-avgpool.npy" if split == "val" else "test_2016_flickr-resnet152-avgpool.npy"
            )  # fmt: skip
        id_file.write_text("".join(f"{item}\n" for item in ids), encoding="utf-8")
        np.save(npy, rng.standard_normal((len(ids), STANDIN_DIM)).astype(np.float32))
        if split == "test":  # the index stores a picture per item: stand-ins, saying so
            for item in ids:
                standin_picture(collection / "flickr30k-images" / f"{item}.jpg", item)
    return queries


def standin_picture(path: Path, item: str) -> None:
    """A grey 96 x 64 JPEG that reads "STAND-IN" and the Flickr30K id it replaces."""
    from PIL import Image, ImageDraw

    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.new("RGB", (96, 64), (200, 200, 200))
    draw = ImageDraw.Draw(picture)
    draw.text((6, 14), "STAND-IN", fill=(160, 0, 0))
    draw.text((6, 36), item, fill=(0, 0, 0))
    picture.save(path, quality=90)


def _captions(path: Path, pictures: list[str], tag: str, texts: list[str]) -> None:
    lines = [f"{picture}#{tag}#0 {text}\n" for picture, text in zip(pictures, texts, strict=True)]
    path.write_text("".join(lines), encoding="utf-8")


def vocabulary(root: Path, size: int = 3000) -> list[str]:
    """The most frequent lower-cased, accent-stripped words of the layout's captions (the tiny
    BERT's WordPiece vocabulary; unknown words become [UNK], which is fine for plumbing)."""
    counts: Counter[str] = Counter()
    for path in (root / "multi30k" / "TextData").glob("*.caption.txt"):
        for line in path.read_text(encoding="utf-8").splitlines():
            plain = unicodedata.normalize("NFD", line.partition(" ")[2].lower())
            plain = "".join(ch for ch in plain if unicodedata.category(ch) != "Mn")
            counts.update(re.findall(r"\w+|[^\w\s]", plain))
    return [word for word, _ in counts.most_common(size)]


class Stages:
    """Runs `ccrkit` commands in this process, timing and printing each."""

    def __init__(self, work: Path) -> None:
        self.work, self.timings, self.log = work, {}, []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 2)
        print(f"--- {name}: {self.timings[name]:.1f} s", flush=True)

    def ccrkit(self, *argv: str, expect: int = 0) -> None:
        from ccrkit.cli.main import main

        shown = " ".join(a if len(a) < 90 else "..." + a[-60:] for a in argv)
        print(f"$ ccrkit {shown}", flush=True)
        status = main(list(argv))
        if status != expect:
            raise RuntimeError(f"ccrkit {argv[0]} exited {status}, expected {expect}")


def rehearse(multi30k: Path, work: Path) -> dict:
    """Every stage on the real text; returns the summary also written to `<work>/rehearsal.json`."""
    from nrccr_reference import build_reference, opt_for, save_official
    from tinymodels import tiny_bert

    from ccrkit.translate.backends.hf import HFBackend
    from ccrkit.translate.tiny import build_tiny_marian

    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    root, models, runs = work / "VisualSearch", work / "models", work / "runs"
    stages = Stages(work)
    summary: dict = {
        "multi30k": str(multi30k),
        "sizes": SIZES,
        "features": f"{STANDIN} (random stand-ins)",
    }

    with stages.stage("layout: real Multi30K task 1 text into the NRCCR names"):
        queries = write_layout(multi30k, root)
        for split, count in SIZES.items():
            print(f"  {split}: {count} images (evenly spaced subsample of the official split)")
        print(
            f"  image features: {STANDIN}/ — RANDOM STAND-INS ({STANDIN_DIM}-d), see STAND-IN.txt"
        )
        print(
            "  test pictures: flickr30k-images/<id>.jpg — grey STAND-IN cards (for the index and /media)"
        )
    check = ["data", "check", "--data", DATA, "--root", str(root), "--feature", STANDIN]
    with stages.stage("data check (before translation: the MT files are missing)"):
        stages.ccrkit(*check, expect=2)

    with stages.stage("tiny random models (MarianMT en->de, de->en; BERT)"):
        english = (root / "multi30k/TextData/multi30ktrain_enc.caption.txt").read_text(
            encoding="utf-8"
        )
        german = "\n".join(queries["val"] + queries["test"])
        corpus = [line.partition(" ")[2] for line in english.splitlines()] + german.splitlines()
        forward = build_tiny_marian(models / "opus-mt-en-de", corpus)
        backward = build_tiny_marian(models / "opus-mt-de-en", corpus, "de", "en", seed=1)
        bert = tiny_bert(models / "tiny-mbert", vocabulary(root))
    translate = ["translate", "--data", DATA, "--root", str(root), "--split", "train,val,test",
                 "--tgt", "de", "--model", str(forward), "--back-model", str(backward),
                 "--max-new-tokens", "12", "--batch-size", "16", "--cache", str(work / "mt-cache.sqlite"),
                 "--no-progress"]  # fmt: skip
    # ccrkit ends an interrupted command with status 130
    with (
        stages.stage("translate, cut after 3 batches (simulated power cut)"),
        _power_cut(HFBackend, after=3),
    ):
        stages.ccrkit(*translate, "--out", str(runs / "translate-cut"), expect=130)
    with stages.stage("translate again: resumes from the cache"):
        stages.ccrkit(*translate, "--out", str(runs / "translate"))
        metrics = json.loads((runs / "translate" / "run.json").read_text())["metrics"]
        summary["translate"] = {
            k: {f: v.get(f) for f in ("unique", "cached", "translated")} for k, v in metrics.items()
        }
        cached = sum(row["cached"] or 0 for row in summary["translate"].values())
        print(f"  sentences taken from the cache of the interrupted run: {cached}")
    with stages.stage("data check (after translation)"):
        stages.ccrkit(*check)

    train = [
        "train",
        "--config",
        "nrccr-multi30k",
        "--out",
        str(runs / "train"),
        *_train_overrides(root, bert),
    ]
    with stages.stage("train NRCCR, 1 epoch, tiny BERT (hf encoder), stand-in features"):
        stages.ccrkit(*train)
    with stages.stage("evaluate the trained run"):
        stages.ccrkit(
            "evaluate", "--checkpoint", str(runs / "train"), "--out", str(runs / "evaluate-train")
        )

    with stages.stage("import nrccr: an official-format checkpoint made by the reference"):
        reference = build_reference("image", bert, visual_dim=STANDIN_DIM, embed=64)
        checkpoint = save_official(
            reference,
            opt_for("image", visual_feature=STANDIN),
            work / "official" / "model_best.pth.tar",
        )
        stages.ccrkit("import", "nrccr", str(checkpoint), "--text-model", str(bert), "--out",
                      str(runs / "imported"), "--root", str(root))  # fmt: skip
        stages.ccrkit(
            "evaluate",
            "--checkpoint",
            str(runs / "imported"),
            "--out",
            str(runs / "evaluate-imported"),
        )
    index = work / "index"
    with stages.stage("index build (the imported run, test images)"):
        stages.ccrkit("index", "build", "--checkpoint", str(runs / "imported"), "--data", DATA,
                      "--split", "test", "--out", str(index), "--force")  # fmt: skip
    query = queries["test"][0]
    with stages.stage("serve: one German query over HTTP"):
        answer = serve_and_ask(index, query)
        print(f"  GET /api/search?q={query!r}&lang=de&k=5 -> {len(answer['results'])} results")
        for hit in answer["results"][:5]:
            print(f"    {hit.get('id')}  score {hit.get('score'):.4f}")
        summary["serve"] = {"query": query, "results": [hit.get("id") for hit in answer["results"]]}

    summary["timings_s"] = stages.timings
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    summary["load_1min"] = os.getloadavg()[0]
    (work / "rehearsal.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"\nrehearsal complete in {summary['wall_s']} s (1-min load {summary['load_1min']:.1f}); "
          f"features were random stand-ins: the numbers above are chance-level by construction")  # fmt: skip
    return summary


def _train_overrides(root: Path, bert: Path) -> list[str]:
    """configs/runs/multi30k/nrccr-multi30k.yaml made tiny: the stand-in features, a 2-layer
    BERT, 1 epoch."""
    return [
        f"data.root={root}", f"data.feature={STANDIN}", "data.num_workers=0",
        f"text_encoder.path={bert}", "text_encoder.finetune=null", "text_encoder.max_length=64",
        "visual_encoder={name: feature, hidden: 64, activation: relu}", "method.visual_hidden=null",
        "method.hidden=32", "method.embed_dim=64", "train.epochs=1", "train.batch_size=32",
        "train.device=cpu", "train.progress=false", "train.tensorboard=false", "eval.batch_size=64",
    ]  # fmt: skip


@contextlib.contextmanager
def _power_cut(backend: type, after: int) -> Iterator[None]:
    """`backend.translate` raises on its (after+1)-th call: a run killed between two batches."""
    original, calls = backend.translate, []

    def cut(self, segments):
        calls.append(len(segments))
        if len(calls) > after:
            raise KeyboardInterrupt  # what a Ctrl-C or a kill between batches looks like
        return original(self, segments)

    backend.translate = cut
    try:
        yield
    finally:
        backend.translate = original


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_and_ask(index: Path, query: str, timeout: float = 90.0) -> dict:
    """Start `ccrkit serve` in a subprocess, ask one query over HTTP, stop the server."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ccrkit", "serve", "--index", str(index), "--port", str(port), "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(
                    f"ccrkit serve exited {server.returncode}: {server.stdout.read()[-2000:]}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{base}/api/health", timeout=2) as answer,
            ):
                if answer.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"ccrkit serve did not answer /api/health within {timeout:.0f} s"
                )
            time.sleep(0.3)
        params = urllib.parse.urlencode({"q": query, "lang": "de", "k": 5})
        with urllib.request.urlopen(f"{base}/api/search?{params}", timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--multi30k", type=Path, help="the shared Multi30K copy (default: found beside the repo)"
    )
    parser.add_argument(
        "--work", type=Path, default=REPO / "runs" / "rehearsal", help="output folder (replaced)"
    )
    args = parser.parse_args(argv)
    multi30k = args.multi30k or find_multi30k()
    if multi30k is None or not multi30k.is_dir():
        print(f"rehearsal SKIPPED: the shared Multi30K copy is absent ({multi30k or '../shared/data/multi30k'}); "
              "pass --multi30k DIR")  # fmt: skip
        return 0
    if args.work.exists():
        import shutil

        shutil.rmtree(args.work)
    rehearse(multi30k, args.work)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    raise SystemExit(main())
