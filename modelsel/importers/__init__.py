"""Ways in from other eval tools: a config written for another tool becomes a requirements file
and an eval set, with everything that could not be carried over listed, never dropped."""
