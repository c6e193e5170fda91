"""Trend charts as SVG, drawn on the server with pygal: they need no JavaScript, load nothing
from elsewhere, print, and carry their title for screen readers. Each chart is shown next to a
table of the same numbers, so nothing is told by colour or shape alone.

pygal always embeds a small configuration <script> for its optional tooltips; it is removed
here, so the pages keep a script policy of 'self' only.
"""

from collections.abc import Callable
from datetime import date, timedelta
from xml.etree import ElementTree

import pygal
from markupsafe import Markup
from pygal.style import Style

from vigil.trends.models import TrendCell, Trends

# How a chart names a group and a day, in the viewer's language.
GroupLabel = Callable[[str], str]
DayLabel = Callable[[date], str]

# Okabe & Ito's palette: told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
# Severities in the colours of their badges (vigil/static/console.css, --sev1..--sev4), so a
# chart reads as the queue does: SEV1 is the same dark red everywhere.
SEVERITY_COLOURS = {"SEV1": "#8b0000", "SEV2": "#a33c00", "SEV3": "#6e5600", "SEV4": "#3b5b7e"}
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", sans-serif'

_STYLE = dict(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2328",
    foreground_strong="#1f2328",
    foreground_subtle="#57606a",
    opacity="0.95",
    opacity_hover="1",
    colors=PALETTE,
    font_family=FONT,
    title_font_family=FONT,
    legend_font_family=FONT,
    label_font_family=FONT,
    major_label_font_family=FONT,
    value_font_family=FONT,
    title_font_size=18,
    legend_font_size=14,
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=13,
)
STYLE = Style(**_STYLE)
# Bars that carry their value printed on them: light colours, so dark text reads on them too.
LABELLED_STYLE = Style(**{**_STYLE, "colors": ("#56B4E9", "#E69F00", "#CC79A7", "#F0E442")})

_SVG = "{http://www.w3.org/2000/svg}"
ElementTree.register_namespace("", _SVG[1:-1])


def _svg(chart: pygal.graph.graph.Graph) -> Markup:
    """The chart as inline SVG: scripts removed, labelled by its own title."""
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if child.tag in ("script", f"{_SVG}script"):
                parent.remove(child)
    title = next((e for e in tree.iter() if e.tag in ("title", f"{_SVG}title")), None)
    tree.set("role", "img")
    if title is not None:
        title.set("id", f"{tree.get('id')}-title")
        tree.set("aria-labelledby", title.get("id"))
    tree.set("focusable", "false")
    return Markup(ElementTree.tostring(tree, encoding="unicode"))


def _config(title: str, style: Style = STYLE, **options: object) -> dict[str, object]:
    return dict(
        title=title,
        style=style,
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        width=900,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        truncate_legend=-1,
        truncate_label=-1,
        margin=16,
        margin_bottom=24,
        no_data_text="—",
        print_zeroes=False,
        **options,
    )


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _colours(groups: list[str]) -> tuple[str, ...]:
    """Badge colours when the groups are severities; the palette otherwise."""
    if groups and all(g in SEVERITY_COLOURS for g in groups):
        return tuple(SEVERITY_COLOURS[g] for g in groups)
    return PALETTE


def opened_per_day(trends: Trends, title: str, group_label: GroupLabel, day_label: DayLabel) -> Markup:
    """Incidents opened each day, stacked by group (severity, category, region or channel)."""
    every = days(trends.start, trends.end)
    counts: dict[str, dict[date, int]] = {}
    for row in trends.rows:
        counts.setdefault(row.group, {})[row.day] = row.opened
    chart = pygal.StackedBar(
        **_config(
            title,
            Style(**{**_STYLE, "colors": _colours(sorted(counts))}),
            height=420,
            x_label_rotation=0,
            show_minor_x_labels=False,
            x_labels_major_every=max(1, len(every) // 8),
            y_labels_major_every=None,
            min_scale=2,
        )
    )
    chart.x_labels = [day_label(d) for d in every]
    for group, per_day in sorted(counts.items()):
        chart.add(group_label(group), [per_day.get(d) for d in every])
    return _svg(chart)


def breach_rates(trends: Trends, title: str, group_label: GroupLabel) -> Markup:
    """The share of each group's incidents that breached any clock, in percent."""
    groups = trends.groups[::-1]  # pygal draws the first bar at the bottom; read top-down instead
    chart = pygal.HorizontalBar(
        **_config(
            title,
            LABELLED_STYLE,
            height=120 + 40 * max(1, len(groups)),
            range=(0, 100),
            value_formatter=lambda v: f"{v:.0f} %",
            print_values=True,
            show_legend=False,
        )
    )
    chart.x_labels = [group_label(g.group) for g in groups]
    values = [round(g.breach_rate * 100, 1) for g in groups]
    if groups and all(g.group in SEVERITY_COLOURS for g in groups):  # each bar in its badge's colour
        chart.add(
            title, [{"value": v, "color": SEVERITY_COLOURS[g.group]} for v, g in zip(values, groups, strict=True)]
        )
    else:
        chart.add(title, values)
    return _svg(chart)


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else round(value / scale, 2)


def unit_for(seconds: float) -> tuple[float, str]:
    """The unit a duration reads best in: seconds, minutes, hours or days (never "0.0 min")."""
    for limit, scale, unit in ((120, 1, "s"), (2 * 3600, 60, "min"), (2 * 86400, 3600, "h")):
        if seconds < limit:
            return scale, unit
    return 86400, "d"


def _amount(value: float, unit: str) -> str:
    return f"{value:.0f} {unit}" if value >= 10 or float(value).is_integer() else f"{value:.1f} {unit}"


def times_to(trends: Trends, title: str, group_label: GroupLabel, series: tuple[str, str]) -> Markup:
    """Median time to acknowledge and to resolve, per group: in minutes while all are short, else hours."""
    groups = trends.groups[::-1]
    medians = [(g.median_seconds_to_acknowledge, g.median_seconds_to_resolve) for g in groups]
    longest = max((s for pair in medians for s in pair if s is not None), default=0)
    scale, unit = unit_for(longest)
    chart = pygal.HorizontalBar(
        **_config(
            title,
            LABELLED_STYLE,
            height=160 + 56 * max(1, len(groups)),
            value_formatter=lambda v: _amount(v, unit),
            print_values=True,
        )
    )
    chart.x_labels = [group_label(g.group) for g in groups]
    for index, name in enumerate(series):
        chart.add(name, [_scaled(pair[index], scale) for pair in medians])
    return _svg(chart)


def percentiles(
    rows: list[tuple[str, float | None, float | None, float | None]], title: str, names: tuple[str, str, str]
) -> Markup:
    """p50, p90 and p99 of a duration per group: (label, p50, p90, p99) rows, read top-down."""
    rows = rows[::-1]
    longest = max((v for row in rows for v in row[1:] if v is not None), default=0)
    scale, unit = unit_for(longest)
    chart = pygal.HorizontalBar(
        **_config(
            title,
            LABELLED_STYLE,
            height=160 + 64 * max(1, len(rows)),
            value_formatter=lambda v: _amount(v, unit),
            print_values=True,
        )
    )
    chart.x_labels = [row[0] for row in rows]
    for index, name in enumerate(names):
        chart.add(name, [_scaled(row[1:][index], scale) for row in rows])
    return _svg(chart)


def weekly(
    cells: list[TrendCell], title: str, group_label: GroupLabel, week_label: DayLabel, groups: list[str]
) -> Markup:
    """Incidents opened per period (week or day), stacked by group, in the groups' colours."""
    periods = sorted({c.period for c in cells if c.period is not None})  # series cells all have one
    chart = pygal.StackedBar(
        **_config(
            title,
            Style(**{**_STYLE, "colors": _colours(groups)}),
            height=380,
            x_label_rotation=0,
            show_minor_x_labels=False,
            x_labels_major_every=max(1, len(periods) // 10),
            min_scale=2,
        )
    )
    chart.x_labels = [week_label(p) for p in periods]
    counts = {(c.period, c.group): c.opened for c in cells}
    for group in groups:
        chart.add(group_label(group), [counts.get((p, group)) or None for p in periods])
    return _svg(chart)
