"""The report page: the first screen (conclusions in plain words, with units and
intervals, and whether the model can be trusted), then the details."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from lifevalue import plots
from lifevalue.report import actions as act
from lifevalue.report import figures as kf
from lifevalue.report import trust as tr
from lifevalue.report.fmt import (
    CSS,
    MODEL_NAMES,
    PERIOD_NAMES,
    TIME_UNIT_NAMES,
    count,
    esc,
    money,
    money_range,
    number,
    percent,
    png,
    table,
)
from lifevalue.segments import top_share

PARAM_MEANING = ("Parameter interval: how sure we are about the expected value of a customer "
                 "with this history (uncertainty in the population parameters only).")
PRED_MEANING = ("Predictive interval: the range this customer's actual value will fall in, "
                "their own randomness included (alive or not, own rate, own spend). Use it "
                "for decisions about one customer.")
CELL_WORDS = {"retain": "Retain", "develop": "Develop", "phase_out": "Phase out"}
LEVEL_WORDS = {"top": "top (most valuable 1%)", "big": "big (next 4%)",
               "medium": "medium (next 15%)", "small": "small (remaining 80%)",
               "inactive": "inactive (chance still active below 10%)"}




def model_name(model) -> str:
    """The usual name of a transaction model (``'BG/NBD'``)."""
    return MODEL_NAMES.get(type(model).__name__, type(model).__name__)


class Page:
    """Everything the page needs, computed once."""

    def __init__(self, summary, transactions_model, spend_model, value, currency, valuer,
                 scenario, top_n, transactions=None, model_comparison=None):
        self.bg, self.gg, self.value = transactions_model, spend_model, value
        self.model_comparison = model_comparison
        self.transactions = transactions
        self.summary = kf.valued_summary(summary)
        self.a = value.assumptions
        self.c = value.customers
        self.currency = currency or None
        self.cur = currency or "currency units"
        self.horizon = kf.horizon_words(self.a)
        self.ci = f"{self.a['ci']:.0%}"
        if valuer is None:
            valuer = kf.rebuild_valuer(value, transactions_model, spend_model)
        if scenario is None and valuer is not None:
            scenario = kf.rebuild_scenario(value, valuer)
        self.figures = kf.key_figures(value, self.summary, valuer, scenario)
        self.trust = tr.assess(transactions_model, spend_model, self.summary)
        self.lists = act.action_lists(value, self.summary, transactions_model, top_n=top_n,
                                      currency=self.currency)

    def m(self, v) -> str:
        return money(v, self.currency)

    def r(self, lo, hi) -> str:
        return money_range(lo, hi, self.currency)

    @staticmethod
    def n(v) -> str:
        """An amount in a column whose heading names the currency."""
        return money(v)

    @staticmethod
    def nr(lo, hi) -> str:
        return money_range(lo, hi)

    def both(self, row, prefix="") -> str:
        """"parameter interval a to b; predictive interval c to d"."""
        return (f"parameter interval {self.r(row[prefix + 'param_lo'], row[prefix + 'param_hi'])}"
                f"; predictive interval {self.r(row[prefix + 'pred_lo'], row[prefix + 'pred_hi'])}")

    # ------------------------------------------------------------------ first screen

    def units_line(self) -> str:
        if self.currency:
            amounts = f"Amounts are in {esc(self.currency)}"
        else:
            amounts = ("Amounts are in the data's currency units (no currency was named: "
                       "give one with the currency option)")
        end = self.summary.attrs.get("calibration_end") or self.summary.attrs.get(
            "observation_end")
        asof = f" as of {esc(end)}" if end else ""
        return (f'<p class="note" id="units">{amounts}. Values cover the next {self.horizon}'
                f"{asof}: margin on expected purchases minus development and retention "
                f"costs, discounted at {percent(self.a['annual_discount_rate'], 1)} a year. "
                f"Intervals are {self.ci} intervals. Written "
                f"{dt.datetime.now():%Y-%m-%d %H:%M} by lifevalue.</p>")

    def trust_box(self) -> str:
        t = self.trust
        cls = {"ok": "ok", "care": "care", "warn": "warn"}[t.level]
        body = "".join(f"<p>{esc(s)}</p>" for s in t.sentences)
        bad = [type(m).__name__ for m in (self.bg, self.gg) if not m.converged]
        if bad:
            body = ('<p class="warn">Warning: the model fit did not converge ('
                    f'{", ".join(bad)}). Every number below rests on it; see Model '
                    "checks.</p>" + body)
        return (f'<div class="{cls}" id="verdict"><h3>Can the model be trusted? '
                f"{esc(t.headline)}.</h3>{body}</div>")

    def worth_card(self) -> str:
        base, n = self.figures.base, count(self.figures.customers)
        cur, pot, gro = base.loc["current"], base.loc["potential"], base.loc["growth"]
        scen = kf.scenario_words(self.a)
        return (
            '<div class="card wide" id="worth"><h3>What the customer base is worth</h3>'
            '<div class="grid"><div>'
            f'<p><span class="big">{esc(self.m(cur["mean"]))}</span> over the next '
            f"{esc(self.horizon)}</p>"
            f"<p>The {n} customers are expected to bring a net value of "
            f"{esc(self.m(cur['mean']))} over the next {esc(self.horizon)} if they go on as "
            f"now ({esc(self.both(cur))}).</p></div><div>"
            f'<p><span class="big">{esc(self.m(pot["mean"]))}</span> if customers reach their '
            "potential</p>"
            f"<p>Their potential value is {esc(self.m(pot['mean']))} ({esc(self.both(pot))}): "
            f"{esc(self.m(gro['mean']))} more than now ({esc(self.both(gro))}), under "
            f"{esc(scen)}.</p></div></div></div>")

    def groups_card(self) -> str:
        g = self.figures.groups
        thr = self.figures.thresholds
        rows = []
        for cell in ("retain", "develop", "phase_out"):
            row = g.loc[cell]
            ok = np.isfinite(row["current_param_lo"])
            rows.append([CELL_WORDS[cell], count(row["customers"]),
                         self.n(row["current_mean"]),
                         self.nr(row["current_param_lo"], row["current_param_hi"]) if ok
                         else "not available",
                         self.nr(row["current_pred_lo"], row["current_pred_hi"]) if ok
                         else "not available",
                         self.n(row["potential_mean"]), self.n(row["growth_mean"])])
        frame = pd.DataFrame(rows, columns=[
            "group", "customers", f"current value ({self.cur}): expected",
            f"parameter interval, {self.ci} ({self.cur})",
            f"predictive interval, {self.ci} ({self.cur})",
            f"potential value ({self.cur}): expected", f"gain ({self.cur}): expected"]
        ).set_index("group")
        neg = g.loc["phase_out", "current_mean"] < 0
        return (
            '<div class="card wide" id="groups"><h3>Whom to retain, develop and phase out</h3>'
            f"<p>Retain {count(g.loc['retain', 'customers'])} customers (current value at "
            f"least {esc(self.m(thr['current']))}{esc(self.threshold_source())}); "
            f"develop {count(g.loc['develop', 'customers'])} (below that now, but their "
            f"potential value reaches {esc(self.m(thr['potential']))}); phase out "
            f"{count(g.loc['phase_out', 'customers'])} (low on both)"
            + (": together they cost more than they bring." if neg else ".") + "</p>"
            + table(frame, table_id="group-table") + "</div>")

    def threshold_source(self) -> str:
        """", the value of an average new customer" when the retain threshold is the
        default one."""
        p = self.figures.prospect
        if p is not None and np.isclose(self.figures.thresholds["current"],
                                        max(float(p["value_mean"]), 0.0)):
            return ", the value of an average new customer"
        return ""

    def develop_card(self) -> str:
        d = self.figures.groups.loc["develop"]
        interval = (f" ({self.both(d, 'growth_')})" if np.isfinite(d["growth_param_lo"])
                    else "")
        dev_cost = self.a.get("development_cost")
        cost = ""
        if isinstance(dev_cost, float):
            cost = (f" The development cost assumed is {self.m(dev_cost)} per customer and "
                    f"{PERIOD_NAMES[self.a['period']]}; the cost of a campaign to develop "
                    "them is not included.")
        return ('<div class="card" id="develop"><h3>What developing could gain</h3>'
                f"<p>Developing the {count(d['customers'])} customers of the develop group "
                f"could add <b>{esc(self.m(d['growth_mean']))}</b> over the next "
                f"{esc(self.horizon)}{esc(interval)}, taking their value from "
                f"{esc(self.m(d['current_mean']))} to {esc(self.m(d['potential_mean']))}."
                f"{esc(cost)}</p></div>")

    def prospect_card(self) -> str:
        p = self.figures.prospect
        if p is None:
            body = ("<p>Not available: the margin or the costs differ per customer, so a new "
                    "customer has no single value.</p>")
        else:
            body = (f"<p>A new customer is worth <b>{esc(self.m(p['value_mean']))}</b> over "
                    f"the next {esc(self.horizon)} (parameter interval "
                    f"{esc(self.r(p['value_param_lo'], p['value_param_hi']))}): spend less "
                    f"than that to acquire one. One new customer's own value varies much more "
                    f"(predictive interval {esc(self.r(p['value_pred_lo'], p['value_pred_hi']))})"
                    "; the budget is an average over many.</p>")
        return ('<div class="card" id="prospect"><h3>Budget to acquire a new customer</h3>'
                f"{body}</div>")

    def howto(self) -> str:
        return ('<div class="howto" id="howto"><b>How to read the intervals.</b> Every '
                f"amount comes with two {self.ci} intervals. The <i>parameter interval</i> "
                "says how sure the model is about an expected value: it reflects only what "
                "is uncertain about the customer population as a whole, and is the one to "
                "use for totals and budgets. The <i>predictive interval</i> says where the "
                "actual outcome will fall, with each customer's own chance included (still "
                "active or not, how often they buy, how much they spend): it is wider, and "
                "it is the one to use for a decision about one customer. Totals of groups "
                "come from the whole group at each posterior draw, never from adding up "
                "customers' intervals.</div>")

    def first_screen(self) -> str:
        cards = [self.worth_card(), self.groups_card(), self.develop_card(),
                 self.prospect_card()]
        warn_first = self.trust.level == "warn"
        return ('<section id="first-screen">'
                + (self.trust_box() if warn_first else "")
                + '<h2 id="conclusions">At a glance</h2><div class="cards">'
                + "".join(cards) + "</div>"
                + ("" if warn_first else self.trust_box())
                + self.howto()
                + '<p class="note">Details: <a href="#assumptions">assumptions</a>, '
                  '<a href="#checks">model checks</a>, <a href="#base">value of the base</a>, '
                  '<a href="#matrix">matrix</a>, <a href="#pyramid">pyramid</a>, '
                  '<a href="#lists">action lists with CSV downloads</a>.</p></section>')

    # ------------------------------------------------------------------ details

    def overview(self) -> str:
        s = self.summary
        freq = s["frequency"]
        unit = TIME_UNIT_NAMES.get(s.attrs.get("time_unit", "W"), "week")
        rows = {"customers": count(len(s)), "repeat customers": count((freq > 0).sum()),
                "repeat purchases": count(freq.sum()),
                f"mean spend per repeat purchase ({self.cur})":
                    self.m(s.loc[freq > 0, "monetary_value"].mean()) if (freq > 0).any()
                    else "none",
                "time unit of recency and age": unit,
                "data up to": str(s.attrs.get("calibration_end")
                                  or s.attrs.get("observation_end") or "not recorded")}
        frame = pd.DataFrame({"value": list(rows.values())},
                             index=pd.Index(list(rows), name="quantity"))
        return '<h2 id="data">Data overview</h2>' + table(frame)

    def assumptions(self) -> str:
        a = self.a
        per = PERIOD_NAMES[a["period"]]

        def amount(key):
            setting = a[key]
            if isinstance(setting, float):
                return f"{self.m(setting)} per customer and {per}"
            return str(setting)

        margin = a["margin"]
        margin = (f"{percent(margin, 1)} of revenue" if isinstance(margin, float)
                  else str(margin))
        thr = self.figures.thresholds
        rows = {
            "horizon": f"the next {self.horizon}",
            "discount rate": f"{percent(a['annual_discount_rate'], 1)} a year "
                             f"({percent(a['period_discount_rate'], 2)} a {per})",
            "margin": margin,
            "development cost": amount("development_cost"),
            "retention cost": amount("retention_cost"),
            "costs": ("stop when the customer churns" if a["costs_stop_at_churn"] else
                      "run for the whole horizon (the firm does not see who has churned)"),
            "potential": kf.scenario_words(a),
            "retain threshold": f"current value of at least {self.m(thr['current'])}",
            "develop threshold": f"potential value of at least {self.m(thr['potential'])}",
            "intervals": f"{self.ci} central intervals from {a['max_draws']:,} posterior draws",
        }
        frame = pd.DataFrame({"setting": list(rows.values())},
                             index=pd.Index(list(rows), name="assumption"))
        floor = self.floor_note()
        return ('<h2 id="assumptions">Assumptions</h2>' + table(frame, text=True)
                + '<p class="note">Value is the return-based customer value: expected '
                  "margin minus development and retention costs, discounted (Wayland &amp; "
                  "Cole 1997). Current value assumes today's behaviour goes on; potential "
                  "value assumes the scenario above.</p>" + floor)

    def floor_note(self) -> str:
        f = self.figures
        if f.floor is None:
            return ""
        return ('<h3 id="floor">Why so many customers share the same lower bound</h3>'
                f"<p>A customer who never buys again still costs the development and "
                f"retention costs: over the next {esc(self.horizon)}, discounted, that is "
                f"{esc(self.m(f.floor))}, the lowest value any customer can have. "
                f"{count(f.floor_customers)} of the {count(f.customers)} customers have it "
                "as the lower end of their predictive interval: for each of them, churning "
                "at once is a realistic outcome. Customers with a negative expected value "
                "cost more than they are likely to bring.</p>")

    def checks(self) -> str:
        t = self.trust
        parts = ['<h2 id="checks">Model checks</h2>', self.trust_box().replace(
            'id="verdict"', 'id="verdict-details"'),
                 f"<h3>Purchases and dropout ({esc(model_name(self.bg))})</h3>",
                 tr.diagnostics_block(self.bg), tr.covariate_effects_block(self.bg),
                 "<h3>Spend per purchase (Gamma-Gamma)</h3>", tr.diagnostics_block(self.gg)]
        corr = getattr(self.gg, "spend_frequency_correlation_", None)
        if corr:
            parts.append(f'<p class="note">Spend against number of purchases among repeat '
                         f'customers: Spearman correlation {corr["spearman"]:.2f} (the spend '
                         "model assumes none).</p>")
        if t.holdout is not None:
            parts += ["<h3>Holdout check: predictions against what customers did</h3>",
                      tr.holdout_tables(t.holdout)]
        figs = []
        if "frequency_holdout" in self.summary.columns:
            figs.append(png(lambda ax: plots.plot_calibration_holdout(self.bg, self.summary,
                                                                      ax=ax),
                            alt="purchases in the holdout, model against actual"))
        if t.holdout is not None:
            figs.append(png(lambda ax: plots.plot_pit_histogram(t.holdout["pit"], ax=ax),
                            alt="calibration of the predictive ranges"))
        if self.transactions is not None:
            figs.append(png(lambda ax: plots.plot_tracking(
                self.bg, self.transactions, time_unit=self.summary.attrs.get("time_unit", "W"),
                ax=ax), alt="repeat purchases over time"))
        if figs:
            parts.append('<div class="grid">' + "".join(figs) + "</div>")
        if self.model_comparison is not None:
            parts.append(tr.model_comparison_section(self.model_comparison, model_name(self.bg)))
        return "".join(parts)

    def base_section(self) -> str:
        names = {"current": "current value", "potential": "potential value",
                 "growth": "gain (potential − current)"}
        b = self.figures.base
        frame = pd.DataFrame({
            f"expected ({self.cur})": [self.n(b.loc[q, "mean"]) for q in names],
            f"parameter interval, {self.ci} ({self.cur})":
                [self.nr(b.loc[q, "param_lo"], b.loc[q, "param_hi"]) for q in names],
            f"predictive interval, {self.ci} ({self.cur})":
                [self.nr(b.loc[q, "pred_lo"], b.loc[q, "pred_hi"]) for q in names]},
            index=pd.Index(list(names.values()), name=f"whole base, next {self.horizon}"))
        return (f'<h2 id="base">Value of the customer base</h2>{table(frame)}'
                f'<p class="note">{PARAM_MEANING} For the base it respects that all customers '
                f"share the same population parameters. {PRED_MEANING}</p>")

    def matrix_section(self) -> str:
        g = self.figures.groups
        rows = []
        for cell in ("retain", "develop", "phase_out"):
            row = g.loc[cell]
            rows.append({
                "customers": count(row["customers"]),
                "expected customers (uncertainty of the group included)":
                    number(self.c[f"p_{cell}"].sum(), 1),
                f"current value, expected ({self.cur})": self.n(row["current_mean"]),
                f"potential value, expected ({self.cur})": self.n(row["potential_mean"]),
                f"gain, expected ({self.cur})": self.n(row["growth_mean"])})
        frame = pd.DataFrame(rows, index=pd.Index([CELL_WORDS[c] for c in g.index],
                                                  name="group"))
        label = f"({self.cur}, next {self.horizon})"

        def draw(ax):
            plots.plot_relationship_matrix(self.c, self.figures.thresholds, ax=ax)
            ax.set_xlabel(f"current value {label}")
            ax.set_ylabel(f"potential value {label}")

        return ('<h2 id="matrix">Customer relationship matrix</h2>' + table(frame)
                + '<p class="note">Retain: current value at or above the retain threshold. '
                  "Develop: below it, but potential value reaches the develop threshold. "
                  "Phase out: neither. Expected customers adds up each customer's chance of "
                  "being in the group.</p>" + png(draw, (7, 5), alt="relationship matrix"))

    def pyramid_section(self) -> str:
        value = self.c["current_mean"]
        pyr = kf.pyramid_frame(self.c)
        total_pos = pyr["positive"].sum()
        shown = pd.DataFrame({
            "customers": [count(v) for v in pyr["customers"]] + [count(pyr["customers"].sum())],
            f"current value, expected ({self.cur})": [self.n(v) for v in pyr["value"]]
            + [self.n(pyr["value"].sum())],
            f"from customers worth more than 0 ({self.cur})":
                [self.n(v) for v in pyr["positive"]] + [self.n(total_pos)],
            f"from customers worth less than 0 ({self.cur})":
                [self.n(v) for v in pyr["negative"]] + [self.n(pyr["negative"].sum())],
            "share of the positive value": [percent(v, 1) for v in pyr["share"]]
            + [percent(pyr["share"].sum(), 1)]},
            index=pd.Index([LEVEL_WORDS[lv] for lv in pyr.index] + ["all customers"],
                           name="level"))
        top3 = float(pyr.loc[["top", "big", "medium"], "share"].sum())
        n_top3 = int(pyr.loc[["top", "big", "medium"], "customers"].sum())
        share20 = top_share(value, 0.2)
        n_neg = int((value < 0).sum())

        def draw_pyramid(ax):
            pos = np.arange(len(pyr))[::-1]
            ax.barh(pos, pyr["share"].to_numpy() * 100, color="tab:blue")
            ax.set_yticks(pos, [f"{lv}: {count(n)} customers" for lv, n in
                                zip(pyr.index, pyr["customers"], strict=True)])
            for p, s in zip(pos, pyr["share"], strict=True):
                ax.text(s * 100, p, f" {percent(s, 1)}", va="center")
            ax.set_xlim(0, max(100.0, 0.0))
            ax.set_xlabel("share of the positive current value (%)")
            ax.set_title("Customer pyramid: shares add up to 100%")

        def draw_lorenz(ax):
            plots.plot_lorenz(value, ax=ax)
            ax.set_xlabel("share of all customers, most valuable first")
            ax.set_ylabel("share of the positive current value")

        return (
            '<h2 id="pyramid">Customer pyramid and concentration</h2>'
            + table(shown, table_id="pyramid-table")
            + f'<p id="concentration">The top, big and medium levels (the most valuable 20% '
              f"of the customers still likely active: {count(n_top3)} customers) hold "
              f"{percent(top3, 1)} of the positive current value. Counting all customers, "
              f"the most valuable 20% hold {percent(share20, 1)}. Shares are of the value of "
              f"the customers worth more than 0; the {count(n_neg)} customers with a negative "
              f"expected value (they are likely to cost more than they bring) are shown "
              f"apart, with {esc(self.m(float(pyr['negative'].sum())))} in all.</p>"
            + '<div class="grid">' + png(draw_pyramid, alt="customer pyramid")
            + png(draw_lorenz, alt="concentration of value") + "</div>")

    def lists_section(self) -> str:
        parts = ['<h2 id="lists">Action lists</h2>',
                 f'<p class="note">Values are over the next {esc(self.horizon)} in '
                 f"{esc(self.cur)}. Parameter intervals: how sure the model is about the "
                 "expected value; predictive intervals: where the customer's actual value "
                 "will fall. Each list downloads as CSV with the same rows.</p>"]
        for item in self.lists:
            parts += [f'<h3 id="h-{item.key}">{esc(item.title)}</h3>', item.html()]
        top = self.lists[0].data.index[:15]
        if len(top):
            label = f"({self.cur}, next {self.horizon})"

            def draw(ax):
                plots.plot_customer_values(self.c, top, ax=ax)
                ax.set_ylabel(f"current value {label}")

            parts.append(png(draw, (8, 4), alt="top customers' values with both intervals"))
        return "".join(parts)


def build_report(*, summary: pd.DataFrame, transactions_model, spend_model, value,
                 transactions: pd.DataFrame | None = None, title: str = "Customer value",
                 top_n: int = 20, currency: str | None = None, valuer=None,
                 scenario=None, model_comparison: pd.DataFrame | None = None) -> str:
    """The report as an HTML string.

    Parameters
    ----------
    summary : pandas.DataFrame
        The RFM summary the customers were valued from (a calibration/holdout split is
        valued as of its calibration end, and its holdout period checks the model).
    transactions_model, spend_model : BetaGeo, GammaGamma
        The fitted models.
    value : ValueResult
        From :meth:`lifevalue.value.CustomerValue.evaluate`.
    transactions : pandas.DataFrame, optional
        The transaction log (``customer_id``, ``date``) for the tracking figure.
    title : str
    top_n : int
        Customers per action list.
    currency : str, optional
        Currency of the amounts: a symbol (``'$'``) is written before them, a code
        (``'USD'``) after. Default none: the page says amounts are in the data's
        currency units.
    valuer : CustomerValue, optional
        The valuer that produced ``value``; default one rebuilt from
        ``value.assumptions``. It gives the intervals of the retain, develop and phase
        out groups (each valued again as a whole) and the value of a new customer.
    scenario : Scenario, optional
        The potential scenario of ``value``; default the preset named in its
        assumptions.
    model_comparison : pandas.DataFrame, optional
        :func:`lifevalue.models.scorecard.compare_models` of transaction models on the
        same calibration/holdout split, shown among the model checks.

    Returns
    -------
    str
    """
    page = Page(summary, transactions_model, spend_model, value, currency, valuer, scenario,
                top_n, transactions, model_comparison)
    parts = [f"<h1>{esc(title)}</h1>", page.units_line(), page.first_screen(),
             page.overview(), page.assumptions(), page.checks(), page.base_section(),
             page.matrix_section(), page.pyramid_section(), page.lists_section()]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>")
