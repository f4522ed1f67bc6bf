"""A server-side SVG bar chart of spend vs budget per team (no JavaScript, no external
assets): one bar per team, filled to its spend, with the budget as a marker."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import escape

from billing.selectors import TeamSpend

_ROW, _LABEL, _WIDTH = 28, 260, 420


def spend_chart_svg(rows: list[TeamSpend]) -> str:
    if not rows:
        return ""
    scale = max(max(r.spent_usd, r.budget_usd or Decimal(0)) for r in rows) or Decimal(1)
    height = _ROW * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_LABEL + _WIDTH + 140}" '
        f'height="{height}" aria-label="Spend against budget per team this month">'
    ]
    for i, row in enumerate(rows):
        y = i * _ROW + 5
        spent_w = float(row.spent_usd / scale) * _WIDTH
        over = row.budget_usd is not None and row.spent_usd > row.budget_usd
        near = row.budget_usd and row.spent_usd >= row.budget_usd * Decimal("0.8")
        colour = "#b42318" if over else "#b54708" if near else "#2f6fdd"
        label = escape(f"{row.organization} / {row.team}")
        budget = f"${row.budget_usd:.2f}" if row.budget_usd is not None else "no budget"
        parts.append(
            f'<text x="{_LABEL - 8}" y="{y + 16}" text-anchor="end" font-size="12">{label}</text>'
            f'<rect x="{_LABEL}" y="{y + 4}" width="{_WIDTH}" height="16" fill="#eceef1"/>'
            f'<rect x="{_LABEL}" y="{y + 4}" width="{spent_w:.1f}" height="16" fill="{colour}">'
            f"<title>{label}: ${row.spent_usd:.2f} of {budget}</title></rect>"
        )
        if row.budget_usd is not None:
            bx = _LABEL + float(row.budget_usd / scale) * _WIDTH
            parts.append(
                f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{y}" y2="{y + 24}" stroke="#101828" '
                'stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{_LABEL + _WIDTH + 6}" y="{y + 16}" font-size="12">'
            f"${row.spent_usd:.2f} / {escape(budget)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
