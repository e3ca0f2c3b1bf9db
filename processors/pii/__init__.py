"""Personal-data detection: typed spans over a normalised shadow of the text.

``processors.redact`` replaces what ``detect`` finds; ``streams.logging`` scrubs log lines
with the same detector. One module per concern: ``shadow`` (Unicode digits, invisible
characters, mapping back), ``numbers`` (phones, cards, bank details, national ids,
postcodes), ``contact`` (e-mails, secrets), ``cues`` (names, addresses, dates of birth,
passports), ``detect`` (running them and settling overlaps).
"""

from processors.pii.detect import DETECTOR_VERSION, KINDS, PLACEHOLDERS, detect
from processors.pii.spans import Span

__all__ = ["DETECTOR_VERSION", "KINDS", "PLACEHOLDERS", "Span", "detect"]
