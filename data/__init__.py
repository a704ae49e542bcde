"""Published numbers shipped with costmodel (see README.md in this folder)."""
