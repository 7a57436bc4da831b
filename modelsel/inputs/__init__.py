"""Stage 1, inputs: the requirements file, the eval set, and the YAML, text and user code they name."""
