"""Personal-data detection: typed spans over a normalised shadow of the text.

``processors.redact`` replaces what ``detect`` finds; ``streams.logging`` scrubs log lines
with the same detector. One module per concern: ``shadow`` (Unicode digits, invisible
characters, mapping back), ``numbers`` (phones, cards, bank details, national ids),
``contact`` (e-mails, secrets), ``cues`` (names, addresses, dates of birth, passports).
"""

from processors.pii.detect import DETECTOR_VERSION, KINDS, PLACEHOLDERS, Span, detect

__all__ = ["DETECTOR_VERSION", "KINDS", "PLACEHOLDERS", "Span", "detect"]
