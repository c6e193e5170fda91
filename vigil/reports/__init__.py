"""Documents people take away: the weekly leadership report and post-incident reviews, as HTML,
Markdown and PDF (vigil.reports.pdf)."""
