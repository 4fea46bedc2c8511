"""Render ``conveyor deployments report``: champion/challenger per shadow, A/B arms and tests."""

from __future__ import annotations

from typing import Any

from conveyor.cli.output import console, fmt_time, table


def render_report(report: dict[str, Any]) -> None:
    """Print an experiment report (``conveyor.serving.experiments.experiment_report``)."""
    until = fmt_time(report["until_ms"]) if report["until_ms"] else "now"
    console.print(
        f"deployment [bold]{report['deployment']}[/bold] (model {report['model']}, revision "
        f"{report['revision']}, mode {report['mode']}), from {fmt_time(report['since_ms'])} "
        f"to {until}"
    )
    for shadow in report["shadows"]:
        _shadow(shadow)
    if report["ab"] is not None:
        _ab(report["ab"])
    if not report["shadows"] and report["ab"] is None:
        console.print(
            "no experiment: add a shadow (`conveyor deployments shadow`) or split traffic "
            "(`conveyor deployments ab` or `canary`)"
        )


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.3g}"


def _ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"[{_num(ci[0])}, {_num(ci[1])}]"


def _shadow(section: dict[str, Any]) -> None:
    r = section["report"]
    live = ",".join(f"v{v}" for v in section["champion_versions"]) or "live"
    more = " (most recent only)" if section["truncated"] else ""
    t = table(
        f"Shadow v{section['version']} vs {live}: {section['task']}, {r['n_pairs']} paired "
        f"rows{more}",
        ["measure", "champion", "challenger", "difference", "test / interval"],
    )
    agreement = r["agreement_rate"]
    t.add_row("agreement rate", "", "", "", _num(agreement))
    shift = r["prediction_shift"]
    if shift is not None:
        t.add_row(
            "prediction PSI / JS",
            "",
            "",
            "",
            f"{_num(shift['psi'])} / {_num(shift['js_distance'])}",
        )
    lat = r["latency"]
    for q in ("p50", "p99"):
        t.add_row(
            f"{q} latency ms",
            _ms(lat[f"champion_{q}_s"]),
            _ms(lat[f"challenger_{q}_s"]),
            _ms(lat[f"{q}_delta_s"]),
            "",
        )
    err = r["error_rate"]
    t.add_row(
        "error rate",
        _num(err["estimate_a"]),
        _num(err["estimate_b"]),
        _num(err["difference"]),
        f"p={_num(err['p_value'], 3)} ({err['decision'].replace('_', ' ')})",
    )
    metric = r["metric"]
    if metric is None:
        t.add_row("metric", "", "", "", "no labels yet: post them to .../feedback")
    else:
        t.add_row(
            f"{metric['metric']} ({metric['n_labeled']} labelled)",
            _num(metric["champion"]),
            _num(metric["challenger"]),
            _num(metric["difference"]),
            f"{metric['confidence']:.0%} CI {_ci(metric['ci'])}: "
            + metric["verdict"].replace("_", " "),
        )
    console.print(t)


def _ab(section: dict[str, Any]) -> None:
    arms = table(
        f"A/B arms: {section['metric']} ({section['kind']})",
        ["arm", "version", "weight %", "requests", "error rate", "outcomes", "mean outcome"],
    )
    for a in section["arms"]:
        arms.add_row(
            a["name"],
            str(a["version"]),
            f"{a['weight']:g}",
            str(a["requests"]),
            _num(a["error_rate"]),
            str(a["outcomes"]),
            _num(a["mean_outcome"]),
        )
    console.print(arms)
    tests = table(
        f"Each arm vs the control (alpha {section['alpha']:g})",
        ["arm", "difference", "interval", "fixed test p", "sequential p", "decision", "more/arm"],
    )
    for c in section["comparisons"]:
        fixed, seq = c["fixed"], c["sequential"]
        tests.add_row(
            f"{c['arm']} vs {c['control']}",
            _num(fixed["difference"]),
            _ci(fixed["ci"]),
            f"{_num(fixed['p_value'], 3)} ({fixed['test']})",
            _num(seq["p_value"], 3),
            (seq if section["test"] == "sequential" else fixed)["decision"].replace("_", " "),
            "-" if c["samples_more_per_arm"] is None else f"{c['samples_more_per_arm']:,}",
        )
    console.print(tests)
    if section["winner"] is not None:
        console.print(
            f"winner ({section['test']} test): [bold]{section['winner']}[/bold] "
            f"(version {section['winner_version']})"
        )
    else:
        console.print(f"no winner yet ({section['test']} test): {section['note']}")
