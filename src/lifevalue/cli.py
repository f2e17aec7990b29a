"""Command line: ``lifevalue demo`` and, as the package grows, fit/score/report."""

from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from lifevalue import datasets

    summary = datasets.load_cdnow_summary("sample")
    print("lifevalue demo: the CDNOW sample (Fader, Hardie & Lee 2005)")
    print(
        "Calibration 1997-01-01..1997-09-30, holdout to 1998-06-30; times in weeks, "
        "purchases counted per day."
    )
    repeaters = summary["frequency_cal"] > 0
    print(f"customers: {len(summary)}, repeat customers in calibration: {int(repeaters.sum())}")
    print(f"repeat transactions in calibration: {int(summary['frequency_cal'].sum())}")
    print(f"mean repeat spend: ${summary.loc[repeaters, 'monetary_value_cal'].mean():.2f}")
    print()
    print(summary.describe().round(2).to_string())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lifevalue", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the pipeline on the bundled CDNOW data")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
