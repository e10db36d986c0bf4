"""Command-line options reach the settings they name."""

from __future__ import annotations

from dkmap.cli import _build_settings, build_parser, main


def test_build_projection_options_reach_the_build_settings():
    settings = _build_settings(build_parser().parse_args(
        ["build", "data/x", "--metric", "m", "--epochs", "7", "--hidden", "96"]))
    assert (settings.epochs, settings.hidden) == (7, 96)
    assert _build_settings(build_parser().parse_args(["build", "data/x", "--metric", "m"])).hidden is None


def test_evaluate_rejects_a_hidden_width_below_two(tmp_path, capsys):
    assert main(["evaluate", "--npz", str(tmp_path / "none.npz"), "--hidden", "1"]) == 1
    assert "hidden must be None or an integer >= 2" in capsys.readouterr().err


def test_evaluate_rejects_a_negative_lam(tmp_path, capsys):
    assert main(["evaluate", "--npz", str(tmp_path / "none.npz"), "--lam", "-1"]) == 1
    assert "lam must be a finite number >= 0" in capsys.readouterr().err


def test_serve_rejects_a_selection_sample_below_one(tmp_path, capsys):
    assert main(["serve", "--data", str(tmp_path), "--selection-sample", "0"]) == 1
    assert "--selection-sample must be a positive integer, got 0" in capsys.readouterr().err
