"""Node.js: diagnostic reports."""
