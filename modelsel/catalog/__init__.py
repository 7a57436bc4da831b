"""Stage 2, the shortlist: the catalog of models, their prices, compliance screening and proposals."""
