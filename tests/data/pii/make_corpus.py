# ruff: noqa: E501 - corpus templates read best one per line
"""Write the labelled PII corpus (dev.jsonl, heldout.jsonl) once, from a fixed seed.

Run only to rebuild the corpus from scratch (README.md: the labelling rules). The split is
made here, once, by SPLIT_SEED; nothing that tunes the detector may read heldout.jsonl
(tests/unit/test_pii_corpus.py guards it).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

SEED = 20261207
SPLIT_SEED = 18
HELDOUT_SHARE = 0.30
HERE = Path(__file__).resolve().parent
LANGS = ("en", "es", "fr", "de", "it", "pt", "nl", "pl")

FIRST = {
    "en": ["John", "Sarah", "Michael", "Emma", "David", "Olivia", "James", "Chloe"],
    "es": ["Carlos", "María", "Javier", "Lucía", "Alejandro", "Carmen", "Pablo", "Elena"],
    "fr": ["Jean", "Camille", "Pierre", "Léa", "Nicolas", "Manon", "Julien", "Chloé"],
    "de": ["Lukas", "Anna", "Jürgen", "Sophie", "Maximilian", "Lena", "Felix", "Katrin"],
    "it": ["Marco", "Giulia", "Luca", "Francesca", "Alessandro", "Chiara", "Matteo", "Sara"],
    "pt": ["João", "Ana", "Pedro", "Beatriz", "Tiago", "Inês", "Rui", "Mariana"],
    "nl": ["Jan", "Sanne", "Daan", "Emma", "Pieter", "Lotte", "Bram", "Femke"],
    "pl": ["Piotr", "Anna", "Krzysztof", "Katarzyna", "Tomasz", "Magdalena", "Paweł", "Agnieszka"],
}
LAST = {
    "en": ["Smith", "O'Brien", "Taylor", "Johnson", "Walker", "Hughes", "Patel", "Wright"],
    "es": ["García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz"],
    "fr": ["Dupont", "Martin", "Bernard", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Wagner"],
    "it": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
    "pt": ["Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Sousa"],
    "nl": ["de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer"],
    "pl": ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamińska", "Lewandowski", "Zielińska"],
}
NAME_CUES = {
    "en": ["My name is {v} and my bill is wrong", "Hi, this is {v}, account holder. Still no refund",
           "Still waiting for the engineer. Regards, {v}", "The account holder is {v}, please call back",
           "I'm {v} and I was charged twice", "Signed {v}"],
    "es": ["Me llamo {v} y me han cobrado dos veces", "Hola, soy {v}, titular de la cuenta",
           "Sigo sin internet. Atentamente, {v}", "Mi nombre es {v} y nadie me responde"],
    "fr": ["Je m'appelle {v} et ma facture est fausse", "Bonjour, c'est {v}, titulaire du compte",
           "Toujours pas de remboursement. Cordialement, {v}", "Mon nom est {v}, merci de rappeler"],
    "de": ["Mein Name ist {v} und die Rechnung ist falsch", "Hallo, hier ist {v}, Kontoinhaber",
           "Immer noch kein Internet. Mit freundlichen Grüßen {v}", "Ich heiße {v} und warte seit Tagen"],
    "it": ["Mi chiamo {v} e la bolletta è sbagliata", "Buongiorno, sono {v}, titolare del conto",
           "Ancora nessun rimborso. Cordiali saluti, {v}", "Il mio nome è {v}, richiamatemi"],
    "pt": ["O meu nome é {v} e a fatura está errada", "Olá, sou {v}, titular da conta",
           "Continuo sem internet. Atenciosamente, {v}", "Chamo-me {v} e ninguém me responde"],
    "nl": ["Mijn naam is {v} en de rekening klopt niet", "Hallo, ik ben {v}, rekeninghouder",
           "Nog steeds geen internet. Met vriendelijke groet, {v}", "Ik heet {v} en wacht al dagen"],
    "pl": ["Nazywam się {v} i rachunek jest błędny", "Dzień dobry, jestem {v}, właściciel konta",
           "Nadal brak internetu. Z poważaniem, {v}", "Mam na imię {v} i czekam od tygodnia"],
}


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        digits = body + check
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError


def make_iban(r: random.Random, country: str, length: int) -> str:
    bban = "".join(r.choice("0123456789") for _ in range(length - 4))
    if country == "GB":
        bban = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + bban[4:]
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - num % 97:02d}{bban}"


def digits(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def obfuscate_digits(r: random.Random, v: str) -> str:
    """Unicode digits or invisible characters, as an attacker (or a phone keyboard) writes."""
    pick = r.random()
    if pick < 0.12:
        return v.translate(FULLWIDTH)
    if pick < 0.22:
        return v.translate(ARABIC)
    if pick < 0.32:
        return "\u200b".join(v[i : i + 2] for i in range(0, len(v), 2))
    if pick < 0.38:
        return "\u00ad".join(v[i : i + 3] for i in range(0, len(v), 3))
    return v


PHONE_FORMATS: dict[str, list[Callable[[random.Random], str]]] = {
    "en": [lambda r: f"07700 {digits(r, 6)}", lambda r: f"+44 7700 {digits(r, 3)} {digits(r, 3)}",
           lambda r: f"(415) 555-{digits(r, 4)}", lambda r: f"415/555/{digits(r, 4)}",
           lambda r: f"020_7946_{digits(r, 4)}", lambda r: f"07700\u2013{digits(r, 6)}",
           lambda r: f"+1 212 555 {digits(r, 4)}"],
    "es": [lambda r: f"612 {digits(r, 3)} {digits(r, 3)}", lambda r: f"+34 612 {digits(r, 2)} {digits(r, 2)} {digits(r, 2)}",
           lambda r: f"91 {digits(r, 3)} {digits(r, 2)} {digits(r, 2)}", lambda r: f"0034-699-{digits(r, 3)}-{digits(r, 3)}"],
    "fr": [lambda r: f"06 {digits(r, 2)} {digits(r, 2)} {digits(r, 2)} {digits(r, 2)}",
           lambda r: f"06.{digits(r, 2)}.{digits(r, 2)}.{digits(r, 2)}.{digits(r, 2)}",
           lambda r: f"+33 6 {digits(r, 2)} {digits(r, 2)} {digits(r, 2)} {digits(r, 2)}",
           lambda r: f"01-{digits(r, 2)}-{digits(r, 2)}-{digits(r, 2)}-{digits(r, 2)}",
           lambda r: f"0 6 {' '.join(digits(r, 8))}"],
    "de": [lambda r: f"0151 {digits(r, 8)}", lambda r: f"+49 30 {digits(r, 7)}",
           lambda r: f"030/{digits(r, 7)}", lambda r: f"0171-{digits(r, 3)} {digits(r, 4)}"],
    "it": [lambda r: f"347 {digits(r, 3)} {digits(r, 4)}", lambda r: f"+39 02 {digits(r, 4)} {digits(r, 4)}",
           lambda r: f"06/{digits(r, 8)}", lambda r: f"333.{digits(r, 3)}.{digits(r, 4)}"],
    "pt": [lambda r: f"912 {digits(r, 3)} {digits(r, 3)}", lambda r: f"+351 21 {digits(r, 3)} {digits(r, 4)}",
           lambda r: f"96-{digits(r, 3)}-{digits(r, 2)}-{digits(r, 2)}"],
    "nl": [lambda r: f"06-{digits(r, 8)}", lambda r: f"+31 6 {digits(r, 4)} {digits(r, 4)}",
           lambda r: f"020 {digits(r, 3)} {digits(r, 4)}", lambda r: f"06 {digits(r, 2)} {digits(r, 2)} {digits(r, 2)} {digits(r, 2)}"],
    "pl": [lambda r: f"601 {digits(r, 3)} {digits(r, 3)}", lambda r: f"+48 22 {digits(r, 3)} {digits(r, 2)} {digits(r, 2)}",
           lambda r: f"512-{digits(r, 3)}-{digits(r, 3)}"],
}
PHONE_CUES = {
    "en": ["Call me on {v} please", "my mobile is {v}, nobody rang", "You can reach me at {v} after 6",
           "{v} is my number, ring back"],
    "es": ["Llamadme al {v} por favor", "Mi móvil es {v} y nadie llama", "Contacto: {v}"],
    "fr": ["Rappelez-moi au {v} svp", "mon portable : {v}, personne n'appelle", "Tél {v}"],
    "de": ["Rufen Sie mich unter {v} an", "Meine Handynummer ist {v}", "Tel. {v}"],
    "it": ["Chiamatemi al {v} grazie", "il mio cellulare è {v}", "Tel: {v}"],
    "pt": ["Liguem para o {v} por favor", "o meu telemóvel é {v}", "Contacto {v}"],
    "nl": ["Bel me op {v} alstublieft", "mijn mobiel is {v}", "Tel {v}"],
    "pl": ["Proszę dzwonić pod {v}", "mój numer to {v}", "Tel. {v}"],
}

EMAIL_USERS = ["john.smith", "maria_garcia", "j.dupont", "lukas.mueller", "giulia88", "joao.silva", "sanne.jansen", "piotr.nowak"]
EMAIL_DOMAINS = ["gmail.com", "hotmail.es", "orange.fr", "web.de", "libero.it", "sapo.pt", "ziggo.nl", "wp.pl", "outlook.com"]


def email_value(r: random.Random, lang: str) -> str:
    user, domain = r.choice(EMAIL_USERS), r.choice(EMAIL_DOMAINS)
    dom_words = domain.replace(".", " dot ")
    style = r.randrange(9)
    at_word = {"es": "arroba", "fr": "arobase", "it": "chiocciola", "pl": "małpa", "nl": "apenstaartje"}.get(lang, "at")
    if style == 0:
        return f"{user}@{domain}"
    if style == 1:
        return f"{user.replace('.', ' dot ')} at {dom_words}"
    if style == 2:
        return f"{user}(at){domain}"
    if style == 3:
        return f"{user} [at] {domain.replace('.', ' [dot] ')}"
    if style == 4:
        return f"{user} @ {domain}"
    if style == 5:
        return f"{user}%40{domain}"
    if style == 6:
        return f"{user} {at_word} {dom_words}" if at_word != "at" else f"{user}{{at}}{domain}"
    if style == 7:
        return f"{user}\uff20{domain}"
    return f"{user.upper()}@{domain.upper()}"


EMAIL_CUES = {
    "en": ["email me at {v} asap", "my email is {v}", "Contact {v} about the refund"],
    "es": ["Mi correo es {v}", "escribidme a {v} por favor"],
    "fr": ["Mon mail : {v}", "écrivez-moi à {v} svp"],
    "de": ["Meine E-Mail ist {v}", "schreiben Sie an {v}"],
    "it": ["La mia email è {v}", "scrivetemi a {v}"],
    "pt": ["O meu email é {v}", "escrevam para {v}"],
    "nl": ["Mijn e-mail is {v}", "mail naar {v} aub"],
    "pl": ["Mój e-mail to {v}", "proszę pisać na {v}"],
}


def card_value(r: random.Random) -> str:
    d = luhn_complete(r.choice("45") + digits(r, 14))
    sep = r.choice([" ", "-", ".", "/", "_", "", " "])
    return sep.join(d[i : i + 4] for i in range(0, 16, 4))


CARD_CUES = {
    "en": "I paid with card {v} and got charged twice", "es": "Pagué con la tarjeta {v} y me cobraron dos veces",
    "fr": "J'ai payé avec la carte {v}, débitée deux fois", "de": "Ich habe mit der Karte {v} bezahlt, doppelt abgebucht",
    "it": "Ho pagato con la carta {v}, addebito doppio", "pt": "Paguei com o cartão {v} e cobraram duas vezes",
    "nl": "Betaald met kaart {v}, twee keer afgeschreven", "pl": "Płaciłem kartą {v} i pobrano dwa razy",
}
IBAN_COUNTRY = {"en": ("GB", 22), "es": ("ES", 24), "fr": ("FR", 27), "de": ("DE", 22),
                "it": ("IT", 27), "pt": ("PT", 25), "nl": ("NL", 18), "pl": ("PL", 28)}
IBAN_CUES = {
    "en": "Refund to IBAN {v} please", "es": "Devolución al IBAN {v}", "fr": "Remboursez sur l'IBAN {v}",
    "de": "Bitte auf IBAN {v} erstatten", "it": "Rimborso sull'IBAN {v}", "pt": "Reembolso para o IBAN {v}",
    "nl": "Terugstorten op IBAN {v} graag", "pl": "Zwrot na IBAN {v} proszę",
}
ACCOUNT_CUES = {
    "en": "my account number is {v}", "es": "mi número de cuenta es {v}", "fr": "mon numéro de compte est {v}",
    "de": "meine Kontonummer ist {v}", "it": "il mio numero di conto è {v}", "pt": "o número da conta é {v}",
    "nl": "mijn rekeningnummer is {v}", "pl": "numer konta to {v}",
}
DOB_CUES = {
    "en": ["my date of birth is {v}", "DOB: {v}", "I was born on {v}"],
    "es": ["mi fecha de nacimiento es {v}", "nací el {v}"],
    "fr": ["ma date de naissance est le {v}", "né le {v}"],
    "de": ["mein Geburtsdatum ist {v}", "geboren am {v}"],
    "it": ["la mia data di nascita è {v}", "nato il {v}"],
    "pt": ["a minha data de nascimento é {v}", "nascido em {v}"],
    "nl": ["mijn geboortedatum is {v}", "geboren op {v}"],
    "pl": ["data urodzenia: {v}", "urodziłem się {v}"],
}
MONTH = {"en": "March", "es": "marzo", "fr": "mars", "de": "März", "it": "marzo", "pt": "março", "nl": "maart", "pl": "marca"}


def dob_value(r: random.Random, lang: str) -> str:
    d, m, y = r.randint(1, 28), r.randint(1, 12), r.randint(1940, 2004)
    style = r.randrange(4)
    if style == 0:
        return f"{d:02d}/{m:02d}/{y}"
    if style == 1:
        return f"{d}.{m}.{y}"
    if style == 2:
        return f"{y}-{m:02d}-{d:02d}"
    if lang == "en":
        return r.choice([f"{d} March {y}", f"March {d}, {y}"])
    if lang in ("es", "pt"):
        return f"{d} de {MONTH[lang]} de {y}"
    if lang == "de":
        return f"{d}. März {y}"
    return f"{d} {MONTH[lang]} {y}"


PASSPORT_CUES = {
    "en": "passport number {v}", "es": "número de pasaporte {v}", "fr": "numéro de passeport {v}",
    "de": "Reisepassnummer {v}", "it": "numero di passaporto {v}", "pt": "passaporte n.º {v}",
    "nl": "paspoortnummer {v}", "pl": "numer paszportu {v}",
}
PASSPORT_PREFIX = {"en": ["my ", "the "], "es": ["mi ", "el "], "fr": ["mon ", "le "], "de": ["meine ", "die "],
                   "it": ["il mio ", "il "], "pt": ["o meu ", "o "], "nl": ["mijn ", "het "], "pl": ["mój ", ""]}
ADDRESSES = {
    "en": ["{n} Baker Street", "{n} High Road", "Flat 4, {n} Station Road", "{n} Elm Avenue", "{n} Kings Drive"],
    "es": ["Calle Mayor {n}", "Avenida de la Constitución {n}", "C/ Alcalá {n}", "Plaza España {n}"],
    "fr": ["{n} rue de la Paix", "{n} avenue Victor Hugo", "{n} boulevard Haussmann", "{n} bis rue Lepic"],
    "de": ["Hauptstraße {n}", "Bahnhofstr. {n}", "Berliner Allee {n}", "Lindenweg {n}"],
    "it": ["Via Roma {n}", "Viale Monza {n}", "Piazza Garibaldi {n}", "Corso Buenos Aires {n}"],
    "pt": ["Rua Augusta {n}", "Avenida da Liberdade {n}", "Travessa do Carmo {n}"],
    "nl": ["Kerkstraat {n}", "Dorpsweg {n}", "Prinsengracht {n}", "Stationsplein {n}"],
    "pl": ["ul. Marszałkowska {n}", "ulica Długa {n}", "al. Jerozolimskie {n}"],
}
ADDRESS_CUES = {
    "en": "the parcel never arrived at {v}, London", "es": "el paquete no llegó a {v}, Madrid",
    "fr": "le colis n'est jamais arrivé au {v}, Paris", "de": "das Paket kam nie in der {v} an",
    "it": "il pacco non è mai arrivato in {v}, Milano", "pt": "a encomenda nunca chegou à {v}, Lisboa",
    "nl": "het pakket is nooit aangekomen op {v}", "pl": "paczka nie dotarła na {v} w Warszawie",
}
SECRET_CUES = {
    "en": ["my password is {v} can you reset it", "login link https://acme.example/reset?token={v}&lang=en",
           "api key: {v}"],
    "es": ["mi contraseña es {v}", "enlace https://acme.example/login?password={v}"],
    "fr": ["mon mot de passe est {v}", "lien https://acme.example/a?key={v}"],
    "de": ["mein Passwort ist {v}", "Link https://acme.example/x?sig={v}"],
    "it": ["la mia password è {v}", "link https://acme.example/p?access_token={v}"],
    "pt": ["a minha senha é {v}", "link https://acme.example/r?token={v}"],
    "nl": ["mijn wachtwoord is {v}", "link https://acme.example/q?api_key={v}"],
    "pl": ["moje hasło to {v}", "link https://acme.example/z?token={v}"],
}
NEGATIVES: dict[str, list[tuple[str, str]]] = {
    "en": [("price", "It cost £1,299.99 and then {v} more"), ("time", "the engineer came at {v} not 9"),
           ("order", "order number {v} still missing"), ("duration", "on hold for {v}"),
           ("model", "my router model {v} keeps dropping"), ("tracking", "tracking number {v} shows nothing"),
           ("date", "delivery was due on {v}"), ("version", "app version {v} crashes"),
           ("quantity", "I ordered {v} and got one")],
}
NEG_VALUES: dict[str, Callable[[random.Random], str]] = {
    "price": lambda r: r.choice([f"£{r.randint(10, 999)}.{r.randint(10, 99)}", f"{r.randint(10, 999)},{r.randint(10, 99)} €",
                                 f"${r.randint(1, 9)},{r.randint(100, 999)}.00", f"{r.randint(1000, 99999)} zł"]),
    "time": lambda r: r.choice([f"{r.randint(10, 23)}:{r.randint(10, 59)}", f"{r.randint(1, 12)}.{r.randint(10, 59)}pm", f"{r.randint(10, 23)}h{r.randint(10, 59)}"]),
    "order": lambda r: r.choice([digits(r, 8), f"#{digits(r, 9)}", f"A-{digits(r, 7)}", digits(r, 10)]),
    "duration": lambda r: r.choice([f"{r.randint(2, 9)} hours {r.randint(10, 59)} minutes", f"{r.randint(20, 90)} min", f"{r.randint(2, 14)} days"]),
    "model": lambda r: r.choice([f"XPS-{digits(r, 4)}", f"TP-Link AX{digits(r, 4)}", f"SM-G{digits(r, 3)}F", f"Fritz!Box {digits(r, 4)}"]),
    "tracking": lambda r: r.choice([f"1Z{digits(r, 3)}AA{digits(r, 10)}", f"JD{digits(r, 18)}", f"RR{digits(r, 9)}GB"]),
    "date": lambda r: r.choice([f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/2026", f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}", f"{r.randint(1, 28)}.{r.randint(1, 12)}.2026"]),
    "version": lambda r: f"{r.randint(1, 20)}.{r.randint(0, 20)}.{r.randint(0, 99)}",
    "quantity": lambda r: r.choice([f"{r.randint(2, 12)} x 500 ml", f"{r.randint(2, 40)} units", f"{r.randint(2, 9)} boxes of {r.randint(10, 99)}"]),
}
NEG_TEMPLATES = {
    "es": {"price": "Me costó {v} y encima", "time": "el técnico vino a las {v}", "order": "pedido número {v} sin llegar",
           "duration": "esperando {v} al teléfono", "model": "el router {v} se cae", "tracking": "seguimiento {v} sin datos",
           "date": "la entrega era el {v}", "version": "la versión {v} falla", "quantity": "pedí {v} y llegó uno"},
    "fr": {"price": "J'ai payé {v} pour rien", "time": "le technicien est venu à {v}", "order": "commande n° {v} jamais reçue",
           "duration": "en attente depuis {v}", "model": "ma box {v} plante", "tracking": "numéro de suivi {v} inconnu",
           "date": "livraison prévue le {v}", "version": "la version {v} plante", "quantity": "commandé {v}, reçu un"},
    "de": {"price": "Es hat {v} gekostet", "time": "der Techniker kam um {v}", "order": "Bestellnummer {v} fehlt",
           "duration": "seit {v} in der Warteschleife", "model": "mein Router {v} stürzt ab", "tracking": "Sendungsnummer {v} unbekannt",
           "date": "Lieferung war für den {v} geplant", "version": "Version {v} stürzt ab", "quantity": "ich habe {v} bestellt"},
    "it": {"price": "Ho pagato {v} per niente", "time": "il tecnico è arrivato alle {v}", "order": "ordine numero {v} mai arrivato",
           "duration": "in attesa da {v}", "model": "il modem {v} si blocca", "tracking": "tracking {v} senza info",
           "date": "consegna prevista il {v}", "version": "la versione {v} va in crash", "quantity": "ho ordinato {v}"},
    "pt": {"price": "Paguei {v} por nada", "time": "o técnico veio às {v}", "order": "encomenda número {v} não chegou",
           "duration": "em espera há {v}", "model": "o router {v} falha", "tracking": "rastreio {v} sem dados",
           "date": "entrega prevista para {v}", "version": "a versão {v} falha", "quantity": "encomendei {v}"},
    "nl": {"price": "Het kostte {v} voor niets", "time": "de monteur kwam om {v}", "order": "bestelnummer {v} ontbreekt",
           "duration": "al {v} in de wacht", "model": "mijn modem {v} valt uit", "tracking": "trackingnummer {v} onbekend",
           "date": "levering gepland op {v}", "version": "versie {v} crasht", "quantity": "ik bestelde {v}"},
    "pl": {"price": "Zapłaciłem {v} za nic", "time": "technik przyszedł o {v}", "order": "zamówienie nr {v} nie dotarło",
           "duration": "czekam na linii {v}", "model": "router {v} się zawiesza", "tracking": "numer przesyłki {v} nieznany",
           "date": "dostawa miała być {v}", "version": "wersja {v} się wiesza", "quantity": "zamówiłem {v}"},
}


def case(text_tpl: str, value: str, kind: str, extra: list[tuple[str, str]] | None = None) -> dict:
    """Fill ``{v}`` with the value and record its gold span."""
    start = text_tpl.index("{v}")
    text = text_tpl[:start] + value + text_tpl[start + 3 :]
    spans = [[start, start + len(value), kind]]
    for sub_value, sub_kind in extra or []:
        i = text.index(sub_value, start + len(value))
        spans.append([i, i + len(sub_value), sub_kind])
    return {"text": text, "spans": spans}


def build() -> list[dict]:
    r = random.Random(SEED)
    cases: list[dict] = []

    def add(lang: str, kind: str, c: dict, negative: bool = False) -> None:
        c.update(lang=lang, kind=kind, negative=negative)
        cases.append(c)

    for lang in LANGS:
        for _ in range(5):
            add(lang, "phone", case(r.choice(PHONE_CUES[lang]), obfuscate_digits(r, r.choice(PHONE_FORMATS[lang])(r)), "phone"))
        for _ in range(4):
            add(lang, "email", case(r.choice(EMAIL_CUES[lang]), email_value(r, lang), "email"))
        for i in range(3):
            v = card_value(r)
            tail = [] if i else [(f"{r.randint(1, 12):02d}/{r.randint(27, 31)}", "card"), (digits(r, 3), "card")]
            tpl = CARD_CUES[lang] + ("".join(f" {w} {{{k}}}" for k, w in zip("ab", ("exp", "cvv"), strict=True)) if tail else "")
            tpl = tpl.replace("{a}", tail[0][0]).replace("{b}", tail[1][0]) if tail else tpl
            add(lang, "card", case(tpl, obfuscate_digits(r, v) if i == 2 else v, "card", tail))
        country, length = IBAN_COUNTRY[lang]
        for i in range(3):
            iban = make_iban(r, country, length)
            v = [" ".join(iban[j : j + 4] for j in range(0, len(iban), 4)), iban.lower(),
                 "-".join(iban[j : j + 4] for j in range(0, len(iban), 4))][i]
            add(lang, "iban", case(IBAN_CUES[lang], v, "iban"))
        for _ in range(2):
            add(lang, "account", case(ACCOUNT_CUES[lang], r.choice([digits(r, 8), f"{digits(r, 4)} {digits(r, 4)}", digits(r, 10)]), "account"))
        for _ in range(3):
            add(lang, "dob", case(r.choice(DOB_CUES[lang]), dob_value(r, lang), "dob"))
        for _ in range(2):
            v = r.choice(["", "X", "P"]) + r.choice("ABCDEFGHJKLMNPRSTUVWXYZ") + digits(r, 7)
            add(lang, "passport", case(r.choice(PASSPORT_PREFIX[lang]) + PASSPORT_CUES[lang], v, "passport"))
        for _ in range(5):
            v = f"{r.choice(FIRST[lang])} {r.choice(LAST[lang])}" if r.random() < 0.8 else r.choice(FIRST[lang])
            add(lang, "name", case(r.choice(NAME_CUES[lang]), v, "name"))
        for _ in range(4):
            v = r.choice(ADDRESSES[lang]).format(n=r.randint(1, 250))
            add(lang, "address", case(ADDRESS_CUES[lang], v, "address"))
        for _ in range(3):
            v = r.choice(["hunter2", "Winter2024!", "s3cr3tP4ss", "x7Kp9Qz2Lm4N", "a8f3e91c2d7b44e0"])
            add(lang, "secret", case(r.choice(SECRET_CUES[lang]), v, "secret"))
        for neg_kind in NEG_VALUES:
            for _ in range(2):
                tpl = (dict(NEGATIVES["en"])[neg_kind] if lang == "en" else NEG_TEMPLATES[lang][neg_kind])
                add(lang, neg_kind, case(tpl, NEG_VALUES[neg_kind](r), neg_kind), negative=True)
    # kinds written in one country's format (UK and US), with their own hard negatives
    for _ in range(8):
        add("en", "sortcode", case(r.choice(["sort code {v}", "Sort code: {v} acc 12345678"]),
                                   r.choice([f"{digits(r, 2)}-{digits(r, 2)}-{digits(r, 2)}", f"{digits(r, 2)}.{digits(r, 2)}.{digits(r, 2)}", f"{digits(r, 2)} {digits(r, 2)} {digits(r, 2)}"]), "sortcode"))
    for _ in range(8):
        area = r.choice(["123", "234", "345", "456", "521", "601"])
        add("en", "ssn", case(r.choice(["my SSN is {v}", "social security number {v}", "SSN: {v} for the credit check"]),
                              r.choice([f"{area}-{digits(r, 1)}5-{digits(r, 3)}7", f"{area} 4{digits(r, 1)} {digits(r, 3)}1"]), "ssn"))
    for _ in range(8):
        v = f"{r.choice(['AB', 'CE', 'JK', 'PR', 'WX'])}{digits(r, 6)}{r.choice('ABCD')}"
        v = r.choice([v, f"{v[:2]} {v[2:4]} {v[4:6]} {v[6:8]} {v[8]}", v.lower()])
        add("en", "nino", case(r.choice(["NI number {v}", "my national insurance number is {v}", "NINO {v} please update"]), v, "nino"))
    for _ in range(6):
        pc = r.choice(["SW1A 1AA", "M1 1AE", "EC2A 4BX", "B33 8TH", "ls1 4dy"])
        add("en", "postcode", case("my postcode is {v} and the van went elsewhere", pc, "postcode"))
    return cases


def main() -> None:
    cases = build()
    for i, c in enumerate(cases):
        c["id"] = f"pii-{i:04d}"
    order = list(range(len(cases)))
    random.Random(SPLIT_SEED).shuffle(order)
    n_held = round(len(cases) * HELDOUT_SHARE)
    held = set(order[:n_held])
    for name, keep in (("dev.jsonl", lambda i: i not in held), ("heldout.jsonl", lambda i: i in held)):
        with (HERE / name).open("w", encoding="utf-8") as f:
            for i, c in enumerate(cases):
                if keep(i):
                    row = {k: c[k] for k in ("id", "lang", "kind", "negative", "text", "spans")}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases: {len(cases) - n_held} dev, {n_held} held out")


if __name__ == "__main__":
    main()
