"""Generate ``deploy/sample/replies.jsonl``: the demo's SMS and survey replies.

Why generated and not hand-typed: a few hundred varied, realistic replies are easiest to keep
consistent (ids, timestamps, survey scores that match the comment's mood, repeat senders) from
hand-written phrase templates; the seed makes the output byte-identical on every run, so the
file in git can be checked against this script (``--check``).

Everything is invented for the demo (not copied from any test or training data). Personal data
in it is fake by construction: UK drama numbers (+44 7700 900xxx), US 555-01xx numbers,
example.com addresses and the standard 4111 1111 1111 1111 test card.

    python scripts/make_sample.py            # rewrite deploy/sample/replies.jsonl
    python scripts/make_sample.py --check    # exit 1 if the checked-in file is stale
"""

# ruff: noqa: E501  (phrase templates read best one per line)
from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "deploy" / "sample" / "replies.jsonl"
SEED = 20261125
START = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)  # one week of replies
BRANDS = ["acme-mobile", "acme-broadband", "northwind-energy"]
SHORTCODE = {"acme-mobile": "+447700900000", "acme-broadband": "+447700900001",
             "northwind-energy": "+447700900002"}

SLOTS: dict[str, list[str]] = {
    "amount": ["£12.50", "£29.99", "£45", "£7.20", "£60", "£118.40", "£15"],
    "days": ["two", "three", "four", "five", "six", "ten"],
    "store": ["Leeds", "Bristol", "Camden", "Glasgow Buchanan St", "Cardiff", "Norwich"],
    "agent": ["Priya", "Tom", "Aisha", "Gareth", "Mei", "Jordan"],
    "order": ["A10293", "B55810", "C77120", "D30041", "E91872"],
    "feature": ["login", "top-up", "bill download", "usage tracker", "password reset"],
    "month": ["October", "November", "last month", "this month"],
    "area": ["Hackney", "the whole of Leith", "Didsbury", "our street", "Clifton"],
    "hours": ["two hours", "45 minutes", "over an hour", "three hours", "90 minutes"],
}

PRAISE = [
    "Thanks {agent}, sorted my problem in five minutes. Brilliant service!",
    "Really happy with the new plan, signal is great everywhere I go",
    "Delivery came a day early and the engineer was lovely. Thank you 😊",
    "Just wanted to say the staff at the {store} store were so helpful today",
    "Best customer service I've had in years, {agent} went above and beyond",
    "App update is great, the {feature} finally works properly 👍",
    "Switched to you last month and no regrets at all. Fast and reliable",
    "Thank you for the quick refund, much appreciated",
    "Engineer fixed the router first time, very polite and tidy",
    "Love the new bill layout, much easier to understand ❤️",
    "Got my order {order} today, perfect condition, cheers",
    "Great value compared to my old provider, happy customer",
]

NEUTRAL = [
    "What time does the {store} store open on Sundays?",
    "Can I change my payment date to the 15th?",
    "Received, thanks",
    "ok",
    "Is there a roaming add-on for Spain?",
    "Please call me back tomorrow after 5pm",
    "How do I download my {month} bill?",
    "Can you confirm my direct debit amount for {month}?",
    "Do you have the new phone in blue?",
    "Yes that's fine",
    "I moved house, where do I update my address?",
    "Will the engineer need access to the loft?",
]

COMPLAINTS: dict[str, list[str]] = {
    "billing": [
        "I've been charged twice for {month}, {amount} went out two times. Please refund",
        "Why is my bill {amount} higher than usual? Nobody told me about a price change",
        "You took {amount} from my account after I cancelled the add-on",
        "The refund you promised in {month} still hasn't arrived",
        "My direct debit bounced because you tried to take it on the wrong date",
    ],
    "delivery": [
        "Order {order} was supposed to arrive {days} days ago and it's still not here",
        "Courier left my parcel in the rain, box soaked and the phone case ruined",
        "Tracking says delivered but nothing came. Order {order}",
        "Missed delivery slot again, I took a day off work for this",
        "Wrong item delivered, I ordered the 128GB model",
    ],
    "outage": [
        "No internet in {area} since this morning, any update?",
        "Broadband keeps dropping every 20 minutes, I work from home",
        "Gas supply cut off in {area}, is there a fault?",
        "No mobile signal at all since yesterday, can't even call 999",
        "Power cut again in {area}, third time this week",
    ],
    "staff": [
        "The man at the {store} store was really rude and laughed at my question",
        "Your agent hung up on me halfway through explaining the problem",
        "Staff in {store} ignored me for 20 minutes then said they couldn't help",
        "The engineer didn't turn up and nobody called to say",
        "I was told three different things by three different people on the phone",
    ],
    "wait_time": [
        "Waited {hours} on hold and then got cut off",
        "Been in the queue for {hours}, this is ridiculous",
        "Your chat said 5 minutes wait, it's been {hours}",
        "Still waiting for a callback promised {days} days ago",
        "Took {hours} to get through to anyone",
    ],
    "digital": [
        "The app crashes every time I open the {feature} page",
        "Can't log in to the app since the update, keeps saying error 503",
        "Website won't let me pay my bill, the card page just spins",
        "{feature} in the app has been broken for a week",
        "Your app logged me out and now the password reset email never arrives",
    ],
    "pricing": [
        "Another price rise? That's the second this year",
        "Why do new customers get a better deal than me after 6 years?",
        "{amount} a month for this speed is a rip off",
        "Your prices are way higher than everyone else now",
    ],
    "product": [
        "The router you sent keeps overheating",
        "New handset battery dies by lunchtime",
        "Smart meter display has been blank since it was fitted",
        "The SIM you sent doesn't work in my phone",
    ],
    "cancellation": [
        "How do I cancel my contract? I'm moving abroad",
        "I want to leave, please send my PAC code",
        "Please cancel my broadband from the end of {month}",
    ],
}

RANTS = [
    "THIRD time I've been charged twice. {amount} taken AGAIN. Sort it out or I'm going to the ombudsman",
    "Absolutely disgusting service. No internet for {days} days and all I get is excuses. I'm cancelling today",
    "I have called you FIVE times about order {order}. If it isn't here tomorrow I'm going to my solicitor",
    "Your engineer no-showed AGAIN. I've wasted {days} days of annual leave on you. Done. Switching provider",
    "You cut off my gas with a baby in the house in November. This is dangerous and I'm reporting you to Ofgem",
    "Been on hold {hours} just to be hung up on. Worst company I've ever dealt with, I want to cancel NOW",
    "Stop taking money I don't owe you!!! {amount} gone and my rent bounced because of you",
    "I'm disabled and housebound and nobody will fix my phone line. I can't call for help. This is a disgrace",
    "Nobody at {store} could be bothered to help. Rude, useless, and I'm telling everyone on twitter",
    "Overcharged for {month} and {month}. I want a full refund and compensation or I'll take you to small claims court",
    "Absolute joke. The app has been broken for weeks and I can't pay my bill, now you're charging me late fees???",
    "I'm 82 and your agent shouted at me. My son will be making a formal complaint",
]

PII = [
    "Please call me on +44 7700 900{n3} about the refund, I'm not on email",
    "My new number is 07700 900{n3}, update my account please",
    "Email me the bill at {name}@example.com instead of texting",
    "Reach me at (202) 555-01{n2} after 6pm, I'm in the US this week",
    "I paid with card 4111 1111 1111 1111 and it still says unpaid",
    "Card 4111-1111-1111-1111 was charged {amount} twice, call me on 07700 900{n3}",
    "Send the engineer to flat 3, postcode SW1A 1AA, my email is {name}.{name2}@example.com",
    "Contact my daughter on +44 7700 900{n3} or {name}@example.org, she handles my account",
]

FOREIGN = [
    ("es", "Llevo tres días sin internet y nadie me da una solución. Muy mal servicio"),
    ("es", "Muchas gracias, el técnico fue muy amable"),
    ("fr", "On m'a facturé deux fois ce mois-ci, je veux un remboursement"),
    ("fr", "Merci beaucoup pour votre aide rapide !"),
    ("de", "Seit Tagen kein Netz, und die Hotline ist nie erreichbar. Ich kündige!"),
    ("de", "Alles bestens, danke für die schnelle Lieferung"),
    ("pl", "Nie mam internetu od wczoraj, kiedy to naprawicie?"),
    ("it", "Il pacco non è mai arrivato, è una vergogna"),
    ("pt", "Atendimento excelente, obrigado!"),
    ("cy", "Diolch yn fawr am eich help heddiw"),
]

OPT_OUT = ["STOP", "stop", "UNSUBSCRIBE", "Stop texting me", "STOP ALL", "unsubscribe please",
           "Please remove me from your messages"]

SURVEY_COMMENT = {
    "promoter": PRAISE + ["Fast, friendly and fair", "Would recommend to friends", ""],
    "passive": NEUTRAL[:4] + ["Fine, nothing special", "Good but a bit pricey",
                              "Service ok, app could be better", ""],
}


class Gen:
    """Deterministic record factory (one Random, one clock)."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.n_sms = 0
        self.n_survey = 0
        self.senders: list[tuple[str, str | None, str]] = []

    def fill(self, template: str) -> str:
        out = template
        for slot, values in SLOTS.items():
            while "{" + slot + "}" in out:
                out = out.replace("{" + slot + "}", self.rng.choice(values), 1)
        names = ["sam", "alex", "jo", "chris", "pat", "morgan", "riley"]
        out = out.replace("{name2}", self.rng.choice(names)).replace("{name}", self.rng.choice(names))
        out = out.replace("{n3}", f"{self.rng.randint(100, 999)}")
        return out.replace("{n2}", f"{self.rng.randint(0, 99):02d}")

    def when(self) -> str:
        at = START + timedelta(seconds=self.rng.randint(0, 7 * 24 * 3600 - 1))
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")

    def sender(self, repeat: float = 0.25) -> tuple[str, str | None, str]:
        """(phone, customer_id, brand); some senders write several times (repeat contacts)."""
        if self.senders and self.rng.random() < repeat:
            return self.rng.choice(self.senders)
        if self.rng.random() < 0.85:
            phone = f"+447700900{self.rng.randint(100, 999)}"
        else:
            phone = f"+1202555{self.rng.randint(100, 199):04d}"
        cid = f"C{self.rng.randint(10000, 99999)}" if self.rng.random() < 0.7 else None
        s = (phone, cid, self.rng.choice(BRANDS))
        self.senders.append(s)
        return s

    def sms(self, body: str, repeat: float = 0.25) -> dict[str, object]:
        self.n_sms += 1
        phone, cid, brand = self.sender(repeat)
        rec: dict[str, object] = {
            "message_id": f"SM{self.rng.getrandbits(64):016x}{self.n_sms:04d}",
            "from": phone, "to": SHORTCODE[brand], "body": body,
            "received_at": self.when(), "brand": brand,
        }
        if cid:
            rec["customer_id"] = cid
        return rec

    def survey(self, mood: str, comment: str) -> dict[str, object]:
        self.n_survey += 1
        kind = self.rng.choices(["nps", "csat", "ces"], weights=[5, 3, 2])[0]
        score = {
            "nps": {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)},
            "csat": {"promoter": (5, 5), "passive": (3, 4), "detractor": (1, 2)},
            "ces": {"promoter": (6, 7), "passive": (4, 5), "detractor": (1, 3)},
        }[kind][mood]
        _, cid, brand = self.sender(repeat=0.15)
        return {
            "response_id": f"R-{self.n_survey:05d}-{self.rng.getrandbits(24):06x}",
            "survey_id": f"S-{brand}-{kind}-2026q4", "customer_id": cid or f"C{self.n_survey:05d}",
            "brand": brand, "submitted_at": self.when(), "kind": kind,
            "score": self.rng.randint(*score), "comment": comment,
        }


BAD_LINES = [
    '{"message_id": "SM-bad-truncated", "from": "+447700900555", "body": "my bill is wr',
    "not json at all, just a pasted sentence",
    '{"message_id": "SM-bad-nobody", "from": "+447700900556", "to": "+447700900000", '
    '"received_at": "2026-11-20T10:00:00Z", "brand": "acme-mobile"}',
    '{"response_id": "R-bad-range", "survey_id": "S-acme-mobile-nps-2026q4", "customer_id": '
    '"C40001", "brand": "acme-mobile", "submitted_at": "2026-11-21T09:00:00Z", "kind": "nps", '
    '"score": 11, "comment": "eleven out of ten"}',
    '{"response_id": "R-bad-type", "survey_id": "S-acme-mobile-csat-2026q4", "customer_id": '
    '"C40002", "brand": "acme-mobile", "submitted_at": "2026-11-21T09:05:00Z", "kind": "csat", '
    '"score": "five", "comment": "great"}',
    '{"response_id": "R-bad-kind", "survey_id": "S-x", "customer_id": "C40003", "brand": '
    '"acme-broadband", "submitted_at": "2026-11-22T12:00:00Z", "kind": "stars", "score": 4}',
    '{"message_id": "SM-bad-date", "from": "+447700900557", "to": "+447700900001", "body": '
    '"router is dead", "received_at": "yesterday afternoon", "brand": "acme-broadband"}',
    '{"schema_version": 2, "message_id": "SM-bad-version", "from": "+447700900558", "to": '
    '"+447700900000", "body": "hello", "received_at": "2026-11-23T08:00:00Z", "brand": '
    '"acme-mobile"}',
    "[]",
    "{}",
    '{"response_id": "R-bad-nocustomer", "survey_id": "S-northwind-energy-ces-2026q4", '
    '"brand": "northwind-energy", "submitted_at": "2026-11-24T16:00:00Z", "kind": "ces", '
    '"score": 2, "comment": "took forever"}',
    '{"message_id": "", "from": "+447700900559", "to": "+447700900002", "body": "empty id", '
    '"received_at": "2026-11-24T17:00:00Z", "brand": "northwind-energy"}',
]


def generate(seed: int = SEED) -> list[str]:
    """All lines of the sample file, in their final (shuffled) order."""
    g = Gen(seed)
    recs: list[dict[str, object]] = []
    for _ in range(2):
        recs += [g.sms(g.fill(t)) for t in PRAISE]
        recs += [g.sms(g.fill(t)) for t in NEUTRAL]
    for templates in COMPLAINTS.values():
        for _ in range(2):
            recs += [g.sms(g.fill(t), repeat=0.35) for t in templates]
    for _ in range(2):
        recs += [g.sms(g.fill(t), repeat=0.4) for t in RANTS]
    recs += [g.sms(g.fill(t)) for t in PII for _ in range(2)]
    recs += [g.sms(text) for _, text in FOREIGN]
    recs += [g.sms(t, repeat=0.6) for t in OPT_OUT]
    recs += [g.sms(e) for e in ("👍", "😡😡😡", "🙏 thanks", "!!!", "?")]
    # surveys: promoters, passives and detractors whose comments match the score
    for _ in range(45):
        recs.append(g.survey("promoter", g.fill(g.rng.choice(SURVEY_COMMENT["promoter"]))))
    for _ in range(30):
        recs.append(g.survey("passive", g.fill(g.rng.choice(SURVEY_COMMENT["passive"]))))
    complaint_pool = [t for ts in COMPLAINTS.values() for t in ts] + RANTS
    for _ in range(45):
        recs.append(g.survey("detractor", g.fill(g.rng.choice(complaint_pool))))
    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
    g.rng.shuffle(lines)
    # bad lines at fixed, spread-out positions so a demo replay meets them along the way
    step = len(lines) // (len(BAD_LINES) + 1)
    for i, bad in enumerate(BAD_LINES):
        lines.insert((i + 1) * step + i, bad)
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="exit 1 if --out is not up to date")
    args = ap.parse_args()
    text = "\n".join(generate()) + "\n"
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run python scripts/make_sample.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} lines to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
