# Generated test data: long literal lines, a seeded (non-crypto) RNG, and template lambdas
# that are called in the iteration that defines them.
# ruff: noqa: E501, S311, B023
"""Deterministic labelled corpus for the discovery scanner (logs, CSV, JSON, tickets).

Every planted identifier is recorded with the coordinates a ``Finding`` reports (file,
line or row, column or JSON path, character offset, kind). Values come from generators
that know nothing about the detectors (random digits with a computed check digit, random
phone numbers accepted by libphonenumber, names from lists); near misses are generated
the same way: Luhn-failing order numbers, 13-digit millisecond timestamps, UUIDs, IBANs
with a mutated digit, invalid SSN areas, FinVeil's own tokens (real ``tokenize_frame``
output), dates under non-birth labels, merchant and product names, asset names like
``logo@2x.png``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import phonenumbers

from engine.keys import KeyMaterial
from engine.tokenize import Kind, tokenize_frame

FIRST = ["James", "Maria", "Wei", "Fatima", "Olga", "Liam", "Sofia", "Jürgen", "Zoë", "Ahmed",
         "Priya", "Lucas", "Emma", "Mateo", "Chloé", "Noah", "Aiko", "Kwame", "Ingrid", "Pedro",
         "Hannah", "Dmitri", "Amélie", "Omar", "Sean", "Mei", "Lars", "Ana", "Tomasz", "Grace"]  # fmt: skip
LAST = ["Smith", "García", "Müller", "Nguyen", "O'Brien", "Kowalski", "Rossi", "Dubois",
        "Johansson", "Okafor", "Tanaka", "Novak", "Schmidt", "Fernández", "Silva", "Cohen",
        "Van der Berg", "Papadopoulos", "Andersen", "Martin", "Khan", "Lefebvre", "Moreau",
        "Hughes", "Costa", "Jansen", "Ivanova", "Wright", "Bianchi", "Nakamura"]  # fmt: skip
MERCHANTS = ["Blue Bottle Coffee", "Acme Hardware Store", "Northwind Traders", "City Parking",
             "Global Travel Group", "Green Grocer Market", "Skyline Hotels", "Book Depot"]  # fmt: skip
PRODUCTS = ["Premium Card", "Gold Savings Plan", "Travel Insurance Plus", "Business Account",
            "Student Loan Flex", "Platinum Rewards"]  # fmt: skip
DOMAINS = ["example.com", "mail.de", "corp.co.uk", "gmail.com", "outlook.fr", "bank-intern.ch",
           "uni.edu", "post.example.org"]  # fmt: skip
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
PHONE_REGIONS = ["US", "GB", "DE", "FR", "NL", "ES", "IT", "CH", "AT"]
IBAN_FORMATS = {"DE": "n18", "FR": "n10a11n2", "GB": "a4n14", "NL": "a4n10", "ES": "n20",
                "IT": "a1n10a12", "CH": "n17", "AT": "n16", "BE": "n12", "PL": "n24"}  # fmt: skip


@dataclass(frozen=True)
class Label:
    """One planted identifier: where a correct finding must point."""

    source: str
    kind: str
    offset: int
    length: int
    line: int | None = None
    row: int | None = None
    column: str | None = None
    value: str = field(default="", compare=False, repr=False)


@dataclass
class Corpus:
    """The generated files, their labels and the scan options a manifest implies."""

    root: Path
    labels: list[Label] = field(default_factory=list)
    tokenized: dict[str, list[str]] = field(default_factory=dict)
    near_misses: dict[str, int] = field(default_factory=dict)


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


class Gen:
    """Value generators (identifiers and near misses) over one seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def digits(self, n: int) -> str:
        return "".join(self.r.choice(string.digits) for _ in range(n))

    def pan_digits(self) -> str:
        prefix, length = self.r.choice(
            [("4", 16), ("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16),
             ("2720", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16),
             ("62", 16), ("36", 14), ("5018", 18)]
        )  # fmt: skip
        body = prefix + self.digits(length - len(prefix) - 1)
        return body + luhn_digit(body)

    def fmt_pan(self, d: str) -> str:
        style = self.r.random()
        if len(d) == 15 and style < 0.5:
            return f"{d[:4]} {d[4:10]} {d[10:]}"
        if len(d) in (16, 19) and style < 0.35:
            return " ".join(d[i : i + 4] for i in range(0, len(d), 4))
        if len(d) == 16 and style < 0.55:
            return "-".join(d[i : i + 4] for i in range(0, 16, 4))
        return d

    def order_number(self) -> str:
        """A 16-digit order number that fails Luhn (as real ones mostly would)."""
        while True:
            d = self.r.choice("456") + self.digits(15)
            if luhn_digit(d[:-1]) != d[-1]:
                return d

    def iban(self, *, valid: bool = True) -> str:
        cc = self.r.choice(sorted(IBAN_FORMATS))
        spec = IBAN_FORMATS[cc]
        bban = ""
        i = 0
        while i < len(spec):
            kind = spec[i]
            j = i + 1
            while j < len(spec) and spec[j].isdigit():
                j += 1
            n = int(spec[i + 1 : j])
            pool = string.digits if kind == "n" else string.ascii_uppercase
            bban += "".join(self.r.choice(pool) for _ in range(n))
            i = j
        num = int("".join(str(int(ch, 36)) for ch in bban + cc + "00"))
        iban = f"{cc}{98 - num % 97:02d}{bban}"
        if not valid:
            pos = self.r.choice([k for k in range(4, len(iban)) if iban[k].isdigit()])
            iban = iban[:pos] + str((int(iban[pos]) + self.r.randint(1, 9)) % 10) + iban[pos + 1 :]
        if self.r.random() < 0.5:
            return " ".join(iban[k : k + 4] for k in range(0, len(iban), 4))
        return iban

    def ssn(self) -> str:
        while True:
            area = self.r.randint(1, 899)
            if area != 666:
                break
        return f"{area:03d}-{self.r.randint(1, 99):02d}-{self.r.randint(1, 9999):04d}"

    def bad_ssn(self) -> str:
        area = self.r.choice(["000", "666", f"9{self.r.randint(0, 99):02d}"])
        return f"{area}-{self.r.randint(1, 99):02d}-{self.r.randint(1, 9999):04d}"

    def name(self) -> str:
        return f"{self.r.choice(FIRST)} {self.r.choice(LAST)}"

    def email(self, name: str | None = None) -> str:
        first, _, last = (name or self.name()).lower().partition(" ")
        first = first.encode("ascii", "ignore").decode() or "x"
        last = "".join(ch for ch in last.encode("ascii", "ignore").decode() if ch.isalpha()) or "y"
        local = self.r.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{self.r.randint(1, 99)}",
                               f"{first}+bank", f"{last}.{first}"])  # fmt: skip
        return f"{local}@{self.r.choice(DOMAINS)}"

    def phone(self, *, national: bool = False) -> str:
        while True:
            region = self.r.choice(PHONE_REGIONS)
            kind = self.r.choice(
                [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
            )
            example = phonenumbers.example_number_for_type(region, kind)
            assert example is not None
            nsn = str(example.national_number)
            cand = nsn[:-4] + self.digits(4)
            number = phonenumbers.parse("+" + str(example.country_code) + cand, None)
            if phonenumbers.is_valid_number(number):
                break
        fmt = phonenumbers.PhoneNumberFormat
        if national:
            return phonenumbers.format_number(number, fmt.NATIONAL)
        return phonenumbers.format_number(number, self.r.choice([fmt.INTERNATIONAL, fmt.E164]))

    def us_phone(self) -> str:
        while True:
            area = self.r.choice(["201", "212", "312", "415", "617", "646", "702", "919"])
            number = f"({area}) {self.r.randint(200, 999)}-{self.digits(4)}"
            if phonenumbers.is_valid_number(phonenumbers.parse(number, "US")):
                return number

    def dob(self) -> str:
        day = dt.date(1930, 1, 1) + dt.timedelta(days=self.r.randint(0, 27000))
        style = self.r.randrange(5)
        if style == 0:
            return day.isoformat()
        if style == 1:
            return day.strftime("%d.%m.%Y")
        if style == 2:
            return day.strftime("%m/%d/%Y")
        if style == 3:
            return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
        return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"

    def ms_timestamp(self) -> str:
        return str(self.r.randint(1_600_000_000_000, 1_800_000_000_000))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def hexid(self) -> str:
        return f"{self.r.getrandbits(64):016x}"


class Line:
    """Build one line (or cell) from segments, recording planted spans."""

    def __init__(self) -> None:
        self.text = ""
        self.spans: list[tuple[str, int, str]] = []

    def add(self, text: str, kind: str | None = None) -> Line:
        if kind is not None:
            self.spans.append((kind, len(self.text), text))
        self.text += text
        return self


def _tokens(g: Gen, n: int) -> dict[str, list[str]]:
    key = {
        k: KeyMaterial(key_id=f"tokenize.{k.value}", version=1, secret=bytes(range(32)))
        for k in Kind
    }
    frame = pd.DataFrame({
        "pan": [g.pan_digits() for _ in range(n)],
        "iban": [g.iban().replace(" ", "") for _ in range(n)],
        "ssn": [g.ssn() for _ in range(n)],
        "email": [g.email() for _ in range(n)],
        "id": [f"CUST-{g.digits(8)}" for _ in range(n)],
        "text": [f"note {g.digits(4)}" for _ in range(n)],
    })  # fmt: skip
    out = tokenize_frame(frame, {c: c for c in frame.columns}, key)
    assert out.quarantine.empty
    return {c: out.frame[c].tolist() for c in frame.columns}


def build(root: Path, *, seed: int = 9, scale: int = 1) -> Corpus:
    """Write the corpus under ``root``; return it with its labels."""
    g = Gen(seed)
    corpus = Corpus(root=root)
    tokens = _tokens(g, 60 * scale)
    _logs(g, corpus, tokens, 400 * scale)
    _tickets(g, corpus, 120 * scale)
    _csv_export(g, corpus, 250 * scale)
    _json_payloads(g, corpus, tokens, 150 * scale)
    _tokenized_export(g, corpus, tokens)
    return corpus


def _write_lines(corpus: Corpus, name: str, lines: list[Line]) -> None:
    path = corpus.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(ln.text for ln in lines) + "\n", encoding="utf-8")
    for i, ln in enumerate(lines, start=1):
        for kind, off, v in ln.spans:
            corpus.labels.append(
                Label(source=str(path), kind=kind, offset=off, length=len(v), line=i, value=v)
            )


def _miss(corpus: Corpus, what: str) -> None:
    corpus.near_misses[what] = corpus.near_misses.get(what, 0) + 1


def _logs(g: Gen, corpus: Corpus, tokens: dict[str, list[str]], n: int) -> None:
    lines = []
    t0 = dt.datetime(2026, 3, 1, 8, 0, 0)
    for i in range(n):
        ts = (t0 + dt.timedelta(seconds=i * 7.3)).isoformat(timespec="milliseconds") + "Z"
        ln = Line().add(f"{ts} {g.r.choice(['INFO', 'WARN', 'DEBUG', 'ERROR'])} ")
        ln.add(f"svc=payments-{g.r.randint(1, 9)} req={g.uuid()} ")
        choice = g.r.randrange(19)
        if choice == 0:
            ln.add("charge failed card=").add(g.fmt_pan(g.pan_digits()), "pan").add(
                f" amount={g.r.randint(1, 99999) / 100}"
            )
        elif choice == 1:
            ln.add(f"order {g.order_number()} created ts={g.ms_timestamp()}")
            _miss(corpus, "order number (fails Luhn)")
        elif choice == 2:
            ln.add("payout to IBAN ").add(g.iban(), "iban").add(" scheduled")
        elif choice == 3:
            ln.add(f"payout to {g.iban(valid=False)} rejected: checksum")
            _miss(corpus, "IBAN with bad check digits")
        elif choice == 4:
            ln.add(f"tokenized pan={g.r.choice(tokens['pan'])} iban={g.r.choice(tokens['iban'])}")
            _miss(corpus, "FinVeil PAN/IBAN token")
        elif choice == 5:
            ln.add("login ok user=").add(g.email(), "email").add(
                f" ip=10.{g.r.randint(0, 255)}.{g.r.randint(0, 255)}.{g.r.randint(1, 254)}"
            )
        elif choice == 6:
            ln.add(f"GET /static/logo@2x.png 200 {g.r.randint(1, 900)}ms etag={g.hexid()}")
            _miss(corpus, "asset name with @")
        elif choice == 7:
            ln.add("sms sent to ").add(g.phone(), "phone").add(f" id={g.hexid()}")
        elif choice == 8:
            ln.add(
                f"batch {g.uuid()} done rows={g.r.randint(1, 10**6)} elapsed_ms={g.ms_timestamp()[:6]} build=2.{g.r.randint(0, 30)}.{g.r.randint(0, 9)}"
            )
            _miss(corpus, "UUID / counters")
        elif choice == 9:
            ln.add("kyc check ssn=").add(g.ssn(), "ssn").add(" result=match")
        elif choice == 10:
            ln.add(f"kyc reject ssn_candidate={g.bad_ssn()} reason=invalid_area")
            _miss(corpus, "SSN with invalid area")
        elif choice == 11:
            ln.add(f"token id={g.r.choice(tokens['id'])} note={g.r.choice(tokens['text'])}")
            _miss(corpus, "FinVeil id/text token")
        elif choice == 12:
            ln.add(
                f"ts={g.ms_timestamp()} epoch={g.ms_timestamp()[:10]} seq={g.digits(9)} tz=+01:00"
            )
            _miss(corpus, "13-digit ms timestamps, 9-digit ids")
        elif choice == 13:
            ln.add("profile update customer_name=").add(g.name(), "name").add(
                f' plan="{g.r.choice(PRODUCTS)}"'
            )
        elif choice == 14:
            email = g.email()
            style = g.r.randrange(3)
            if style == 0:
                ln.add("notify <").add(email.upper(), "email").add(">")
            elif style == 1:
                ln.add('href="mailto:').add(email, "email").add('"')
            else:
                ln.add("reply-to: ").add(email, "email").add(
                    f", cc: ops@{g.r.choice(['localhost', 'internal', 'mailhost'])}"
                )
        elif choice == 15:
            style = g.r.randrange(3)
            if style == 0:
                ln.add("callback uri=tel:").add(g.phone().replace(" ", ""), "phone")
            elif style == 1:
                ln.add("contact phone=").add("00" + g.phone()[1:], "phone")
            else:
                ln.add(
                    f"retry {g.r.randint(1, 5)}/5 after {g.r.randint(100, 9000)} ms, queue depth {g.digits(7)}"
                )
                _miss(corpus, "counters")
        elif choice == 16:
            pan = g.pan_digits()
            ln.add(
                f"card masked={pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]} last4={pan[-4:]} bin={pan[:6]}"
            )
            _miss(corpus, "masked PAN")
        elif choice == 17:
            ln.add("card_on_file ").add(g.fmt_pan(g.pan_digits()), "pan").add(
                f"|{g.r.randint(1, 12):02d}/{g.r.randint(26, 31)}"
            )
        else:
            ln.add(f"settlement ref={g.digits(16)} batch={g.digits(12)} acct={g.digits(10)}")
            _miss(corpus, "long numeric references")
        lines.append(ln)
    _write_lines(corpus, "logs/payments.log", lines)


def _tickets(g: Gen, corpus: Corpus, n: int) -> None:
    lines = []
    for i in range(n):
        name = g.name()
        templates: list[Callable[[Line], object]] = [
            lambda ln: (
                ln.add("Hi, my name is ")
                .add(name, "name")
                .add(" and my card ")
                .add(g.fmt_pan(g.pan_digits()), "pan")
                .add(" was charged twice.")
            ),
            lambda ln: (
                ln.add("Please call me back on ")
                .add(g.phone(), "phone")
                .add(", or at ")
                .add(g.us_phone(), "phone")
                .add(" after 5pm.")
            ),
            lambda ln: (
                ln.add("Tel: ")
                .add(g.phone(national=True), "phone")
                .add(f" - reference {g.order_number()}")
            ),
            lambda ln: (
                ln.add("Date of birth: ")
                .add(g.dob(), "dob")
                .add(
                    f"; account opened {dt.date(2015, 1, 1) + dt.timedelta(days=g.r.randint(0, 3000))}"
                )
            ),
            lambda ln: (
                ln.add("Customer was born on ")
                .add(g.dob(), "dob")
                .add(f" and wants the {g.r.choice(PRODUCTS)}.")
            ),
            lambda ln: (
                ln.add("Geburtsdatum: ")
                .add(g.dob(), "dob")
                .add(" - Rückruf erbeten an ")
                .add(g.email(name), "email")
            ),
            lambda ln: ln.add(
                f"Refund to merchant {g.r.choice(MERCHANTS)} for order {g.order_number()}, ticket {g.uuid()}."
            ),
            lambda ln: (
                ln.add("SSN ")
                .add(g.ssn().replace("-", ""), "ssn")
                .add(" provided for verification; mail ")
                .add(g.email(name), "email")
            ),
            lambda ln: (
                ln.add("Transfer to ")
                .add(g.iban(), "iban")
                .add(
                    f" on {dt.date(2026, 2, g.r.randint(1, 28))} for EUR {g.r.randint(10, 5000)}.00"
                )
            ),
            lambda ln: ln.add(
                f"Version 3.{g.r.randint(0, 20)}.{g.r.randint(0, 99)} crashed at 12:{g.r.randint(10, 59)}, build {g.digits(10)}."
            ),
            lambda ln: (
                ln.add("Cardholder: ")
                .add(name.upper(), "name")
                .add(", d.o.b. ")
                .add(g.dob(), "dob")
            ),
            lambda ln: (
                ln.add("You can reach me at ")
                .add(g.phone(national=True), "phone")
                .add(" in the mornings.")
            ),
            lambda ln: (
                ln.add("Social security number ")
                .add(g.ssn().replace("-", " "), "ssn")
                .add(f", case {g.digits(9)}")
            ),
            lambda ln: ln.add(
                f"Date of birth: not provided; last login {dt.date(2025, 1, 1) + dt.timedelta(days=g.r.randint(0, 400))}."
            ),
            lambda ln: ln.add("my iban is ").add(g.iban().lower(), "iban").add(", please refund"),
            lambda ln: (
                ln.add("Name: ")
                .add(f"{name.split()[-1]}, {name.split()[0]}", "name")
                .add(f" (account {g.digits(8)})")
            ),
        ]
        ln = Line().add(f"#{1000 + i} ")
        g.r.choice(templates)(ln)
        lines.append(ln)
    _write_lines(corpus, "tickets/support.txt", lines)


def _write_csv(corpus: Corpus, name: str, header: list[str], rows: list[dict[str, Line]]) -> None:
    path = corpus.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for r, row in enumerate(rows):
            writer.writerow([row[c].text for c in header])
            for c in header:
                for kind, off, v in row[c].spans:
                    corpus.labels.append(
                        Label(
                            source=str(path),
                            kind=kind,
                            offset=off,
                            length=len(v),
                            row=r,
                            column=c,
                            value=v,
                        )
                    )


def _csv_export(g: Gen, corpus: Corpus, n: int) -> None:
    header = ["customer_id", "full_name", "email", "phone", "date_of_birth", "ssn", "card_number",
              "iban", "merchant_name", "created_at", "order_no", "notes"]  # fmt: skip
    rows = []
    for _ in range(n):
        name = g.name()
        row = {
            "customer_id": Line().add(g.digits(9)),
            "full_name": Line().add(name, "name"),
            "email": Line().add(g.email(name), "email"),
            "phone": Line().add(*((g.phone(national=True), "phone") if g.r.random() < 0.5 else (g.phone(), "phone"))),
            "date_of_birth": Line().add(g.dob(), "dob"),
            "ssn": Line().add(*((g.ssn(), "ssn") if g.r.random() < 0.5 else (g.ssn().replace("-", ""), "ssn"))),
            "card_number": Line().add(g.fmt_pan(g.pan_digits()), "pan"),
            "iban": Line().add(g.iban(), "iban"),
            "merchant_name": Line().add(g.r.choice(MERCHANTS)),
            "created_at": Line().add((dt.datetime(2024, 1, 1) + dt.timedelta(minutes=g.r.randint(0, 10**6))).isoformat()),
            "order_no": Line().add(g.order_number()),
            "notes": Line(),
        }  # fmt: skip
        note = g.r.randrange(5)
        if note == 0:
            row["notes"].add("called from ").add(g.phone(), "phone")
        elif note == 1:
            row["notes"].add("old card ").add(g.fmt_pan(g.pan_digits()), "pan").add(" blocked")
        elif note == 2:
            row["notes"].add(f"ref {g.ms_timestamp()} / {g.uuid()}")
        rows.append(row)
    _write_csv(corpus, "exports/customers.csv", header, rows)


def _json_payloads(g: Gen, corpus: Corpus, tokens: dict[str, list[str]], n: int) -> None:
    path = corpus.root / "api" / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in range(n):
        name = g.name()
        doc: dict[str, Any] = {"event_id": g.uuid(), "ts": int(g.ms_timestamp()), "type": "payment"}
        plant: list[tuple[str, str, str]] = []
        customer: dict[str, Any] = {"id": f"C{g.digits(7)}"}
        if g.r.random() < 0.7:
            customer["name"] = name
            plant.append(("$.customer.name", "name", name))
        if g.r.random() < 0.6:
            email = g.email(name)
            customer["email"] = email
            plant.append(("$.customer.email", "email", email))
        if g.r.random() < 0.4:
            dob = g.dob()
            customer["birth_date"] = dob
            plant.append(("$.customer.birth_date", "dob", dob))
        if g.r.random() < 0.3:
            ph = g.phone()
            customer["mobile"] = ph
            plant.append(("$.customer.mobile", "phone", ph))
        doc["customer"] = customer
        if g.r.random() < 0.3:
            ph = g.phone(national=True)
            doc["contact"] = {"phone": ph, "preferred": "sms"}
            plant.append(("$.contact.phone", "phone", ph))
        if g.r.random() < 0.25:
            pan = g.fmt_pan(g.pan_digits())
            note = f"customer disputes charge on {pan} from {dt.date(2026, 1, g.r.randint(1, 28))}"
            doc["note"] = note
            corpus.labels.append(
                Label(
                    source=str(path),
                    kind="pan",
                    offset=note.index(pan),
                    length=len(pan),
                    row=row,
                    column="$.note",
                    value=pan,
                )
            )
        doc["merchant"] = {
            "name": g.r.choice(MERCHANTS),
            "mcc": g.r.choice(["5812", "5411", "4111"]),
        }
        doc["product"] = {"name": g.r.choice(PRODUCTS)}
        if g.r.random() < 0.5:
            pan = g.pan_digits()
            doc["payment"] = {"pan": int(pan) if g.r.random() < 0.3 else pan, "exp": "12/29"}
            plant.append(("$.payment.pan", "pan", pan))
        else:
            doc["payment"] = {
                "pan": g.r.choice(tokens["pan"]),
                "token_ref": g.r.choice(tokens["id"]),
            }
            _miss(corpus, "FinVeil PAN token in JSON")
        if g.r.random() < 0.3:
            iban = g.iban()
            doc["payout"] = {"iban": iban}
            plant.append(("$.payout.iban", "iban", iban))
        elif g.r.random() < 0.3:
            doc["payout"] = {"iban": g.r.choice(tokens["iban"])}
        if g.r.random() < 0.2:
            ssn = g.ssn()
            doc["kyc"] = {"ssn": ssn, "checked_at": "2026-01-02"}
            plant.append(("$.kyc.ssn", "ssn", ssn))
        doc["service"] = {
            "name": "checkout-api",
            "host": f"ip-10-0-{g.r.randint(0, 9)}-{g.r.randint(1, 99)}",
        }
        doc["user"] = {"username": f"{name.split()[0].lower()}{g.r.randint(1, 99)}"}
        lines.append(json.dumps(doc, ensure_ascii=False))
        for jpath, kind, value in plant:
            corpus.labels.append(
                Label(
                    source=str(path),
                    kind=kind,
                    offset=0,
                    length=len(value),
                    row=row,
                    column=jpath,
                    value=value,
                )
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _tokenized_export(g: Gen, corpus: Corpus, tokens: dict[str, list[str]]) -> None:
    """A CSV whose columns a manifest declares tokenized: tokens only, no labels."""
    n = len(tokens["pan"])
    header = ["pan", "iban", "ssn", "email", "customer_ref"]
    rows = [{"pan": Line().add(tokens["pan"][i]), "iban": Line().add(tokens["iban"][i]),
             "ssn": Line().add(tokens["ssn"][i]), "email": Line().add(tokens["email"][i]),
             "customer_ref": Line().add(tokens["id"][i])} for i in range(n)]  # fmt: skip
    _write_csv(corpus, "tokenized/customers.csv", header, rows)
    corpus.tokenized[str(corpus.root / "tokenized")] = ["ssn", "email"]
    _miss(corpus, "tokenized export rows")


@dataclass
class Score:
    """True positives, false positives and false negatives of one kind."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


Spot = tuple[str, str, int | None, int | None, str | None, int, int]


def score(labels: list[Label], found: list[Spot]) -> dict[str, Score]:
    """Match findings ``(source, kind, line, row, column, offset, length)`` to labels.

    A finding matches a label of the same kind and place whose character span overlaps.
    """
    out: dict[str, Score] = {}
    index: dict[tuple[str, int | None, int | None, str | None], list[Label]] = {}
    for lab in labels:
        index.setdefault((lab.source, lab.line, lab.row, lab.column), []).append(lab)
        out.setdefault(lab.kind, Score())
    matched: set[Label] = set()
    for source, kind, line, row, column, offset, length in found:
        sc = out.setdefault(kind, Score())
        hit = next(
            (lab for lab in index.get((source, line, row, column), [])
             if lab.kind == kind and lab not in matched
             and offset < lab.offset + lab.length and lab.offset < offset + length),
            None,
        )  # fmt: skip
        if hit is None:
            sc.fp += 1
        else:
            matched.add(hit)
            sc.tp += 1
    for lab in labels:
        if lab not in matched:
            out[lab.kind].fn += 1
    return out
