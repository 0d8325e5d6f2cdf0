"""Campaign files: a YAML matrix of data rows and axes that stands for a manifest."""
