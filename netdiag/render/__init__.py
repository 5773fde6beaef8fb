"""Data to text: tables, JSON, CSV, explanations; one ``Output`` decides terminal, colour and streams."""
