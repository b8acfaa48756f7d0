"""The account's user directory (DESIGN.md flow 5): a CSV upload is checked into a
preview, then applied, so that exposed phones map to people and email addresses.

csvfile reads and checks a file; services check, apply and discard imports;
selectors read the directory and previews.
"""
