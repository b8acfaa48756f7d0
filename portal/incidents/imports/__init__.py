"""The import engine: provider dumps (CSV, JSON Lines, Duo telephony JSON) into the big
table and its exposures. `services` is the entry point; the rest is split by subject:
`parsers` (formats to rows, and row checks), `phones` (cached normalization),
`regions` (ISO 3166-2 codes), `loader` (staging table, publish) and `errors` (refusals
and the error report)."""
