"""The Pulumi program (DESIGN §13): one ComponentResource per concern, wired in __main__.py."""
