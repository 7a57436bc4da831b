"""Stage 4, analysis: statistics, figures, the hard requirements, the decision and strategies."""
