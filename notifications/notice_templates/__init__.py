"""Notice templates: the account's own and the operator's defaults, their editor, preview and test send, and the rendering of a notice."""
