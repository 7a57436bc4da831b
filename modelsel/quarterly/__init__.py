"""Stage 6, quarter after quarter: review against a decision, the history, MLflow export, re-rendering."""
