"""The bad-input corpus: ``load()`` for tests, ``python corpus.py`` rewrites manifest.jsonl.

Each line is one Kafka record value as a gateway (or an attacker) could send it:

    {"case": "...", "source": "sms"|"survey", "payload_b64": "...",
     "expand": [{"marker": "...", "unit": "...", "times": N}, ...]?,  # big payloads
     "expect": "enriched" | "deadletter:<reason>", "why": "..."}

``expand`` keeps the file small: the loader replaces each ``marker`` in the decoded
payload by ``unit * times``. Planted PII (see PLANTED) must never leave the
enrichment unredacted. Regenerate after editing a case: ``python tests/data/bad_inputs/corpus.py``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILL = "@@FILL@@"
FILL2 = "@@FILL2@@"

#: PII planted in valid messages; the security tests grep outputs for these exact strings.
PLANTED = {
    "phone": ["+447700900123", "07700 900456", "+1 (415) 555-0199"],
    "email": ["jane.doe+voc@example.com", "bob_smith@mail.example.co.uk"],
    "card": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
}


def sms(body: Any = "my bill is wrong", **over: Any) -> dict[str, Any]:
    rec = {"message_id": "SM-bad", "from": "+447700900999", "to": "+447700900000",
           "body": body, "received_at": "2026-11-25T18:00:00Z", "brand": "acme-mobile",
           "customer_id": "C-bad"}
    rec.update(over)
    return rec


def survey(**over: Any) -> dict[str, Any]:
    rec = {"response_id": "R-bad", "survey_id": "S1", "customer_id": "C-bad",
           "brand": "acme-mobile", "submitted_at": "2026-11-25T18:00:00Z", "kind": "nps",
           "score": 3, "comment": "the app keeps logging me out"}
    rec.update(over)
    return rec


def js(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def without(rec: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in keys}


def cases() -> list[dict[str, Any]]:
    """Every case: name, source, payload bytes, expected outcome, why."""
    out: list[dict[str, Any]] = []

    def add(case: str, source: str, payload: bytes, expect: str, why: str,
            expand: list[dict[str, Any]] | None = None) -> None:
        # one id per case, so a replay of the whole corpus gives one document per valid case
        payload = payload.replace(b'"SM-bad"', f'"SM-{case}"'.encode())
        payload = payload.replace(b'"R-bad"', f'"R-{case}"'.encode())
        out.append({"case": case, "source": source, "payload": payload, "expect": expect,
                    "why": why, "expand": expand})

    good = js(sms())
    # --- nothing at all
    add("empty_payload", "sms", b"", "deadletter:empty_message",
        "a record with an empty value (a tombstone or a broken gateway)")
    # --- not JSON at all
    add("invalid_json_truncated", "sms", good[: len(good) // 2], "deadletter:invalid_json",
        "cut in the middle of an object")
    add("invalid_json_plain_text", "sms", b"my bill is wrong, call me", "deadletter:invalid_json",
        "a gateway posting the body as text/plain")
    add("invalid_json_single_quotes", "sms", b"{'message_id': 'SM1'}", "deadletter:invalid_json",
        "python repr, not JSON")
    add("invalid_json_trailing_garbage", "sms", good + b"}}", "deadletter:invalid_json",
        "two closing braces too many")
    add("invalid_json_deep_nesting", "sms", (FILL + FILL2).encode(),
        "deadletter:invalid_json", "100k nested arrays: must not hit a RecursionError",
        expand=[{"marker": FILL, "unit": "[", "times": 100_000},
                {"marker": FILL2, "unit": "]", "times": 100_000}])
    add("invalid_json_raw_control_chars", "sms",
        b'{"message_id":"SM1","from":"+1","body":"a\x01\x07b","received_at":'
        b'"2026-11-25T18:00:00Z","brand":"b"}', "deadletter:invalid_json",
        "unescaped control characters inside a JSON string are not JSON")
    add("invalid_json_nan", "survey", js(survey()).replace(b'"score": 3', b'"score": NaN'),
        "deadletter:invalid_json", "NaN is not JSON (Python's json would accept it)")
    add("invalid_json_utf8_bom", "sms", b"\xef\xbb\xbf" + good, "deadletter:invalid_json",
        "a byte-order mark before the object")
    add("invalid_json_only_whitespace", "sms", b"  \n\t ", "deadletter:invalid_json",
        "whitespace instead of a record")
    # --- bytes that are not UTF-8
    add("invalid_utf8_in_body", "sms", js(sms("bill ABC")).replace(b"ABC", b"\xff\xfe\xc3("),
        "deadletter:invalid_json", "latin-1 / broken bytes inside the JSON text")
    add("invalid_utf8_overlong", "sms", js(sms("slash XY")).replace(b"XY", b"\xc0\xaf"),
        "deadletter:invalid_json", "an overlong UTF-8 encoding of '/'")
    add("utf16_encoded", "sms", json.dumps(sms()).encode("utf-16"), "deadletter:invalid_json",
        "a whole record in UTF-16")
    # --- JSON, but not a record
    add("json_array", "sms", js([sms()]), "deadletter:invalid_record", "a list, not an object")
    add("json_null", "sms", b"null", "deadletter:invalid_record", "JSON null")
    add("json_string", "sms", js("my bill is wrong"), "deadletter:invalid_record",
        "a bare JSON string")
    add("json_number", "survey", b"42", "deadletter:invalid_record", "a bare number")
    add("json_empty_object", "sms", b"{}", "deadletter:invalid_record", "no fields at all")
    # --- missing fields
    add("missing_body", "sms", js(without(sms(), "body")), "deadletter:invalid_record",
        "SMS without its body")
    add("missing_message_id", "sms", js(without(sms(), "message_id")),
        "deadletter:invalid_record", "no id: could not be deduplicated")
    add("missing_received_at", "sms", js(without(sms(), "received_at")),
        "deadletter:invalid_record", "no timestamp")
    add("missing_survey_score", "survey", js(without(survey(), "score")),
        "deadletter:invalid_record", "survey reply without its score")
    add("survey_on_sms_topic", "sms", js(survey()), "deadletter:invalid_record",
        "a survey reply produced to the SMS topic")
    # --- wrong types, numbers where strings belong
    add("number_body", "sms", js(sms(12345)), "deadletter:invalid_record", "body is a number")
    add("number_message_id", "sms", js(sms(message_id=42)), "deadletter:invalid_record",
        "message_id is a number")
    add("object_body", "sms", js(sms({"text": "hi"})), "deadletter:invalid_record",
        "body is an object")
    add("list_brand", "sms", js(sms(brand=["acme"])), "deadletter:invalid_record",
        "brand is a list")
    add("bad_timestamp", "sms", js(sms(received_at="yesterday-ish")),
        "deadletter:invalid_record", "not a date")
    add("impossible_date", "sms", js(sms(received_at="2026-13-45T25:61:00Z")),
        "deadletter:invalid_record", "month 13")
    add("score_out_of_range", "survey", js(survey(score=11)), "deadletter:invalid_record",
        "NPS is 0-10")
    add("score_negative_csat", "survey", js(survey(kind="csat", score=-1)),
        "deadletter:invalid_record", "CSAT is 1-5")
    add("score_fractional", "survey", js(survey(score=7.5)), "deadletter:invalid_record",
        "NPS is an integer")
    add("score_huge_integer", "survey",
        js(survey()).replace(b'"score": 3', b'"score": ' + b"9" * 5000),
        "deadletter:invalid_record", "5000-digit number (beyond Python's int parsing limit)")
    add("unknown_survey_kind", "survey", js(survey(kind="stars")), "deadletter:invalid_record",
        "not nps/csat/ces")
    add("empty_message_id", "sms", js(sms(message_id="   ")), "deadletter:invalid_record",
        "whitespace-only id")
    add("overlong_sender", "sms", js(sms(**{"from": "+4" + "7" * 500})),
        "deadletter:invalid_record", "a 500-digit sender")
    # --- schema version
    add("unknown_schema_version", "sms", js(sms(schema_version=99)),
        "deadletter:unsupported_schema_version", "a future producer")
    add("schema_version_string", "sms", js(sms(schema_version="two")),
        "deadletter:invalid_record", "schema_version is not a number")
    # --- empty text
    add("empty_body", "sms", js(sms("")), "deadletter:empty_text", "nothing to enrich")
    add("whitespace_body", "sms", js(sms(" \t\n\u00a0\u2003 ")), "deadletter:empty_text",
        "only (unicode) whitespace")
    add("zero_width_body", "sms", js(sms("\u200b\u200c\u200d\ufeff")),
        "deadletter:empty_text", "only zero-width characters")
    add("survey_empty_comment", "survey", js(survey(comment="")), "enriched",
        "a score without a comment still carries signal")
    add("survey_no_comment_field", "survey", js(without(survey(), "comment")), "enriched",
        "comment is optional")
    # --- size
    add("body_1mb_words", "sms", js(sms(FILL)), "enriched",
        "~1 MB body just under the 1,000,000-character limit: truncated for the model",
        expand=[{"marker": FILL, "unit": "refund please ", "times": 71_000}])
    add("body_over_limit", "sms", js(sms(FILL)), "deadletter:invalid_record",
        "1.2 MB body: over the record's limit",
        expand=[{"marker": FILL, "unit": "refund please ", "times": 90_000}])
    add("payload_over_2mb", "sms", js(sms(FILL)), "deadletter:too_large",
        "2.2 MB record: refused before parsing",
        expand=[{"marker": FILL, "unit": "refund please ", "times": 157_000}])
    add("long_token", "sms", js(sms(FILL)), "enriched", "one 200,000-character token",
        expand=[{"marker": FILL, "unit": "A", "times": 200_000}])
    add("long_url_token", "sms", js(sms("see https://x.example/" + FILL)), "enriched",
        "an 80 kB URL", expand=[{"marker": FILL, "unit": "a%2F", "times": 20_000}])
    # --- valid but strange text
    add("extra_fields", "sms", js(sms("my bill is wrong again", x_gateway={"retries": 3},
                                      foo=[1, 2], body_html="<b>x</b>")), "enriched",
        "gateways add fields of their own: ignored")
    add("escaped_control_chars", "sms",
        js(sms("bill\u0000 is\u0007 wrong\u001b[31m red \u001b[0m\u0008\u007f\u0085")),
        "enriched", "NUL, BEL, ANSI colour codes, DEL (valid JSON escapes)")
    add("lone_surrogate_escape", "sms",
        b'{"message_id":"SM-sur","from":"+447700900999","body":"bad \\ud83d char",'
        b'"received_at":"2026-11-25T18:00:00Z","brand":"acme-mobile"}',
        "deadletter:invalid_json", "a lone UTF-16 surrogate as a JSON escape: not encodable")
    add("emoji_only", "sms", js(sms("😡😡😡🤬💸")), "enriched", "emoji carry sentiment")
    add("emoji_zwj_flags", "sms", js(sms("👨‍👩‍👧‍👦🏳️‍🌈🇬🇧 " * 50)), "enriched",
        "ZWJ sequences and flags")
    add("rtl_arabic", "sms", js(sms("الفاتورة خاطئة مرة أخرى، أريد استرداد أموالي")),
        "enriched", "Arabic (right-to-left)")
    add("rtl_hebrew_override", "sms",
        js(sms("\u202eהחשבון שגוי\u202c bill \u2067wrong\u2069 \u200f")), "enriched",
        "Hebrew with bidi override/isolate controls")
    add("mixed_scripts", "sms", js(sms("Счёт неверный 账单错误 請求書が間違っています")),
        "enriched", "Cyrillic, Chinese and Japanese")
    add("combining_marks", "sms", js(sms("bi" + "\u0301\u0308" * 300 + "ll wrong")),
        "enriched", "zalgo text: hundreds of combining marks")
    add("html_script", "sms",
        js(sms("<script>alert('x')</script><img src=x onerror=alert(1)> my bill is wrong")),
        "enriched", "stored as text, never interpreted")
    add("sql_injection", "sms", js(sms("'; DROP TABLE feedback; -- bill wrong")), "enriched",
        "just text")
    add("search_query_syntax", "sms",
        js(sms('text:* OR _exists_:pii AND brand:"acme" ~2 ^10 [* TO *] /.*/ \\ { } ( ) && ||')),
        "enriched", "Lucene query syntax in a message")
    add("search_json_dsl", "sms",
        js(sms('{"query":{"match_all":{}},"script":{"source":"ctx._source.x=1"}}')),
        "enriched", "a query DSL object as the message text")
    add("template_and_format", "sms", js(sms("{{7*7}} ${jndi:ldap://x/a} %s%n%x {0}")),
        "enriched", "template/format-string/log4shell shapes")
    add("newlines_and_crlf", "sms", js(sms("line1\r\nINFO fake log line\r\n\r\nline3")),
        "enriched", "CRLF (log forging)")
    add("id_with_slashes", "sms", js(sms(message_id="../../_doc/1?refresh=true#x")),
        "enriched", "path characters in the id must not break the document URL")
    add("pii_everywhere", "sms",
        js(sms("Call me on " + PLANTED["phone"][0] + " or " + PLANTED["phone"][1]
               + ", mail " + PLANTED["email"][0] + ", card " + PLANTED["card"][0]
               + ". Charged twice, furious!")),
        "enriched", "planted PII: must be redacted before any output")
    add("pii_survey_comment", "survey",
        js(survey(score=0, comment="you charged card " + PLANTED["card"][1] + " and "
                  + PLANTED["card"][2] + "; ring " + PLANTED["phone"][2] + " or "
                  + PLANTED["email"][1])),
        "enriched", "planted PII in a survey comment")
    add("score_as_numeric_string", "survey", js(survey(score="7")), "enriched",
        "\"7\" is read as 7 (lenient, as JSON gateways often send strings)")
    add("stop_keyword", "sms", js(sms("STOP")), "enriched", "opt-out: enriched and flagged")
    return out


@dataclass(frozen=True)
class Case:
    """One corpus entry, payload expanded to its real bytes."""

    case: str
    source: str
    payload: bytes
    expect: str
    why: str

    @property
    def deadletter_reason(self) -> str | None:
        """The expected dead-letter reason, or None when the message must be enriched."""
        return self.expect.split(":", 1)[1] if self.expect.startswith("deadletter:") else None


def load(path: Path | None = None) -> list[Case]:
    """Read the checked-in manifest (not the generator), so the file is what is tested."""
    cases_: list[Case] = []
    for line in (path or HERE / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        payload = base64.b64decode(row["payload_b64"])
        for exp in row.get("expand", []):
            payload = payload.replace(exp["marker"].encode(), exp["unit"].encode() * exp["times"])
        cases_.append(Case(row["case"], row["source"], payload, row["expect"], row["why"]))
    return cases_


def main() -> None:
    path = HERE / "manifest.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for c in cases():
            row = {"case": c["case"], "source": c["source"],
                   "payload_b64": base64.b64encode(c["payload"]).decode("ascii"),
                   "expect": c["expect"], "why": c["why"]}
            if c["expand"]:
                row["expand"] = c["expand"]
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({len(cases())} cases)")


if __name__ == "__main__":
    main()
