"""The learning loop's numbers: facts the projection writes (facts), the aggregates over them
(figures), and the recommendations policy rules draw from them (recommend)."""
