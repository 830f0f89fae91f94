"""What a notebook user sees: widgets and their plain-text fallback.

Everything here only *displays* state the session owns. No widget trait ever holds a token, a
refresh token or a device_code: saved widget state ends up inside the .ipynb.
"""
